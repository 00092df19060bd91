# Compile options of ebm's own targets: warnings (fatal when EBM_WERROR is on, as in CI), and
# no implicit contraction of a*b+c into fused multiply-adds, so that a value is computed the
# same way in a loop's vector body and its scalar tail (results must not depend on where a
# row sits in a batch). Fused multiply-adds are written explicitly where wanted. ebm never reads
# errno, and math functions that may set it (std::sqrt) keep loops from being vectorised. The
# -march is EBM_ARCH (portable) unless EBM_NATIVE.
function(ebm_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion $<$<BOOL:${EBM_WERROR}>:-Werror> -ffp-contract=off -fno-math-errno)
  if(EBM_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  else()
    target_compile_options(${target} PRIVATE -march=${EBM_ARCH})
  endif()
  if(EBM_NATIVE OR EBM_ARCH MATCHES "v4|avx512|native")
    # GCC 12's AVX-512 intrinsics trip its own uninitialized-use warnings inside Eigen's kernels
    # (GCC bug 105593, fixed in GCC 13): silence those two there, keep everything else.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()
