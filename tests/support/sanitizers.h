// Whether this test binary was built with a sanitizer, for the few checks
// that measure the agent's own resources: ASan's shadow memory and its
// 256 MiB quarantine, and TSan's shadow, make resident-set figures
// meaningless there, so those checks print the figure instead.
#pragma once

namespace kubemetrics::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace kubemetrics::testing
