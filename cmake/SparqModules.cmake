# One CMake target per concern, each allowed to include only the modules it names.
#
# Every module gets its own include root in the build tree holding a single symlink to its
# source folder (build/include-roots/<module>/runtime/model -> runtime/model). A module
# compiles against its own root and the roots of the modules it USES, never against the
# source tree, so `#include "runtime/jobs/..."` from runtime/model fails to build. The same
# table, written to build/sparq_layout.json, is checked as text by
# tests/layout/check_include_direction.py, which also catches what the roots cannot (a
# relative "../" include, a cycle, a file no module compiles).

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
  set_property(GLOBAL APPEND PROPERTY SPARQ_ROOTS ${name})
  set_property(GLOBAL PROPERTY SPARQ_ROOT_PATH_${name} ${path})
endfunction()

# sparq_owns_folder(NAME DIR TARGET): TARGET compiles DIR (subfolders included), so the
# layout check holds every include in DIR to the include roots TARGET is given.
function(sparq_owns_folder name dir target)
  set_property(GLOBAL APPEND PROPERTY SPARQ_FOLDER_OWNERS ${name})
  set_property(GLOBAL PROPERTY SPARQ_OWNER_FOLDER_${name} ${dir})
  set_property(GLOBAL PROPERTY SPARQ_OWNER_TARGET_${name} ${target})
endfunction()

# sparq_add_module(NAME DIR [USES MODULE...] [OUTSIDE_LIBRARY]): an OBJECT library of
# DIR/*.cpp that sees the headers of DIR and of each module in USES (linked PRIVATE: nothing
# leaks upwards). OUTSIDE_LIBRARY: not part of libsparq (nor its installed headers); the
# programs that need it link the module's objects themselves.
function(sparq_add_module name dir)
  cmake_parse_arguments(M "OUTSIDE_LIBRARY" "" "USES" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.cpp)
  add_library(sparq_${name} OBJECT ${sources})
  sparq_module_root(${name} ${dir})
  target_link_libraries(sparq_${name} PUBLIC sparq_${name}_headers sparq_deps)
  foreach(use ${M_USES})
    target_link_libraries(sparq_${name} PRIVATE sparq_${use}_headers)
  endforeach()
  sparq_owns_folder(${name} ${dir} sparq_${name})
  if(NOT M_OUTSIDE_LIBRARY)
    set_property(GLOBAL APPEND PROPERTY SPARQ_MODULES sparq_${name})
    set_property(GLOBAL APPEND PROPERTY SPARQ_MODULE_DIRS ${dir})
  endif()
endfunction()

# The table as the compiler gets it: each owner's include directories (its own root, the
# roots of what it USES, whatever it links) and sources, evaluated at generate time, so the
# check reads the USES lists above rather than a copy of them.
function(sparq_write_layout)
  get_property(roots GLOBAL PROPERTY SPARQ_ROOTS)
  get_property(owners GLOBAL PROPERTY SPARQ_FOLDER_OWNERS)
  set(root_entries)
  foreach(root ${roots})
    get_property(path GLOBAL PROPERTY SPARQ_ROOT_PATH_${root})
    list(APPEND root_entries "    \"${root}\": \"${path}\"")
  endforeach()
  set(owner_entries)
  foreach(owner ${owners})
    get_property(dir GLOBAL PROPERTY SPARQ_OWNER_FOLDER_${owner})
    get_property(target GLOBAL PROPERTY SPARQ_OWNER_TARGET_${owner})
    set(include_dirs "$<JOIN:$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>,\"$<COMMA> \">")
    set(sources "$<JOIN:$<TARGET_PROPERTY:${target},SOURCES>,\"$<COMMA> \">")
    list(APPEND owner_entries "    \"${owner}\": {\"folder\": \"${dir}\", \"target\": \"${target}\",
      \"include_dirs\": [\"${include_dirs}\"],
      \"sources\": [\"${sources}\"]}")
  endforeach()
  list(JOIN root_entries ",\n" root_entries)
  list(JOIN owner_entries ",\n" owner_entries)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/sparq_layout.json CONTENT "{
  \"source_dir\": \"${PROJECT_SOURCE_DIR}\",
  \"include_roots\": \"${SPARQ_INCLUDE_ROOTS}\",
  \"roots\": {
${root_entries}
  },
  \"owners\": {
${owner_entries}
  }
}
")
endfunction()
# Deferred to the end of the top-level CMakeLists.txt, when every module and the CLI exist.
cmake_language(DEFER CALL sparq_write_layout)
