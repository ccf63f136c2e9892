#pragma once

#include <chrono>

namespace kubemetrics {

/// Monotonic clock for intervals, timeouts and deadlines; wall-clock time is
/// only for sample timestamps.
using SteadyClock = std::chrono::steady_clock;
/// The point in time by which a call must return, successful or not.
using Deadline = SteadyClock::time_point;

inline Deadline deadlineIn(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

}  // namespace kubemetrics
