#pragma once

// Clang's thread-safety analysis attributes. They expand to nothing under GCC,
// so only the clang build checks them (-Wthread-safety).
#if defined(__clang__)
#define KM_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define KM_THREAD_ANNOTATION(x)
#endif

#define KM_GUARDED_BY(x) KM_THREAD_ANNOTATION(guarded_by(x))
#define KM_PT_GUARDED_BY(x) KM_THREAD_ANNOTATION(pt_guarded_by(x))
#define KM_REQUIRES(...) KM_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define KM_EXCLUDES(...) KM_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
