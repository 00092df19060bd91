#include <ebm/core/communicator.hpp>

#include <ebm/core/bytes.hpp>
#include <ebm/core/error.hpp>

#include <new>

namespace ebm {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Gathered all_gather(std::string_view mine) const override { return Gathered(std::string(mine), {{0, mine.size()}}); }
};

// A failure travels as one kind letter and its message, so that every rank throws the same
// class (the command line's exit code depends on it) with the same text.
std::string encode(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const InvalidArgument& e) {
    return std::string("A") + e.what();
  } catch (const IoError& e) {
    return std::string("I") + e.what();
  } catch (const FormatError& e) {
    return std::string("F") + e.what();
  } catch (const NumericalError& e) {
    return std::string("N") + e.what();
  } catch (const std::bad_alloc&) {
    return "Mout of memory";
  } catch (const std::exception& e) {
    return std::string("E") + e.what();
  } catch (...) {
    return "Eunknown failure";
  }
}

[[noreturn]] void throw_decoded(const std::string& code) {
  const std::string what = code.substr(1);
  switch (code[0]) {
    case 'A': throw InvalidArgument(what);
    case 'I': throw IoError(what);
    case 'F': throw FormatError(what);
    case 'N': throw NumericalError(what);
    case 'M': throw std::bad_alloc();
    default: throw Error(what);
  }
}

thread_local std::uint64_t agreed_count = 0;

}  // namespace

std::uint64_t agreed_failures() {
  return agreed_count;
}

const Communicator& single_process() {
  static const SingleProcess one;
  return one;
}

void agree(const Communicator& comm, std::exception_ptr failure) {
  (void)gather_agreed(comm, {}, failure);
}

namespace {

// '+' and the payload, or '-' and the failure's code.
std::string with_status(std::string_view payload, const std::string& failure_code, bool failed) {
  const std::string_view body = failed ? std::string_view(failure_code) : payload;
  std::string message(body.size() + 1, failed ? '-' : '+');
  body.copy(message.data() + 1, body.size());
  return message;
}

// Throws as agree() does when any message carries a failure; else drops the status bytes.
void settle(Gathered& all, std::exception_ptr failure) {
  std::string_view failed;
  for (int r = 0; r < all.size() && failed.empty(); ++r)
    if (all[r].empty() || all[r][0] != '+') failed = all[r].empty() ? std::string_view("-Ea rank sent nothing") : all[r];
  if (!failed.empty()) ++agreed_count;
  if (failure) std::rethrow_exception(failure);
  if (!failed.empty()) throw_decoded(std::string(failed.substr(1)));
  all.skip(1);
}

}  // namespace

Gathered Communicator::all_to_all(const std::vector<std::string>& to_each) const {
  // Everyone's messages to everyone; rank r keeps the r-th of every sender's.
  ByteWriter mine;
  for (const std::string& m : to_each) mine.text(m);
  const Gathered all = all_gather(mine.take());
  std::string bytes;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (int from = 0; from < all.size(); ++from) {
    ByteReader in(all[from]);
    for (int to = 0; to < size(); ++to) {
      const std::string m = in.text();
      if (to != rank()) continue;
      ranges.emplace_back(bytes.size(), bytes.size() + m.size());
      bytes += m;
    }
  }
  return Gathered(std::move(bytes), std::move(ranges));
}

Gathered gather_agreed(const Communicator& comm, std::string_view mine, std::exception_ptr failure) {
  if (comm.size() == 1) {
    if (failure) std::rethrow_exception(failure);
    return Gathered(std::string(mine), {{0, mine.size()}});
  }
  const std::string code = failure ? encode(failure) : std::string();
  Gathered all = comm.all_gather(with_status(mine, code, failure != nullptr));
  settle(all, failure);
  return all;
}

Gathered exchange_agreed(const Communicator& comm, const std::vector<std::string>& to_each, std::exception_ptr failure) {
  if (comm.size() == 1) {
    if (failure) std::rethrow_exception(failure);
    return Gathered(to_each.at(0), {{0, to_each.at(0).size()}});
  }
  const std::string code = failure ? encode(failure) : std::string();
  std::vector<std::string> messages(static_cast<std::size_t>(comm.size()));
  for (std::size_t q = 0; q < messages.size(); ++q)
    messages[q] = with_status(failure || q >= to_each.size() ? std::string_view() : std::string_view(to_each[q]), code, failure != nullptr);
  Gathered all = comm.all_to_all(messages);
  settle(all, failure);
  return all;
}

Share share_of(long long pieces, int rank, int ranks) {
  return {pieces * rank / ranks, pieces * (rank + 1) / ranks};
}

}  // namespace ebm
