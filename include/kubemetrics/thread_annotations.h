#pragma once

#include <version>  // identifies the standard library

// Clang's thread-safety analysis attributes. They expand to nothing under GCC,
// so only the clang build checks them (-Wthread-safety). They also expand to
// nothing with libstdc++ (Debian's default for clang too): its std::mutex and
// std::lock_guard carry no capability annotations, so KM_GUARDED_BY(a
// std::mutex) fails -Wthread-safety-attributes and every access under a
// lock_guard fails -Wthread-safety-analysis, which -Werror turns into a broken
// clang (TSan) build. libc++ annotates them when asked to.
#if defined(__clang__) && defined(_LIBCPP_VERSION) && \
    defined(_LIBCPP_ENABLE_THREAD_SAFETY_ANNOTATIONS)
#define KM_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define KM_THREAD_ANNOTATION(x)
#endif

#define KM_GUARDED_BY(x) KM_THREAD_ANNOTATION(guarded_by(x))
#define KM_PT_GUARDED_BY(x) KM_THREAD_ANNOTATION(pt_guarded_by(x))
#define KM_REQUIRES(...) KM_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define KM_EXCLUDES(...) KM_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
