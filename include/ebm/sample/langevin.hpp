#pragma once
// The Langevin update, x <- x + h s(x) + sqrt(2h) eps, for a batch of chains. Chain i's noise at
// step k comes from the counter-based stream (seed, stream = first_chain + i, counter = k), so
// results do not depend on the thread count or on how chains are split into batches.
#include <ebm/core/types.hpp>

#include <cstdint>

namespace ebm {

/// x (N x D) is updated in place from score (N x D, the score at x); h > 0.
template <class T>
void langevin_update(Mat<T>& x, const Mat<T>& score, T h, std::uint64_t seed, std::uint64_t step,
                     std::uint64_t first_chain = 0);

}  // namespace ebm
