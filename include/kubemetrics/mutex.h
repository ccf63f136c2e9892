#pragma once

#include <mutex>

#include "kubemetrics/thread_annotations.h"

namespace kubemetrics {

/// std::mutex with clang capability annotations, so KM_GUARDED_BY(mu_) is
/// checked by the clang builds (libstdc++'s std::mutex is not annotated).
/// Same cost and semantics as std::mutex. Thread-safe.
class KM_CAPABILITY("mutex") Mutex {
 public:
  void lock() KM_ACQUIRE() { mu_.lock(); }
  void unlock() KM_RELEASE() { mu_.unlock(); }
  bool try_lock() KM_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

/// Holds a Mutex for its scope. Also BasicLockable (lock/unlock), so a
/// std::condition_variable_any can wait on it. Owned by one thread.
class KM_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) KM_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() KM_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // For condition_variable_any, which releases the lock while it sleeps.
  void lock() KM_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  void unlock() KM_RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

}  // namespace kubemetrics
