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
# Unicode normalisation, categories and case mapping for the tokenizers (Debian libicu-dev).
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)
find_package(Threads REQUIRED)
# Cholesky factorizations and the blocked updates of SparseGPT/GPTQ (runtime/convert/
# obs_compression.cpp): Debian's header-only libeigen3-dev.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
# YAML workloads for `sparq plan`. Debian's libyaml-cpp-dev is not multiarch-installable next
# to the native one, so the aarch64 cross build goes without and takes JSON workloads.
find_package(yaml-cpp QUIET)
if(SPARQ_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SPARQ_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()

# Fully static executables, for the aarch64 cross build: qemu-user 7.2 (Debian 12) hangs
# as soon as a dynamically linked aarch64 program starts a thread, static ones run fine.
option(SPARQ_STATIC_EXECUTABLES "Link executables statically" OFF)
# `sparq serve`'s HTTP/1.1 server (runtime/serve): Debian's cpp-httplib, which ships as a shared
# library only, so a fully static build (the aarch64 one) goes without `sparq serve`.
if(NOT SPARQ_STATIC_EXECUTABLES)
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()

add_library(sparq_deps INTERFACE)
target_link_libraries(sparq_deps INTERFACE nlohmann_json::nlohmann_json Threads::Threads)
# The pkg-config names of what libsparq links, for sparq.pc's Requires.private.
set(SPARQ_PKGCONFIG_PRIVATE libzstd libxxhash numa libcrypto icu-uc)
if(yaml-cpp_FOUND)
  target_link_libraries(sparq_deps INTERFACE yaml-cpp)
  list(APPEND SPARQ_PKGCONFIG_PRIVATE yaml-cpp)
  target_compile_definitions(sparq_deps INTERFACE SPARQ_HAVE_YAML_CPP)
endif()
if(SPARQ_STATIC_EXECUTABLES)
  # Link by name so -static picks the .a archives; Debian ships fmt only as a shared
  # library, so use its header-only mode.
  target_compile_options(sparq_deps INTERFACE ${OpenMP_CXX_FLAGS})
  target_link_options(sparq_deps INTERFACE ${OpenMP_CXX_FLAGS})
  target_link_libraries(sparq_deps INTERFACE fmt::fmt-header-only zstd xxhash numa crypto icuuc icudata ${CMAKE_DL_LIBS})
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -static")
else()
  list(APPEND SPARQ_PKGCONFIG_PRIVATE fmt)
  target_link_libraries(sparq_deps INTERFACE OpenMP::OpenMP_CXX
    fmt::fmt PkgConfig::ZSTD PkgConfig::XXHASH PkgConfig::NUMA PkgConfig::LIBCRYPTO PkgConfig::ICU)
endif()
