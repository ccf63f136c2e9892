// ThreadSanitizer suppressions of the TSan configuration, compiled into
// every test of that build (tests/CMakeLists.txt). Only code TSan cannot see
// into belongs here.
//
// Debian's cpp-httplib is a shared library built without
// -fsanitize=thread. Its thread pool hands each connection to a worker
// through a mutex and condition variable inside that library, which TSan
// does not observe, so every test double served with httplib (the fake
// Kubernetes API server) reports the worker's reads of the request as
// racing the acceptor's writes. Only frames in that library match; the
// agent's own HTTP code is Beast, compiled with the sanitizer.
extern "C" const char* __tsan_default_suppressions() { return "race:libcpp-httplib.so\n"; }
