#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/sample/langevin.hpp>

#include <cmath>
#include <vector>

namespace ebm {

template <class T>
void langevin_update(Mat<T>& x, const Mat<T>& score, T h, std::uint64_t seed, std::uint64_t step,
                     std::uint64_t first_chain) {
  require_shape(score, x.rows(), x.cols(), "ebm::langevin_update", "score");
  require(h > T(0) && std::isfinite(h), "ebm::langevin_update", [&] { return "step size h must be positive, got " + std::to_string(h); });
  const T noise_scale = std::sqrt(T(2) * h);
  const Index d = x.cols();
  constexpr Index kChainsPerChunk = 1024;
  auto body = [&](Index r0, Index r1) {
    // Chains are consecutive streams: one call draws the noise of all of them.
    thread_local std::vector<T> noise;
    noise.resize(static_cast<std::size_t>((r1 - r0) * d));
    CounterRng(seed, first_chain + static_cast<std::uint64_t>(r0)).normal_rows<T>(step, static_cast<std::size_t>(d), noise);
    for (Index i = r0; i < r1; ++i) {
      const T* eps = noise.data() + (i - r0) * d;
      for (Index j = 0; j < d; ++j) x(i, j) += h * score(i, j) + noise_scale * eps[j];
    }
  };
  if (x.rows() <= kChainsPerChunk) body(0, x.rows());
  else parallel_for_chunks(x.rows(), kChainsPerChunk, body);
}

template void langevin_update<float>(Mat<float>&, const Mat<float>&, float, std::uint64_t, std::uint64_t, std::uint64_t);
template void langevin_update<double>(Mat<double>&, const Mat<double>&, double, std::uint64_t, std::uint64_t,
                                      std::uint64_t);

}  // namespace ebm
