#include <ebm/core/rng.hpp>

#include <ebm/core/check.hpp>

#include <Eigen/Core>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

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

// fill(block words, buf) writes the draws of a block into buf[0, per): straight into the output
// for whole blocks, through a buffer for a partial last one.
template <class T, class Fill>
void fill_blocks(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::span<T> out, Fill fill) {
  constexpr std::size_t per = draws_per_block<T>();
  const std::size_t whole = out.size() / per;
  for (std::size_t block = 0; block < whole; ++block) fill(block_at(seed, stream, counter, block), out.data() + block * per);
  if (const std::size_t rest = out.size() - whole * per; rest > 0) {
    T buf[per];
    fill(block_at(seed, stream, counter, whole), buf);
    std::copy(buf, buf + rest, out.data() + whole * per);
  }
}

// Box-Muller pairs: pair p is draws 2p (r sin theta) and 2p + 1 (r cos theta), with
// theta = pi * uneg11 and r = sqrt(-2 log u01) (u01 is never 0). For float, pair k of a block
// takes the angle from the low and the radius from the high half of word k; for double, pair j
// takes the angle from word 2j and the radius from word 2j + 1.
//
// The transform runs over aligned scratch padded to whole packets, one packet at a time, so that
// every element goes through Eigen's packet log/sqrt/sin/cos. Eigen would compute an unaligned
// head or a partial tail with scalar std:: functions, which round differently, and a draw would
// depend on the request length. Packet functions are lane-wise, so a pair's draws do not depend
// on its slot either, and a chunk may mix pairs of several streams (normal_rows).
constexpr std::size_t kChunkPairs = 256;

template <class T>
class PairChunk {
 public:
  static constexpr std::size_t P = Eigen::internal::packet_traits<T>::size;
  static constexpr std::size_t kPerBlock = draws_per_block<T>() / 2;  // pairs per block
  static_assert(kChunkPairs % P == 0 && kChunkPairs % kPerBlock == 0 && P * sizeof(T) <= 64);

  // Queues the draws of one stream for out[0, n); transforms and writes out what is queued
  // whenever the chunk is full.
  void queue(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, T* out, std::size_t n) {
    const std::size_t pairs = (n + 1) / 2;
    for (std::size_t p = 0; p < pairs;) {  // p is a multiple of kPerBlock
      if (size_ + kPerBlock > kChunkPairs) flush();
      const std::size_t take = std::min((kChunkPairs - size_) / kPerBlock * kPerBlock, pairs - p);
      const std::size_t blocks = (take + kPerBlock - 1) / kPerBlock;
      T* a = angle_ + size_;
      T* u = radius_ + size_;
      for (std::size_t b = 0; b < blocks; ++b, a += kPerBlock, u += kPerBlock) {
        const auto r = block_at(seed, stream, counter, p / kPerBlock + b);
        if constexpr (sizeof(T) == 4) {
          for (int k = 0; k < 4; ++k) {
            a[k] = r123::uneg11<T>(static_cast<std::uint32_t>(r.v[k]));
            u[k] = r123::u01<T>(static_cast<std::uint32_t>(r.v[k] >> 32));
          }
        } else {
          for (int j = 0; j < 2; ++j) {
            a[j] = r123::uneg11<T>(r.v[2 * j]);
            u[j] = r123::u01<T>(r.v[2 * j + 1]);
          }
        }
      }
      run_[runs_++] = Run{out + 2 * p, take, std::min(2 * take, n - 2 * p)};
      size_ += take;
      p += take;
    }
  }

  void flush() {
    if (size_ == 0) return;
    const std::size_t padded = (size_ + P - 1) / P * P;
    for (std::size_t j = size_; j < padded; ++j) {  // values harmless to log/sin/cos
      angle_[j] = T(0.5);
      radius_[j] = T(1);
    }
    using Packet = Eigen::Map<Eigen::Array<T, P, 1>, Eigen::Aligned64>;
    constexpr bool packet_trig = Eigen::internal::packet_traits<T>::HasSin && Eigen::internal::packet_traits<T>::HasCos;
    for (std::size_t k = 0; k < padded; k += P) {
      Packet a(angle_ + k), u(radius_ + k), s(zs_ + k), c(zc_ + k);
      u = (T(-2) * u.log()).sqrt();
      if constexpr (packet_trig) {
        s = (a * std::numbers::pi_v<T>).sin() * u;
        c = (a * std::numbers::pi_v<T>).cos() * u;
      }
    }
    if constexpr (!packet_trig) {
      // Eigen 3.4 has no packet sin/cos for double: scalar ones, the same for every element.
      for (std::size_t j = 0; j < size_; ++j) {
        const T theta = std::numbers::pi_v<T> * angle_[j];
        zs_[j] = std::sin(theta) * radius_[j];
        zc_[j] = std::cos(theta) * radius_[j];
      }
    }
    const T* __restrict zs = zs_;  // the output never overlaps the scratch
    const T* __restrict zc = zc_;
    for (std::size_t i = 0, slot = 0; i < runs_; slot += run_[i].pairs, ++i) {
      T* __restrict o = run_[i].out;
      const std::size_t whole = run_[i].n / 2;
      for (std::size_t j = 0; j < whole; ++j) {
        o[2 * j] = zs[slot + j];
        o[2 * j + 1] = zc[slot + j];
      }
      if (run_[i].n % 2) o[2 * whole] = zs[slot + whole];
    }
    runs_ = 0;
    size_ = 0;
  }

 private:
  alignas(64) T angle_[kChunkPairs];
  alignas(64) T radius_[kChunkPairs];
  alignas(64) T zs_[kChunkPairs];
  alignas(64) T zc_[kChunkPairs];
  // Where the queued pairs go, in slot order: pairs 2k, 2k + 1 of a run to out[2k], out[2k + 1],
  // the first n draws of the run.
  struct Run {
    T* out;
    std::size_t pairs, n;
  };
  Run run_[kChunkPairs];
  std::size_t size_ = 0, runs_ = 0;
};

}  // namespace

void CounterRng::raw_block(std::uint64_t counter, std::uint64_t block, std::uint64_t out[4]) const {
  const auto r = block_at(seed_, stream_, counter, block);
  for (int k = 0; k < 4; ++k) out[k] = r.v[k];
}

template <class T>
void CounterRng::uniform(std::uint64_t counter, std::span<T> out) const {
  fill_blocks<T>(seed_, stream_, counter, out, [](const Philox::ctr_type& r, T* buf) {
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
  PairChunk<T> chunk;
  chunk.queue(seed_, stream_, counter, out.data(), out.size());
  chunk.flush();
}

namespace {

// Rows of `cols` normal draws, row i from stream + i (by_counter false) or counter + i (true).
template <class T>
void normal_table(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::size_t cols, std::span<T> out,
                  bool by_counter, const char* where) {
  require(cols > 0 && out.size() % cols == 0, where, [&] {
    return "out.size() (" + std::to_string(out.size()) + ") must be a positive multiple of cols, got cols = " +
           std::to_string(cols);
  });
  PairChunk<T> chunk;
  for (std::size_t i = 0, rows = out.size() / cols; i < rows; ++i)
    chunk.queue(seed, by_counter ? stream : stream + i, by_counter ? counter + i : counter, out.data() + i * cols, cols);
  chunk.flush();
}

}  // namespace

template <class T>
void CounterRng::normal_rows(std::uint64_t counter, std::size_t cols, std::span<T> out) const {
  normal_table(seed_, stream_, counter, cols, out, false, "ebm::CounterRng::normal_rows");
}

template <class T>
void CounterRng::normal_steps(std::uint64_t first_counter, std::size_t cols, std::span<T> out) const {
  normal_table(seed_, stream_, first_counter, cols, out, true, "ebm::CounterRng::normal_steps");
}

template <class T>
void CounterRng::rademacher(std::uint64_t counter, std::span<T> out) const {
  fill_blocks<T>(seed_, stream_, counter, out, [](const Philox::ctr_type& r, T* buf) {
    constexpr std::size_t per = draws_per_block<T>();
    // Arithmetic rather than a select: the bits are random, so a branch mispredicts half the time.
    for (std::size_t k = 0; k < per; ++k)
      buf[k] = static_cast<T>(2 * static_cast<int>((r.v[k % 4] >> (k / 4)) & 1u) - 1);
  });
}

template void CounterRng::uniform<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::uniform<double>(std::uint64_t, std::span<double>) const;
template void CounterRng::normal<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::normal<double>(std::uint64_t, std::span<double>) const;
template void CounterRng::normal_rows<float>(std::uint64_t, std::size_t, std::span<float>) const;
template void CounterRng::normal_rows<double>(std::uint64_t, std::size_t, std::span<double>) const;
template void CounterRng::normal_steps<float>(std::uint64_t, std::size_t, std::span<float>) const;
template void CounterRng::normal_steps<double>(std::uint64_t, std::size_t, std::span<double>) const;
template void CounterRng::rademacher<float>(std::uint64_t, std::span<float>) const;
template void CounterRng::rademacher<double>(std::uint64_t, std::span<double>) const;

}  // namespace ebm
