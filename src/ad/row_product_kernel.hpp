#pragma once
// The row product's body, for one instruction set (internal; included by row_product_avx2.cpp
// and row_product_avx512.cpp only). `S` is a SIMD traits struct of the including file: its
// packet type V, width P, load/store/broadcast/fma, and the register blocking that suits the
// instruction set's register count.
//
// Everything here has internal linkage and uses no standard-library or Eigen templates: the
// AVX-512 file is compiled with AVX-512 enabled, and an inline template instantiated there and
// elsewhere would be one symbol at link time, which the linker could take from the AVX-512
// object and run on an AVX2 machine (tests/ad/check_kernel_symbols.cmake checks the objects).
#include <ebm/core/types.hpp>

namespace ebm::ad::kernels {
namespace {

// R rows x NV packets of output columns, accumulated in registers over all of k. Every output
// element is the same fused multiply-add chain (from the bias, over k in order) whatever R, NV
// and the packet width are, so neither the blocking nor the instruction set changes a result.
template <class S, int R, int NV>
inline void block(const typename S::T* a, Index lda, const typename S::T* b, Index ldb, Index K,
                  const typename S::T* bias, typename S::T* out, Index ldo, Index cols) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int P = S::P;
  V acc[R][NV];
  for (int v = 0; v < NV; ++v) {
    const V start = bias ? S::load(bias + v * P) : S::zero();
    for (int r = 0; r < R; ++r) acc[r][v] = start;
  }
  for (Index k = 0; k < K; ++k) {
    V bk[NV];
    for (int v = 0; v < NV; ++v) bk[v] = S::load(b + k * ldb + v * P);
    for (int r = 0; r < R; ++r) {
      const V ar = S::broadcast(a[r * lda + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fma(ar, bk[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      const Index c0 = Index(v) * P;
      if (c0 + P <= cols) {
        S::store(out + r * ldo + c0, acc[r][v]);
      } else if (c0 < cols) {
        alignas(64) T lanes[P];
        S::store(lanes, acc[r][v]);
        for (Index c = c0; c < cols; ++c) out[r * ldo + c] = lanes[c - c0];
      }
    }
  }
}

// All rows against one panel of NV packets of columns (the panel stays in L1 across rows), in
// blocks of S::rows<NV> rows, then 4, 2, 1: enough independent chains to hide FMA latency.
template <class S, int NV>
void panel(const typename S::T* a, Index lda, Index n, const typename S::T* b, Index ldb, Index K,
           const typename S::T* bias, typename S::T* out, Index ldo, Index cols) {
  constexpr int R = S::template rows<NV>;
  Index i = 0;
  for (; i + R <= n; i += R) block<S, R, NV>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  for (; i + 4 <= n; i += 4) block<S, 4, NV>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  for (; i + 2 <= n; i += 2) block<S, 2, NV>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  for (; i < n; ++i) block<S, 1, NV>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
}

// row_product.hpp's contract, with packets of S::P.
template <class S>
void row_product_for(const typename S::T* a, Index lda, Index n, Index K, const typename S::T* b, Index ldb,
                     Index M, const typename S::T* bias, typename S::T* out, Index ldo) {
  constexpr Index P = S::P, W = Index(S::wide) * P;
  auto offset = [&](Index j) { return bias ? bias + j : nullptr; };
  Index j = 0;
  if (n < 6) {
    // Too few rows to hide the FMA latency with row blocks: S::narrow column packets at once.
    constexpr int N1 = S::narrow, N2 = S::narrow / 2;
    for (; j + N1 * P <= M; j += N1 * P)
      for (Index i = 0; i < n; ++i) block<S, 1, N1>(a + i * lda, lda, b + j, ldb, K, offset(j), out + i * ldo + j, ldo, N1 * P);
    for (; j + N2 * P <= M; j += N2 * P)
      for (Index i = 0; i < n; ++i) block<S, 1, N2>(a + i * lda, lda, b + j, ldb, K, offset(j), out + i * ldo + j, ldo, N2 * P);
  }
  for (; j + W <= M; j += W) panel<S, S::wide>(a, lda, n, b + j, ldb, K, offset(j), out + j, ldo, W);
  if constexpr (S::wide > 2)
    for (; j + 2 * P <= M; j += 2 * P) panel<S, 2>(a, lda, n, b + j, ldb, K, offset(j), out + j, ldo, 2 * P);
  for (; j < M; j += P) panel<S, 1>(a, lda, n, b + j, ldb, K, offset(j), out + j, ldo, M - j < P ? M - j : P);
}

}  // namespace
}  // namespace ebm::ad::kernels
