# Every dependency comes from a Debian package, found by name; nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(zstd QUIET)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(NUMA REQUIRED IMPORTED_TARGET numa)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
find_package(Threads REQUIRED)
if(SPARQ_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SPARQ_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()

add_library(sparq_deps INTERFACE)
target_link_libraries(sparq_deps INTERFACE
  OpenMP::OpenMP_CXX fmt::fmt nlohmann_json::nlohmann_json
  PkgConfig::ZSTD PkgConfig::XXHASH PkgConfig::NUMA PkgConfig::LIBCRYPTO Threads::Threads)
