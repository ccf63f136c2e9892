#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kubemetrics/sample.h"

namespace kubemetrics::scrapers::host::testing {

/// A private directory under /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "km_host_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  void write(const std::string& relative, std::string_view content) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
  }
  void mkdir(const std::string& relative) const {
    std::filesystem::create_directories(path_ / relative);
  }

 private:
  std::filesystem::path path_;
};

using LabelList = std::initializer_list<std::pair<std::string_view, std::string_view>>;

inline bool hasExactLabels(const Sample& s, LabelList labels) {
  if (s.labels.size() != labels.size()) return false;
  for (const auto& [name, value] : labels) {
    if (s.labels.get(name) != value) return false;
  }
  return true;
}

/// The value of the one sample (name, labels), nullopt when absent.
inline std::optional<double> valueOf(const SampleBatch& batch, std::string_view name,
                                     LabelList labels = {}) {
  for (const Sample& s : batch.samples) {
    if (s.name.view() == name && hasExactLabels(s, labels)) return s.value;
  }
  return std::nullopt;
}

inline std::size_t countOf(const SampleBatch& batch, std::string_view name) {
  std::size_t n = 0;
  for (const Sample& s : batch.samples) n += s.name.view() == name;
  return n;
}

inline const MetricMetadata* metadataOf(const SampleBatch& batch, std::string_view name) {
  for (const MetricMetadata& m : batch.metadata) {
    if (m.name.view() == name) return &m;
  }
  return nullptr;
}

}  // namespace kubemetrics::scrapers::host::testing
