#include "parser.h"

#include <utility>

namespace kubemetrics::scrapers::kubelet {

namespace {

using simdjson::error_code;
using simdjson::SUCCESS;
using simdjson::ondemand::json_type;
using simdjson::ondemand::value;

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so no time zone database or locale is involved.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// A value that is not a number (null, a string) is treated as absent, as
// the Go client would leave a nil pointer; only a broken document fails.
error_code readNumber(value v, double& out) {
  json_type type;
  if (error_code e = v.type().get(type)) return e;
  if (type != json_type::number) return SUCCESS;
  return v.get_double().get(out);
}

error_code readString(value v, std::string_view& out) {
  json_type type;
  if (error_code e = v.type().get(type)) return e;
  if (type != json_type::string) return SUCCESS;
  return v.get_string().get(out);
}

error_code readTime(value v, std::int64_t& out_ms) {
  std::string_view text;
  if (error_code e = readString(v, text)) return e;
  out_ms = parseRfc3339Ms(text).value_or(0);
  return SUCCESS;
}

// Calls on_field(key, value) for each member of an object; anything else is
// skipped (the API never puts a scalar where an object belongs, and a
// future kubelet that does must not cost us the rest of the document).
template <class F>
error_code forEachField(value v, F&& on_field) {
  json_type type;
  if (error_code e = v.type().get(type)) return e;
  if (type != json_type::object) return SUCCESS;
  simdjson::ondemand::object object;
  if (error_code e = v.get_object().get(object)) return e;
  for (auto field : object) {
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    value member;
    if (error_code e = field.value().get(member)) return e;
    if (error_code e = on_field(key, member)) return e;
  }
  return SUCCESS;
}

template <class F>
error_code forEachElement(value v, F&& on_element) {
  json_type type;
  if (error_code e = v.type().get(type)) return e;
  if (type != json_type::array) return SUCCESS;
  simdjson::ondemand::array array;
  if (error_code e = v.get_array().get(array)) return e;
  for (auto element : array) {
    value item;
    if (error_code e = element.get(item)) return e;
    if (error_code e = on_element(item)) return e;
  }
  return SUCCESS;
}

template <class T>
void resetKeepingCapacity(T& item) {
  item = T{};
}

void resetKeepingCapacity(NetworkStats& network) {
  auto interfaces = std::move(network.interfaces);
  interfaces.clear();
  network = NetworkStats{};
  network.interfaces = std::move(interfaces);
}

void resetKeepingCapacity(ContainerStats& container) {
  auto accelerators = std::move(container.accelerators);
  accelerators.clear();
  container = ContainerStats{};
  container.accelerators = std::move(accelerators);
}

void resetKeepingCapacity(PodStats& pod) {
  auto containers = std::move(pod.containers);
  auto volumes = std::move(pod.volumes);
  NetworkStats network = std::move(pod.network);
  resetKeepingCapacity(network);
  pod = PodStats{};
  pod.containers = std::move(containers);
  pod.volumes = std::move(volumes);
  pod.network = std::move(network);
}

// Reuses the element at `count` (keeping its vectors' capacity) or appends
// one, so a steady node parses without allocating.
template <class T>
T& nextElement(std::vector<T>& items, std::size_t& count) {
  if (count == items.size()) items.emplace_back();
  T& item = items[count++];
  resetKeepingCapacity(item);
  return item;
}

error_code parsePsiData(value v, PsiData& out) {
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "total") return readNumber(field, out.total);
    if (key == "avg10") return readNumber(field, out.avg10);
    if (key == "avg60") return readNumber(field, out.avg60);
    if (key == "avg300") return readNumber(field, out.avg300);
    return SUCCESS;
  });
}

error_code parsePsi(value v, PsiStats& out) {
  out.present = true;
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "full") return parsePsiData(field, out.full);
    if (key == "some") return parsePsiData(field, out.some);
    return SUCCESS;
  });
}

error_code parseCpu(value v, UsageStats& out) {
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "time") return readTime(field, out.cpu.time_ms);
    if (key == "usageNanoCores") return readNumber(field, out.cpu.usage_nano_cores);
    if (key == "usageCoreNanoSeconds") return readNumber(field, out.cpu.usage_core_nano_seconds);
    if (key == "psi") return parsePsi(field, out.cpu_psi);
    return SUCCESS;
  });
}

error_code parseMemory(value v, UsageStats& out) {
  MemoryStats& m = out.memory;
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "time") return readTime(field, m.time_ms);
    if (key == "availableBytes") return readNumber(field, m.available_bytes);
    if (key == "usageBytes") return readNumber(field, m.usage_bytes);
    if (key == "workingSetBytes") return readNumber(field, m.working_set_bytes);
    if (key == "rssBytes") return readNumber(field, m.rss_bytes);
    if (key == "pageFaults") return readNumber(field, m.page_faults);
    if (key == "majorPageFaults") return readNumber(field, m.major_page_faults);
    if (key == "psi") return parsePsi(field, out.memory_psi);
    return SUCCESS;
  });
}

error_code parseIo(value v, UsageStats& out) {
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "time") return readTime(field, out.io_time_ms);
    if (key == "psi") return parsePsi(field, out.io_psi);
    return SUCCESS;
  });
}

error_code parseSwap(value v, SwapStats& out) {
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "time") return readTime(field, out.time_ms);
    if (key == "swapAvailableBytes") return readNumber(field, out.available_bytes);
    if (key == "swapUsageBytes") return readNumber(field, out.usage_bytes);
    return SUCCESS;
  });
}

// The members of a network interface; also the network block's own totals.
error_code parseInterfaceField(std::string_view key, value field, InterfaceStats& out) {
  if (key == "name") return readString(field, out.name);
  if (key == "rxBytes") return readNumber(field, out.rx_bytes);
  if (key == "rxErrors") return readNumber(field, out.rx_errors);
  if (key == "txBytes") return readNumber(field, out.tx_bytes);
  if (key == "txErrors") return readNumber(field, out.tx_errors);
  return SUCCESS;
}

error_code parseNetwork(value v, NetworkStats& out) {
  out.present = true;
  std::size_t count = 0;
  error_code e = forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "time") return readTime(field, out.time_ms);
    if (key == "interfaces") {
      return forEachElement(field, [&](value item) -> error_code {
        InterfaceStats& interface = nextElement(out.interfaces, count);
        return forEachField(item, [&](std::string_view k, value f) {
          return parseInterfaceField(k, f, interface);
        });
      });
    }
    return parseInterfaceField(key, field, out.totals);
  });
  out.interfaces.resize(count);
  return e;
}

// The members of FsStats; also those of a pod's volume.
error_code parseFsField(std::string_view key, value field, FsStats& out) {
  if (key == "time") return readTime(field, out.time_ms);
  if (key == "availableBytes") return readNumber(field, out.available_bytes);
  if (key == "capacityBytes") return readNumber(field, out.capacity_bytes);
  if (key == "usedBytes") return readNumber(field, out.used_bytes);
  if (key == "inodesFree") return readNumber(field, out.inodes_free);
  if (key == "inodes") return readNumber(field, out.inodes);
  if (key == "inodesUsed") return readNumber(field, out.inodes_used);
  return SUCCESS;
}

error_code parseFs(value v, FsStats& out) {
  out.present = true;
  return forEachField(
      v, [&](std::string_view key, value field) { return parseFsField(key, field, out); });
}

error_code parseAccelerator(value v, AcceleratorStats& out) {
  return forEachField(v, [&](std::string_view key, value field) -> error_code {
    if (key == "make") return readString(field, out.make);
    if (key == "model") return readString(field, out.model);
    if (key == "id") return readString(field, out.id);
    if (key == "memoryTotal") return readNumber(field, out.memory_total);
    if (key == "memoryUsed") return readNumber(field, out.memory_used);
    if (key == "dutyCycle") return readNumber(field, out.duty_cycle);
    return SUCCESS;
  });
}

// Members shared by node, pod and container blocks; `handled` tells the
// caller whether the key was one of them.
error_code parseUsageField(std::string_view key, value field, UsageStats& out, bool& handled) {
  handled = true;
  if (key == "startTime") return readTime(field, out.start_ms);
  if (key == "cpu") return parseCpu(field, out);
  if (key == "memory") return parseMemory(field, out);
  if (key == "swap") return parseSwap(field, out.swap);
  if (key == "io") return parseIo(field, out);
  handled = false;
  return SUCCESS;
}

error_code parseContainer(value v, ContainerStats& out) {
  std::size_t accelerators = 0;
  error_code e = forEachField(v, [&](std::string_view key, value field) -> error_code {
    bool handled = false;
    if (error_code err = parseUsageField(key, field, out, handled); err || handled) return err;
    if (key == "name") return readString(field, out.name);
    if (key == "rootfs") return parseFs(field, out.rootfs);
    if (key == "logs") return parseFs(field, out.logs);
    if (key == "accelerators") {
      return forEachElement(field, [&](value item) {
        return parseAccelerator(item, nextElement(out.accelerators, accelerators));
      });
    }
    return SUCCESS;
  });
  out.accelerators.resize(accelerators);
  return e;
}

error_code parsePod(value v, PodStats& out) {
  std::size_t containers = 0;
  std::size_t volumes = 0;
  error_code e = forEachField(v, [&](std::string_view key, value field) -> error_code {
    bool handled = false;
    if (error_code err = parseUsageField(key, field, out, handled); err || handled) return err;
    if (key == "podRef") {
      return forEachField(field, [&](std::string_view k, value f) -> error_code {
        if (k == "name") return readString(f, out.name);
        if (k == "namespace") return readString(f, out.namespace_name);
        if (k == "uid") return readString(f, out.uid);
        return SUCCESS;
      });
    }
    if (key == "containers") {
      return forEachElement(field, [&](value item) {
        return parseContainer(item, nextElement(out.containers, containers));
      });
    }
    if (key == "network") return parseNetwork(field, out.network);
    if (key == "ephemeral-storage") return parseFs(field, out.ephemeral_storage);
    if (key == "volume") {
      return forEachElement(field, [&](value item) -> error_code {
        VolumeStats& volume = nextElement(out.volumes, volumes);
        volume.present = true;
        return forEachField(item, [&](std::string_view k, value f) -> error_code {
          if (k == "name") return readString(f, volume.name);
          return parseFsField(k, f, volume);
        });
      });
    }
    return SUCCESS;
  });
  out.containers.resize(containers);
  out.volumes.resize(volumes);
  return e;
}

error_code parseNode(value v, NodeStats& out) {
  std::size_t system_containers = 0;
  error_code e = forEachField(v, [&](std::string_view key, value field) -> error_code {
    bool handled = false;
    if (error_code err = parseUsageField(key, field, out, handled); err || handled) return err;
    if (key == "nodeName") return readString(field, out.node_name);
    if (key == "systemContainers") {
      return forEachElement(field, [&](value item) {
        return parseContainer(item, nextElement(out.system_containers, system_containers));
      });
    }
    if (key == "network") return parseNetwork(field, out.network);
    if (key == "fs") return parseFs(field, out.fs);
    return SUCCESS;
  });
  out.system_containers.resize(system_containers);
  return e;
}

void resetNode(NodeStats& node) {
  // Cleared, not only kept: a document without "node" must not leave the
  // previous document's containers (whose strings are gone) behind.
  auto system_containers = std::move(node.system_containers);
  system_containers.clear();
  NetworkStats network = std::move(node.network);
  resetKeepingCapacity(network);
  node = NodeStats{};
  node.system_containers = std::move(system_containers);
  node.network = std::move(network);
}

Result<void> invalid(error_code e) {
  return makeError(ErrorCode::kDataLoss,
                   std::string("invalid summary JSON: ") + simdjson::error_message(e));
}

}  // namespace

std::optional<std::int64_t> parseRfc3339Ms(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !digits(text, 0, 4, year) || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(text, 11, 2, hour) ||
      text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' ||
      !digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    int scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  std::int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const std::int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

Result<void> SummaryParser::parse(const char* json, std::size_t size, std::size_t capacity,
                                  Summary& out) {
  Result<void> result = parseInto(json, size, capacity, out);
  if (!result) {
    // A failed document leaves nothing that points into the parser's buffers.
    resetNode(out.node);
    out.pods.clear();
  }
  return result;
}

Result<void> SummaryParser::parseInto(const char* json, std::size_t size, std::size_t capacity,
                                      Summary& out) {
  resetNode(out.node);
  std::size_t pods = 0;
  simdjson::ondemand::document doc;
  if (error_code e = parser_.iterate(json, size, capacity).get(doc)) return invalid(e);
  simdjson::ondemand::object root;
  if (error_code e = doc.get_object().get(root)) return invalid(e);
  for (auto field : root) {
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return invalid(e);
    value member;
    if (error_code e = field.value().get(member)) return invalid(e);
    error_code e = SUCCESS;
    if (key == "node") {
      e = parseNode(member, out.node);
    } else if (key == "pods") {
      e = forEachElement(member,
                         [&](value item) { return parsePod(item, nextElement(out.pods, pods)); });
    }
    if (e != SUCCESS) {
      out.pods.resize(pods);
      return invalid(e);
    }
  }
  out.pods.resize(pods);
  // Past the root object the iterator must be at the end of the input.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return invalid(simdjson::TRAILING_CONTENT);
  }
  return {};
}

Result<void> SummaryParser::parse(std::string_view json, Summary& out) {
  padded_.assign(json);
  padded_.resize(json.size() + kJsonPadding, '\0');
  return parse(padded_.data(), json.size(), padded_.size(), out);
}

}  // namespace kubemetrics::scrapers::kubelet
