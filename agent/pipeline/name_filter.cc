#include "agent/pipeline/name_filter.h"

#include <re2/re2.h>

#include <algorithm>

namespace kubemetrics {
namespace {

constexpr std::size_t kMaxCachedNames = 1 << 16;

Result<std::vector<std::unique_ptr<re2::RE2>>> compileAll(const std::vector<std::string>& patterns,
                                                          std::string_view what) {
  std::vector<std::unique_ptr<re2::RE2>> out;
  RE2::Options options;
  options.set_log_errors(false);
  for (const std::string& pattern : patterns) {
    auto re = std::make_unique<re2::RE2>(pattern, options);
    if (!re->ok()) {
      return makeError(ErrorCode::kInvalidArgument,
                       std::string(what) + " pattern \"" + pattern + "\": " + re->error());
    }
    out.push_back(std::move(re));
  }
  return out;
}

}  // namespace

Result<NameFilter> NameFilter::create(const std::vector<std::string>& allow,
                                      const std::vector<std::string>& deny) {
  NameFilter filter;
  auto allowed = compileAll(allow, "allow");
  if (!allowed) return tl::unexpected(allowed.error());
  auto denied = compileAll(deny, "deny");
  if (!denied) return tl::unexpected(denied.error());
  filter.allow_ = std::move(*allowed);
  filter.deny_ = std::move(*denied);
  return filter;
}

NameFilter::NameFilter(NameFilter&&) noexcept = default;
NameFilter& NameFilter::operator=(NameFilter&&) noexcept = default;
NameFilter::~NameFilter() = default;

bool NameFilter::decide(std::string_view name) const {
  const auto matches = [&](const std::unique_ptr<re2::RE2>& re) {
    return RE2::FullMatch(name, *re);
  };
  if (!allow_.empty() && std::none_of(allow_.begin(), allow_.end(), matches)) return false;
  return std::none_of(deny_.begin(), deny_.end(), matches);
}

bool NameFilter::keeps(const Symbol& name) {
  auto it = cache_.find(name);
  if (it != cache_.end()) return it->second;
  const bool keep = decide(name.view());
  if (cache_.size() >= kMaxCachedNames) cache_.clear();
  cache_.emplace(name, keep);
  return keep;
}

std::size_t NameFilter::apply(SampleBatch& batch) {
  if (!active()) return 0;
  const std::size_t before = batch.samples.size();
  std::erase_if(batch.samples, [&](const Sample& s) { return !keeps(s.name); });
  return before - batch.samples.size();
}

}  // namespace kubemetrics
