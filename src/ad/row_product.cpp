#include "row_product.hpp"

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

// R rows x V packets of output columns, accumulated in registers over all of k. Every output
// element gets the same instruction sequence whatever R and V are, so blocking never changes
// a result.
template <class T, int R, int V>
inline void block(const T* a, Index lda, const T* b, Index ldb, Index K, const T* bias, T* out, Index ldo, Index cols) {
  constexpr int P = kPacket<T>;
  Packet<T> acc[R][V];
  for (int v = 0; v < V; ++v) {
    const Packet<T> start = bias ? ei::ploadu<Packet<T>>(bias + v * P) : ei::pset1<Packet<T>>(T(0));
    for (int r = 0; r < R; ++r) acc[r][v] = start;
  }
  for (Index k = 0; k < K; ++k) {
    Packet<T> bk[V];
    for (int v = 0; v < V; ++v) bk[v] = ei::ploadu<Packet<T>>(b + k * ldb + v * P);
    for (int r = 0; r < R; ++r) {
      const Packet<T> ar = ei::pset1<Packet<T>>(a[r * lda + k]);
      for (int v = 0; v < V; ++v) acc[r][v] = ei::pmadd(ar, bk[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      const Index c0 = v * P;
      if (c0 + P <= cols) {
        ei::pstoreu(out + r * ldo + c0, acc[r][v]);
      } else if (c0 < cols) {
        alignas(64) T lanes[P];
        ei::pstoreu(lanes, acc[r][v]);
        std::copy(lanes, lanes + (cols - c0), out + r * ldo + c0);
      }
    }
  }
}

// All rows against one panel of V packets of columns (the panel stays in L1 across rows).
#if defined(__AVX512F__)
constexpr int kRegisters = 32;
#else
constexpr int kRegisters = 16;  // AVX2
#endif

template <class T, int V>
void panel(const T* a, Index lda, Index n, const T* b, Index ldb, Index K, const T* bias, T* out, Index ldo,
           Index cols) {
  // R x V accumulators plus V operand packets and a broadcast must fit the vector registers
  // (32 with AVX-512, 16 with AVX2); the blocking never changes a result (see block).
  constexpr int R = kRegisters == 32 ? (V >= 4 ? 6 : 8) : (V >= 4 ? 2 : V == 2 ? 6 : 8);
  Index i = 0;
  for (; i + R <= n; i += R) block<T, R, V>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  // The remaining rows in blocks of 4, 2, 1: enough independent chains to hide FMA latency.
  for (; i + 4 <= n; i += 4) block<T, 4, V>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  for (; i + 2 <= n; i += 2) block<T, 2, V>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
  for (; i < n; ++i) block<T, 1, V>(a + i * lda, lda, b, ldb, K, bias, out + i * ldo, ldo, cols);
}

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
  return kPacket<T>;
}

template <class T>
void row_product(const T* a, Index lda, Index n, Index K, const T* b, Index ldb, Index M, const T* bias, T* out,
                 Index ldo) {
  constexpr Index P = kPacket<T>, W = 4 * P;
  Index j = 0;
  if (n < 6) {
    // Too few rows to hide the FMA latency with row blocks: run 16 or 8 column packets at once.
    for (; j + 4 * W <= M; j += 4 * W)
      for (Index i = 0; i < n; ++i) block<T, 1, 16>(a + i * lda, lda, b + j, ldb, K, bias ? bias + j : nullptr, out + i * ldo + j, ldo, 4 * W);
    for (; j + 2 * W <= M; j += 2 * W)
      for (Index i = 0; i < n; ++i) block<T, 1, 8>(a + i * lda, lda, b + j, ldb, K, bias ? bias + j : nullptr, out + i * ldo + j, ldo, 2 * W);
  }
  for (; j + W <= M; j += W) panel<T, 4>(a, lda, n, b + j, ldb, K, bias ? bias + j : nullptr, out + j, ldo, W);
  // Two packets at once (16 float columns: a conv layer of 16 channels) read a's rows half as often.
  for (; j + 2 * P <= M; j += 2 * P)
    panel<T, 2>(a, lda, n, b + j, ldb, K, bias ? bias + j : nullptr, out + j, ldo, 2 * P);
  for (; j < M; j += P) panel<T, 1>(a, lda, n, b + j, ldb, K, bias ? bias + j : nullptr, out + j, ldo, std::min(P, M - j));
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
