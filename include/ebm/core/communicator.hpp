#pragma once
// The processes of a run and the one collective ebm needs between them. ebm's distributed code
// (data-parallel training, sharded sampling) is written against this interface: one process is
// single_process(), an MPI job is ebm/mpi/mpi_communicator.hpp, tests use threads. Results
// never depend on the number of processes: work is split into pieces fixed by the shapes, and
// pieces are combined in an order fixed by the shapes too (docs/scaling.md).
#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ebm {

/// Every rank's message of one exchange, in rank order, in one buffer (no copy per rank).
class Gathered {
 public:
  Gathered() = default;
  Gathered(std::string bytes, std::vector<std::pair<std::size_t, std::size_t>> ranges)
      : bytes_(std::move(bytes)), ranges_(std::move(ranges)) {}
  int size() const { return static_cast<int>(ranges_.size()); }
  /// Rank r's message (valid while this object lives).
  std::string_view operator[](int r) const {
    const auto& [begin, end] = ranges_[static_cast<std::size_t>(r)];
    return std::string_view(bytes_).substr(begin, end - begin);
  }
  /// Drops the first `n` bytes of every message (a header read by the caller).
  void skip(std::size_t n) {
    for (auto& range : ranges_) range.first = std::min(range.first + n, range.second);
  }

 private:
  std::string bytes_;
  std::vector<std::pair<std::size_t, std::size_t>> ranges_;  // [begin, end) of each rank's message
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;  // >= 1
  /// Collective: every rank's `mine` (bytes of any length), indexed by rank. Every rank must
  /// call it the same number of times. ebm calls it only through gather_agreed(), whose messages
  /// carry each rank's failure: a rank that fails anywhere then joins the next exchange with its
  /// failure (agreed() around its work), and every rank stops there instead of waiting.
  virtual Gathered all_gather(std::string_view mine) const = 0;
  /// Collective: to_each[q] (size() messages) goes to rank q; returns what each rank sent to
  /// this one, by rank. The default sends everything to everyone through all_gather (right,
  /// but K times the traffic); an MPI communicator overrides it with MPI_Alltoallv.
  virtual Gathered all_to_all(const std::vector<std::string>& to_each) const;
};

/// The communicator of a lone process (rank 0 of 1).
const Communicator& single_process();

/// Collective: the ranks agree on whether any of them failed. `failure` is this rank's (null if
/// none). When any rank failed, every rank throws: the failing rank its own exception, the
/// others one of the same class (InvalidArgument, IoError, FormatError, NumericalError,
/// std::bad_alloc; else ebm::Error) with the lowest failing rank's message, so every rank stops
/// with the same line and exit code instead of waiting for the one that stopped.
void agree(const Communicator& comm, std::exception_ptr failure);

/// Collective: all_gather of `mine` and agree() on `failure` in one exchange. Returns the
/// payloads by rank, or throws as agree() does when any rank failed.
Gathered gather_agreed(const Communicator& comm, std::string_view mine, std::exception_ptr failure);

/// Collective: all_to_all of `to_each` and agree() on `failure` in one exchange (as
/// gather_agreed; a failing rank's to_each is ignored).
Gathered exchange_agreed(const Communicator& comm, const std::vector<std::string>& to_each, std::exception_ptr failure);

/// How many failures gather_agreed() has thrown on this thread: a failure that came out of an
/// agreement is known to every rank already and must not be agreed on again.
std::uint64_t agreed_failures();

/// Runs `work` and then agree(): the collective form of a piece of work that may throw.
template <class Work>
void agreed(const Communicator& comm, Work&& work) {
  const std::uint64_t before = agreed_failures();
  std::exception_ptr failure;
  try {
    work();
  } catch (...) {
    if (agreed_failures() != before) throw;  // every rank is stopping already
    failure = std::current_exception();
  }
  agree(comm, failure);
}

/// Contiguous near-equal shares of `pieces` over the ranks: rank r takes [first, last).
struct Share {
  long long first = 0, last = 0;
};
Share share_of(long long pieces, int rank, int ranks);

}  // namespace ebm
