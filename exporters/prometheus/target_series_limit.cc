#include "target_series_limit.h"

namespace kubemetrics::exporters::prometheus {

TargetSeriesLimit::Target* TargetSeriesLimit::admit(std::string_view source, const Labels& labels,
                                                    bool* first_refusal) {
  *first_refusal = false;
  key_.assign(source);
  key_.push_back('\0');  // cannot occur in a source name
  key_.append(labels.get("instance"));
  auto it = targets_.find(std::string_view(key_));
  if (it == targets_.end()) {
    it = targets_.emplace(key_, Target{}).first;
    it->second.key = &it->first;
  }
  Target& target = it->second;
  if (max_per_target_ != 0 && target.series >= max_per_target_) {
    *first_refusal = !target.limited;
    target.limited = true;
    return nullptr;
  }
  ++target.series;
  return &target;
}

void TargetSeriesLimit::release(Target* target) {
  if (target == nullptr || target->series == 0) return;
  --target->series;
  if (max_per_target_ != 0 && target->series < max_per_target_) target->limited = false;
  if (target->series != 0) return;
  key_ = *target->key;  // the key dies with the node
  targets_.erase(key_);
}

}  // namespace kubemetrics::exporters::prometheus
