#include "common/rate/counter_rate.h"

#include <cmath>
#include <cstdint>
#include <functional>

namespace kubemetrics {

std::size_t CounterRates::KeyHash::operator()(const Key& key) const noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(key.name);
  const auto b = reinterpret_cast<std::uintptr_t>(key.labels);
  return std::hash<std::uintptr_t>()(a * 0x9e3779b97f4a7c15ULL ^ (b + (b >> 17)));
}

std::optional<double> CounterRates::update(const Symbol& name, const Labels& labels, double value,
                                           std::int64_t timestamp_ms, std::int64_t start_marker) {
  if (!std::isfinite(value)) return std::nullopt;
  const Key key{name.id(), labels.id()};
  auto it = series_.find(key);
  if (it == series_.end()) {
    series_.emplace(key, Entry{name, labels, value, timestamp_ms, start_marker, scrape_});
    return std::nullopt;
  }
  Entry& e = it->second;
  e.last_seen_scrape = scrape_;
  if (timestamp_ms == e.timestamp_ms) return std::nullopt;  // a duplicate; keep the base
  const bool rebase =
      timestamp_ms < e.timestamp_ms || value < e.value || start_marker != e.start_marker;
  const double seconds = static_cast<double>(timestamp_ms - e.timestamp_ms) / 1000.0;
  const double delta = value - e.value;
  e.value = value;
  e.timestamp_ms = timestamp_ms;
  e.start_marker = start_marker;
  if (rebase) return std::nullopt;
  return delta / seconds;
}

void CounterRates::endScrape(std::uint32_t keep_unseen_scrapes) {
  std::erase_if(series_, [&](const auto& item) {
    return scrape_ - item.second.last_seen_scrape > keep_unseen_scrapes;
  });
  ++scrape_;
}

}  // namespace kubemetrics
