#include "row_product.hpp"

#include "row_product_targets.hpp"

#include <ebm/ad/kernel_target.hpp>

#include <algorithm>
#include <cmath>

// Eigen's packet types carry alignment attributes that GCC drops, harmlessly, when they are
// template arguments.
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace ebm::ad::kernels {
namespace {

namespace ei = Eigen::internal;
template <class T>
using Packet = typename ei::packet_traits<T>::type;
template <class T>
constexpr int kPacket = ei::unpacket_traits<Packet<T>>::size;

// Four packet accumulators over k in blocks of four packets, then one, added in a fixed order,
// reduced across lanes, then the last K mod P terms by scalar fused multiply-adds.
template <class T>
inline T dot(const T* a, const T* b, Index K) {
  constexpr Index P = kPacket<T>;
  Packet<T> acc[4];
  for (auto& p : acc) p = ei::pset1<Packet<T>>(T(0));
  Index k = 0;
  for (; k + 4 * P <= K; k += 4 * P)
    for (int u = 0; u < 4; ++u)
      acc[u] = ei::pmadd(ei::ploadu<Packet<T>>(a + k + u * P), ei::ploadu<Packet<T>>(b + k + u * P), acc[u]);
  for (; k + P <= K; k += P) acc[0] = ei::pmadd(ei::ploadu<Packet<T>>(a + k), ei::ploadu<Packet<T>>(b + k), acc[0]);
  T s = ei::predux(ei::padd(ei::padd(acc[0], acc[1]), ei::padd(acc[2], acc[3])));
  for (; k < K; ++k) s = std::fma(a[k], b[k], s);
  return s;
}

}  // namespace

template <class T>
void row_dot_product(const T* a, Index lda, Index n, Index K, const T* bt, Index ldbt, Index M, const T* bias, T* out,
                     Index ldo) {
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < M; ++j) out[i * ldo + j] = dot(a + i * lda, bt + j * ldbt, K) + (bias ? bias[j] : T(0));
}

template <class T>
Index packet_size() {
  return kernel_target() == KernelTarget::Avx512 ? 64 / Index(sizeof(T)) : 32 / Index(sizeof(T));
}

template <class T>
void row_product(const T* a, Index lda, Index n, Index K, const T* b, Index ldb, Index M, const T* bias, T* out,
                 Index ldo) {
  if (kernel_target() == KernelTarget::Avx512) row_product_avx512<T>(a, lda, n, K, b, ldb, M, bias, out, ldo);
  else row_product_avx2<T>(a, lda, n, K, b, ldb, M, bias, out, ldo);
}

template Index packet_size<float>();
template Index packet_size<double>();
template void row_dot_product<float>(const float*, Index, Index, Index, const float*, Index, Index, const float*,
                                     float*, Index);
template void row_dot_product<double>(const double*, Index, Index, Index, const double*, Index, Index, const double*,
                                      double*, Index);
template void row_product<float>(const float*, Index, Index, Index, const float*, Index, Index, const float*, float*,
                                 Index);
template void row_product<double>(const double*, Index, Index, Index, const double*, Index, Index, const double*,
                                  double*, Index);

}  // namespace ebm::ad::kernels
