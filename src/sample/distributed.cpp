#include <ebm/sample/distributed.hpp>

#include <ebm/core/bytes.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace ebm {
namespace {

// A process's chains as bytes: every field of the result that is per chain or per draw, in
// order, and the totals.
template <class T>
std::string encode_chains(const SampleResult<T>& r) {
  ByteWriter w;
  w.matrix(r.samples);
  w.value(static_cast<std::int64_t>(r.draws_per_chain));
  w.values(std::vector<std::int64_t>(r.chains_kept.begin(), r.chains_kept.end()));
  w.matrix(r.trace);
  w.value(static_cast<std::int64_t>(r.trace_length));
  w.matrix(r.final_state);
  w.values(std::vector<T>(r.step_size.data(), r.step_size.data() + r.step_size.size()));
  w.values(r.accepted);
  w.values(r.proposed);
  w.values(r.stats.acceptance);
  w.values(r.stats.divergent);
  w.values(r.stats.tree_depth);
  w.values(r.stats.gradients);
  w.values(r.stats.hamiltonian);
  w.value(r.gradient_evaluations);
  w.value(r.warmup_gradient_evaluations);
  std::vector<std::int64_t> failed, at;
  for (const auto& [chain, step] : r.failures) {
    failed.push_back(chain);
    at.push_back(step);
  }
  w.values(failed);
  w.values(at);
  w.value(static_cast<std::int64_t>(r.notes.size()));
  for (const std::string& n : r.notes) w.text(n);
  w.value(r.seconds);
  w.value(r.warmup_seconds);
  return w.take();
}

// The processes' matrices one under another, copied once.
template <class T>
Mat<T> stack(const std::vector<Mat<T>>& parts) {
  Index rows = 0, cols = 0;
  for (const Mat<T>& m : parts)
    if (m.rows() > 0) {
      rows += m.rows();
      cols = m.cols();
    }
  Mat<T> all(rows, cols);
  Index at = 0;
  for (const Mat<T>& m : parts)
    if (m.rows() > 0) {
      all.middleRows(at, m.rows()) = m;
      at += m.rows();
    }
  return all;
}

template <class V>
void extend(std::vector<V>& all, const std::vector<V>& more) {
  all.insert(all.end(), more.begin(), more.end());
}

// Appends process `rank`'s chains (encode_chains) to `all`. Kernel notes summarise a process's
// own chains (tempering's swap rates), so they are kept with the process they describe.
// The matrices and step sizes are collected in `parts` and stacked once at the end.
template <class T>
struct Parts {
  std::vector<Mat<T>> samples, trace, final_state;
  std::vector<T> step_size;
};

template <class T>
void append_chains(SampleResult<T>& all, Parts<T>& parts, std::string_view bytes, int rank, int processes) {
  ByteReader in(bytes);
  parts.samples.push_back(in.matrix<T>());
  all.draws_per_chain = static_cast<Index>(in.value<std::int64_t>());
  for (std::int64_t c : in.values<std::int64_t>()) all.chains_kept.push_back(static_cast<Index>(c));
  parts.trace.push_back(in.matrix<T>());
  all.trace_length = static_cast<Index>(in.value<std::int64_t>());
  parts.final_state.push_back(in.matrix<T>());
  extend(parts.step_size, in.values<T>());
  extend(all.accepted, in.values<std::int64_t>());
  extend(all.proposed, in.values<std::int64_t>());
  extend(all.stats.acceptance, in.values<T>());
  extend(all.stats.divergent, in.values<char>());
  extend(all.stats.tree_depth, in.values<int>());
  extend(all.stats.gradients, in.values<int>());
  extend(all.stats.hamiltonian, in.values<T>());
  all.gradient_evaluations += in.value<std::int64_t>();
  all.warmup_gradient_evaluations += in.value<std::int64_t>();
  const std::vector<std::int64_t> failed = in.values<std::int64_t>(), at = in.values<std::int64_t>();
  for (std::size_t i = 0; i < failed.size() && i < at.size(); ++i) all.failures.emplace_back(failed[i], at[i]);
  const auto notes = in.value<std::int64_t>();
  for (std::int64_t i = 0; i < notes; ++i)
    all.notes.push_back("process " + std::to_string(rank) + " of " + std::to_string(processes) + ": " + in.text());
  all.seconds = std::max(all.seconds, in.value<double>());  // the processes ran side by side
  all.warmup_seconds = std::max(all.warmup_seconds, in.value<double>());
}

}  // namespace

template <class T>
SampleResult<T> gather_chains(const Communicator& comm, SampleResult<T> mine, std::exception_ptr failure) {
  if (comm.size() == 1) {
    if (failure) std::rethrow_exception(failure);
    return mine;
  }
  const Gathered all = gather_agreed(comm, failure ? std::string() : encode_chains(mine), failure);
  SampleResult<T> joined;
  Parts<T> parts;
  for (int k = 0; k < all.size(); ++k) append_chains(joined, parts, all[k], k, comm.size());
  joined.samples = stack(parts.samples);
  joined.trace = stack(parts.trace);
  joined.final_state = stack(parts.final_state);
  joined.step_size = Eigen::Map<const Vec<T>>(parts.step_size.data(), static_cast<Index>(parts.step_size.size()));
  joined.sampler = mine.sampler;
  return joined;
}

template SampleResult<float> gather_chains<float>(const Communicator&, SampleResult<float>, std::exception_ptr);
template SampleResult<double> gather_chains<double>(const Communicator&, SampleResult<double>, std::exception_ptr);

}  // namespace ebm
