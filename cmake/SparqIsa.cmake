# Per-ISA translation units. Each kernels/<isa>/ directory is compiled with its own flags
# into the same library; the dispatcher picks among them at run time, so the shipped build
# never needs -march=native.
set(SPARQ_ISA_FLAGS_avx2   -mavx2 -mfma -mf16c)
set(SPARQ_ISA_FLAGS_avx512 -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512bf16 -mfma -mf16c)
set(SPARQ_ISA_FLAGS_amx    -mamx-tile -mamx-int8 -mamx-bf16 -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512bf16)
set(SPARQ_ISA_FLAGS_neon   -march=armv8.2-a+dotprod+i8mm+fp16)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(SPARQ_ISAS avx2 avx512 amx)
  set(SPARQ_ARCH_X86 ON)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(SPARQ_ISAS neon)
  set(SPARQ_ARCH_ARM ON)
else()
  set(SPARQ_ISAS)
endif()

# sparq_add_isa_sources(TARGET ISA SOURCES...): compile SOURCES into TARGET with the
# flags of ISA, and define SPARQ_HAVE_<ISA>=1 on TARGET so the dispatcher knows they exist.
function(sparq_add_isa_sources target isa)
  if(NOT ARGN)
    return()
  endif()
  string(TOUPPER ${isa} ISA_UPPER)
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${SPARQ_ISA_FLAGS_${isa}}")
  target_sources(${target} PRIVATE ${ARGN})
  target_compile_definitions(${target} PUBLIC SPARQ_HAVE_${ISA_UPPER}=1)
endfunction()
