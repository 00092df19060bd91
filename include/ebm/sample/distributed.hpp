#pragma once
// Chains shared among processes: each process runs a contiguous share of the chains (share_of,
// with ChainOptions::first_chain at its first chain), and gather_chains joins the shares in
// chain order. Every chain draws from its own stream, so the joined result is, field for field,
// the result of one process running every chain (samplers.hpp), whatever the number of processes.
#include <ebm/core/communicator.hpp>
#include <ebm/sample/run.hpp>

#include <exception>

namespace ebm {

/// Collective: every process's `mine` (the result of its share of the chains, or nothing when
/// `failure` is set) joined in rank order: samples, traces, final states, step sizes, counts and
/// per-draw statistics concatenated, evaluation counts added, times the longest. A kernel's notes
/// describe its own process's chains and are kept per process ("process 1 of 3: ..."). One
/// process: `mine` itself. A failure on any process is thrown on all (gather_agreed).
template <class T>
SampleResult<T> gather_chains(const Communicator& comm, SampleResult<T> mine, std::exception_ptr failure);

extern template SampleResult<float> gather_chains<float>(const Communicator&, SampleResult<float>, std::exception_ptr);
extern template SampleResult<double> gather_chains<double>(const Communicator&, SampleResult<double>, std::exception_ptr);

}  // namespace ebm
