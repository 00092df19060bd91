#pragma once
// Helpers the kernels share (private to src/sample).
#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/types.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace ebm::sample_detail {

// Per-chain O(D) work only pays for threads with many chains (a parallel region costs
// microseconds, far more on a loaded machine). Chains are independent: any split gives the
// same bits.
constexpr Index kChainsPerChunk = 512;

template <class Body>
void for_chains(Index chains, Body&& body) {
  if (chains <= kChainsPerChunk) {
    body(Index(0), chains);
    return;
  }
  parallel_for_chunks(chains, kChainsPerChunk, body);
}

template <class T>
bool finite_row(const Mat<T>& m, Index r) {
  return all_finite(m.data() + r * m.cols(), m.cols());
}

inline bool alive(const std::vector<char>& a, Index c) { return a[static_cast<std::size_t>(c)] != 0; }

// A value as validation messages print it.
template <class T>
std::string value_text(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
template <class T>
std::string name_value(const char* name, T v) {
  return std::string(name) + " = " + value_text(v);
}

}  // namespace ebm::sample_detail
