# What `cmake --install` puts in place (prefix P, GNU directories):
#   P/bin/sparq                       the CLI (linked statically against libsparq.a)
#   P/LIBDIR/libsparq.so.0.1.0 + .so.0 + .so   the shared library, SONAME libsparq.so.0
#   P/LIBDIR/libsparq.a               for self-contained programs; the only library of a
#                                     SPARQ_STATIC_EXECUTABLES build (the aarch64 one)
#   P/LIBDIR/pkgconfig/sparq.pc       Cflags -IP/include/sparq, Libs -lsparq (+ .private)
#   P/include/sparq/sparq.h           the C API
#   P/include/sparq/<module>/*.h      the C++ headers, under their module paths
#   P/share/sparq/catalog.json        the planner's hardware catalog (runtime/CMakeLists.txt)

install(TARGETS ${SPARQ_LIBRARIES} sparq
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The C++ headers include each other as "formats/error.h", "runtime/model/...", hence one
# include root (include/sparq) holding the module paths. Public: the top level of each module
# folder; the ISA folders (kernels/avx2, ...) compile only with their own flags and, like
# *_internal.h, are their module's own.
get_property(SPARQ_MODULE_DIRS GLOBAL PROPERTY SPARQ_MODULE_DIRS)
list(REMOVE_ITEM SPARQ_MODULE_DIRS runtime/capi)
foreach(dir ${SPARQ_MODULE_DIRS})
  file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.h)
  list(FILTER headers EXCLUDE REGEX "_internal\\.h$")
  install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sparq/${dir})
endforeach()
# The C API's header alone at the top (#include <sparq.h>): a stable interface should not
# change its include line when the modules behind it move.
install(FILES ${PROJECT_SOURCE_DIR}/runtime/capi/sparq.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sparq)

# sparq.pc. A program linking libsparq.so needs only -lsparq (the library records its own
# dependencies); one linking libsparq.a (pkg-config --static) also needs them: the
# libraries with a .pc file as Requires.private, the C++ runtime, OpenMP and libdl, which a
# C compiler's link line lacks, as Libs.private. nlohmann_json is public: the C++ headers
# include it.
set(SPARQ_PC_LIBS_PRIVATE)
foreach(lib ${OpenMP_CXX_LIB_NAMES} ${CMAKE_CXX_IMPLICIT_LINK_LIBRARIES} ${CMAKE_DL_LIBS})
  if(NOT lib MATCHES "^(c|gcc|gcc_s)$")
    list(APPEND SPARQ_PC_LIBS_PRIVATE -l${lib})
  endif()
endforeach()
list(REMOVE_DUPLICATES SPARQ_PC_LIBS_PRIVATE)
list(JOIN SPARQ_PC_LIBS_PRIVATE " " SPARQ_PC_LIBS_PRIVATE)
list(JOIN SPARQ_PKGCONFIG_PRIVATE " " SPARQ_PC_REQUIRES_PRIVATE)
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${dir}})
    set(SPARQ_PC_${dir} ${CMAKE_INSTALL_${dir}})
  else()
    set(SPARQ_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# The prefix is known only when installing (cmake --install --prefix may change it): the
# file is configured here with every other value, and its prefix filled in at install time.
set(SPARQ_PC_PREFIX "@SPARQ_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/sparq.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/sparq.pc.in @ONLY)
install(CODE "
  set(SPARQ_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/sparq.pc.in\" \"${PROJECT_BINARY_DIR}/pkgconfig/sparq.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/sparq.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
