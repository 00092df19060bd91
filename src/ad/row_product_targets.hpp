#pragma once
// The row product compiled once per instruction set (internal): row_product.cpp dispatches to
// one of these by ebm::ad::kernel_target(). Same contract as row_product (row_product.hpp),
// with packets of 8 floats / 4 doubles (AVX2) or 16 / 8 (AVX-512).
#include <ebm/core/types.hpp>

namespace ebm::ad::kernels {

template <class T>
void row_product_avx2(const T* a, Index lda, Index n, Index K, const T* b, Index ldb, Index M, const T* bias, T* out,
                      Index ldo);
template <class T>
void row_product_avx512(const T* a, Index lda, Index n, Index K, const T* b, Index ldb, Index M, const T* bias, T* out,
                        Index ldo);

}  // namespace ebm::ad::kernels
