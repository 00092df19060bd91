// The row product with AVX-512: 32 vector registers, so panels of 4 packets in blocks of
// 6 rows (24 accumulators, 4 operands and a broadcast). Compiled with AVX-512 enabled (see
// row_product_kernel.hpp for why nothing here may be shared with other objects).
#include "row_product_targets.hpp"

#include <immintrin.h>

#include "row_product_kernel.hpp"

namespace ebm::ad::kernels {
namespace {

struct Avx512Blocking {
  static constexpr int wide = 4, narrow = 16;
  template <int NV>
  static constexpr int rows = NV >= 4 ? 6 : 8;
};

struct Avx512Float : Avx512Blocking {
  using T = float;
  using V = __m512;
  static constexpr int P = 16;
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V zero() { return _mm512_setzero_ps(); }
  static V broadcast(T x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

struct Avx512Double : Avx512Blocking {
  using T = double;
  using V = __m512d;
  static constexpr int P = 8;
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V zero() { return _mm512_setzero_pd(); }
  static V broadcast(T x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
};

}  // namespace

template <>
void row_product_avx512<float>(const float* a, Index lda, Index n, Index K, const float* b, Index ldb, Index M,
                             const float* bias, float* out, Index ldo) {
  row_product_for<Avx512Float>(a, lda, n, K, b, ldb, M, bias, out, ldo);
}
template <>
void row_product_avx512<double>(const double* a, Index lda, Index n, Index K, const double* b, Index ldb, Index M,
                              const double* bias, double* out, Index ldo) {
  row_product_for<Avx512Double>(a, lda, n, K, b, ldb, M, bias, out, ldo);
}

}  // namespace ebm::ad::kernels
