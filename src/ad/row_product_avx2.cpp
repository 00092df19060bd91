// The row product with AVX2 and FMA: 16 vector registers, so panels of 2 packets in blocks of
// 6 rows (12 accumulators, 2 operands and a broadcast).
#include "row_product_targets.hpp"

#include <immintrin.h>

#include "row_product_kernel.hpp"

namespace ebm::ad::kernels {
namespace {

struct Avx2Blocking {
  static constexpr int wide = 2, narrow = 8;
  template <int NV>
  static constexpr int rows = NV >= 2 ? 6 : 8;
};

struct Avx2Float : Avx2Blocking {
  using T = float;
  using V = __m256;
  static constexpr int P = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V zero() { return _mm256_setzero_ps(); }
  static V broadcast(T x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

struct Avx2Double : Avx2Blocking {
  using T = double;
  using V = __m256d;
  static constexpr int P = 4;
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V zero() { return _mm256_setzero_pd(); }
  static V broadcast(T x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

}  // namespace

template <>
void row_product_avx2<float>(const float* a, Index lda, Index n, Index K, const float* b, Index ldb, Index M,
                             const float* bias, float* out, Index ldo) {
  row_product_for<Avx2Float>(a, lda, n, K, b, ldb, M, bias, out, ldo);
}
template <>
void row_product_avx2<double>(const double* a, Index lda, Index n, Index K, const double* b, Index ldb, Index M,
                              const double* bias, double* out, Index ldo) {
  row_product_for<Avx2Double>(a, lda, n, K, b, ldb, M, bias, out, ldo);
}

}  // namespace ebm::ad::kernels
