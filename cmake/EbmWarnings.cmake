# Warnings for ebm's own targets; fatal when EBM_WERROR is on (CI sets it).
function(ebm_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion $<$<BOOL:${EBM_WERROR}>:-Werror>)
  if(EBM_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
    # GCC 12's AVX-512 intrinsics trip its own uninitialized-use warnings inside Eigen's kernels
    # (GCC bug 105593, fixed in GCC 13): silence those two there, keep everything else.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()
