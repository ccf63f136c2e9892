#include "common/push/backoff.h"

#include <algorithm>
#include <cstdint>

namespace kubemetrics::push {

using std::chrono::milliseconds;

milliseconds Backoff::jittered(milliseconds backoff) {
  const auto half = backoff.count() / 2;
  std::uniform_int_distribution<std::int64_t> dist(0, std::max<std::int64_t>(half, 0));
  MutexLock lock(rng_mu_);
  return milliseconds(half + dist(rng_));
}

milliseconds Backoff::waitFor(milliseconds backoff, const DeliveryOutcome& outcome) {
  milliseconds wait = jittered(backoff);
  if (outcome.retry_after > wait) wait = outcome.retry_after;
  return std::min(wait, cap());
}

}  // namespace kubemetrics::push
