#include <ebm/core/rng.hpp>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

namespace ebm {
namespace {

using Philox = r123::Philox4x64;

// Key = (seed, stream); counter = (counter, block, 0, 0): every (seed, stream, counter) owns
// 2^64 blocks of four 64-bit words.
inline Philox::ctr_type block_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter,
                                 std::uint64_t block) {
  Philox::ctr_type ctr = {{counter, block, 0, 0}};
  Philox::key_type key = {{seed, stream}};
  return Philox()(ctr, key);
}

// Each 64-bit word yields two 32-bit draws for float and one for double.
template <class T>
constexpr std::size_t draws_per_block() {
  return sizeof(T) == 4 ? 8 : 4;
}

// fill(block words, buf, n) writes at least the first n (<= per) draws of a block into buf.
template <class T, class Fill>
void fill_blocks(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::span<T> out, Fill fill) {
  constexpr std::size_t per = draws_per_block<T>();
  T buf[per];
  for (std::size_t start = 0, block = 0; start < out.size(); start += per, ++block) {
    const std::size_t n = std::min(per, out.size() - start);
    fill(block_at(seed, stream, counter, block), buf, n);
    for (std::size_t k = 0; k < n; ++k) out[start + k] = buf[k];
  }
}

}  // namespace

void CounterRng::raw_block(std::uint64_t counter, std::uint64_t block, std::uint64_t out[4]) const {
  const auto r = block_at(seed_, stream_, counter, block);
  for (int k = 0; k < 4; ++k) out[k] = r.v[k];
}

template <class T>
void CounterRng::uniform(std::uint64_t counter, std::span<T> out) const {
  fill_blocks<T>(seed_, stream_, counter, out, [](const Philox::ctr_type& r, T* buf, std::size_t) {
    if constexpr (sizeof(T) == 4) {
      for (int k = 0; k < 4; ++k) {
        buf[2 * k] = r123::u01fixedpt<T>(static_cast<std::uint32_t>(r.v[k]));
        buf[2 * k + 1] = r123::u01fixedpt<T>(static_cast<std::uint32_t>(r.v[k] >> 32));
      }
    } else {
      for (int k = 0; k < 4; ++k) buf[k] = r123::u01fixedpt<T>(r.v[k]);
    }
  });
}

template <class T>
void CounterRng::normal(std::uint64_t counter, std::span<T> out) const {
  // Box-Muller pairs from consecutive 32-bit halves (float) or whole words (double); only the
  // pairs a short request needs are computed, and draw i is the same whatever the request.
  fill_blocks<T>(seed_, stream_, counter, out, [](const Philox::ctr_type& r, T* buf, std::size_t n) {
    for (std::size_t pair = 0; 2 * pair < n; ++pair) {
      if constexpr (sizeof(T) == 4) {
        const std::uint64_t w = r.v[pair];
        const auto z = r123::boxmuller(static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(w >> 32));
        buf[2 * pair] = z.x;
        buf[2 * pair + 1] = z.y;
      } else {
        const auto z = r123::boxmuller(r.v[2 * pair], r.v[2 * pair + 1]);
        buf[2 * pair] = z.x;
        buf[2 * pair + 1] = z.y;
      }
    }
  });
}

template <class T>
void CounterRng::rademacher(std::uint64_t counter, std::span<T> out) const {
  fill_blocks<T>(seed_, stream_, counter, out, [](const Philox::ctr_type& r, T* buf, std::size_t) {
    constexpr std::size_t per = draws_per_block<T>();
    for (std::size_t k = 0; k < per; ++k) buf[k] = ((r.v[k % 4] >> (k / 4)) & 1u) ? T(1) : T(-1);
  });
}

template void CounterRng::uniform<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::uniform<double>(std::uint64_t, std::span<double>) const;
template void CounterRng::normal<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::normal<double>(std::uint64_t, std::span<double>) const;
template void CounterRng::rademacher<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::rademacher<double>(std::uint64_t, std::span<double>) const;

}  // namespace ebm
