# Every dependency comes from a Debian 12 package (scripts/setup.sh installs
# them); nothing is downloaded at build time.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS url)
find_package(tl-expected REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(simdjson REQUIRED)
find_package(Protobuf REQUIRED)
find_library(SNAPPY_LIBRARY snappy REQUIRED)
find_path(SNAPPY_INCLUDE_DIR snappy.h REQUIRED)
add_library(km_snappy INTERFACE)
target_link_libraries(km_snappy INTERFACE ${SNAPPY_LIBRARY})
target_include_directories(km_snappy INTERFACE ${SNAPPY_INCLUDE_DIR})
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# ISA-L's igzip: gzip decoding of scrape bodies at about 3x zlib's speed
# (common/http/content_encoding.cc). zlib still compresses.
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
if(KM_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # Debian builds cpp-httplib as a shared library with OpenSSL, zlib and
  # brotli support; its users must define the matching macros (see tests/).
  find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
  find_library(HTTPLIB_LIBRARY cpp-httplib REQUIRED)
endif()
if(KM_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
