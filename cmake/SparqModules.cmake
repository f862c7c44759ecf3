# One CMake target per concern, each allowed to include only the modules it names.
#
# Every module gets its own include root in the build tree holding a single symlink to its
# source folder (build/include-roots/<module>/runtime/model -> runtime/model). A module
# compiles against its own root and the roots of the modules it USES, never against the
# source tree, so `#include "runtime/jobs/..."` from runtime/model fails to build. The same
# table is checked as text by tests/layout/check_include_direction.py.

set(SPARQ_INCLUDE_ROOTS ${PROJECT_BINARY_DIR}/include-roots)

# sparq_module_root(NAME RELATIVE_PATH): the include root that exposes PATH (a folder or one
# header) of the source tree as "PATH", and nothing else.
function(sparq_module_root name path)
  set(root ${SPARQ_INCLUDE_ROOTS}/${name})
  get_filename_component(parent ${root}/${path} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT EXISTS ${root}/${path})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${path} ${root}/${path} SYMBOLIC)
  endif()
  add_library(sparq_${name}_headers INTERFACE)
  target_include_directories(sparq_${name}_headers INTERFACE $<BUILD_INTERFACE:${root}>)
endfunction()

# sparq_add_module(NAME DIR [USES MODULE...]): an OBJECT library of DIR/*.cpp that sees the
# headers of DIR and of each module in USES (linked PRIVATE: nothing leaks upwards).
function(sparq_add_module name dir)
  cmake_parse_arguments(M "" "" "USES" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.cpp)
  add_library(sparq_${name} OBJECT ${sources})
  sparq_module_root(${name} ${dir})
  target_link_libraries(sparq_${name} PUBLIC sparq_${name}_headers sparq_deps)
  foreach(use ${M_USES})
    target_link_libraries(sparq_${name} PRIVATE sparq_${use}_headers)
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SPARQ_MODULES sparq_${name})
  set_property(GLOBAL APPEND PROPERTY SPARQ_MODULE_DIRS ${dir})
endfunction()
