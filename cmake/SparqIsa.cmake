# One translation-unit set per ISA level of kernels/isa.h: kernels/<level>/ is compiled with
# exactly the features that level requires (kernels/isa.cpp), no more, because the
# dispatcher runs a level's kernels on any CPU that has those features. The shipped build
# never needs -march=native. tests/kernels/isa_level_disassembly_test.py checks what the
# compiler emitted against these lists.
set(SPARQ_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
# DQ although no kernel asks for it: GCC 12 emits vextracti64x2 (AVX512DQ) for -mavx512vl
# code without -mavx512dq, so the level requires DQ and says so.
set(SPARQ_ISA_FLAGS_avx512 ${SPARQ_ISA_FLAGS_avx2} -mavx512f -mavx512bw -mavx512vl -mavx512dq)
set(SPARQ_ISA_FLAGS_avx512vnni ${SPARQ_ISA_FLAGS_avx512} -mavx512vnni)
set(SPARQ_ISA_FLAGS_amx ${SPARQ_ISA_FLAGS_avx512vnni} -mamx-tile -mamx-int8)
# Not a level of kernels/isa.h but kernels an AVX-512 VNNI config may pick when the CPU
# also has VBMI and VBMI2 (Ice Lake, Zen 4 and later, which have both; Cascade Lake has VNNI
# without them): the bitmap kernels' vpexpandb, vpermb and vpmultishiftqb (kernels/bitmap_gemm.h).
set(SPARQ_ISA_FLAGS_avx512vbmi2 ${SPARQ_ISA_FLAGS_avx512vnni} -mavx512vbmi -mavx512vbmi2)
set(SPARQ_ISA_FLAGS_neon -march=armv8-a)
# GCC takes the dotprod and i8mm extensions from Armv8.2-A on.
set(SPARQ_ISA_FLAGS_neon_dotprod -march=armv8.2-a+dotprod)
set(SPARQ_ISA_FLAGS_neon_i8mm -march=armv8.2-a+dotprod+i8mm)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(SPARQ_ISA_LEVELS avx2 avx512 avx512vnni avx512vbmi2 amx)
  set(SPARQ_ISA_ARCH x86_64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(SPARQ_ISA_LEVELS neon neon_dotprod neon_i8mm)
  set(SPARQ_ISA_ARCH aarch64)
else()
  set(SPARQ_ISA_LEVELS)
endif()

# sparq_add_isa_level(LEVEL): kernels/LEVEL/*.cpp as the OBJECT library sparq_kernels_LEVEL,
# compiled with SPARQ_ISA_FLAGS_LEVEL against the kernels' headers, its objects going into
# the sparq library (SPARQ_ISA_LEVEL_TARGETS), and SPARQ_HAVE_<LEVEL>=1 on sparq_kernels
# (whose configs name the level's kernels) and on what links it.
function(sparq_add_isa_level level)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/${level}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_library(sparq_kernels_${level} OBJECT ${sources})
  target_compile_options(sparq_kernels_${level} PRIVATE ${SPARQ_ISA_FLAGS_${level}})
  target_link_libraries(sparq_kernels_${level} PRIVATE sparq_kernels_headers
    sparq_error_vocabulary_headers sparq_deps)
  string(TOUPPER ${level} LEVEL)
  target_compile_definitions(sparq_kernels PUBLIC SPARQ_HAVE_${LEVEL}=1)
  set_property(GLOBAL APPEND PROPERTY SPARQ_ISA_LEVEL_TARGETS sparq_kernels_${level})
endfunction()
