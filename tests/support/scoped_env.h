#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace kubemetrics::testing {

/// Sets (or, with a null value, unsets) one environment variable and puts
/// the old value back when it goes out of scope. Tests only; the process
/// environment is not thread-safe, so no other thread may read it meanwhile.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
  }
  ScopedEnv(const char* name, const char* value) : ScopedEnv(name) {
    if (value != nullptr) {
      set(value);
    } else {
      unset();
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const char* value) { ::setenv(name_, value, 1); }
  void unset() { ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace kubemetrics::testing
