#include <ebm/core/communicator.hpp>

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

Gathered gather_agreed(const Communicator& comm, std::string_view mine, std::exception_ptr failure) {
  if (comm.size() == 1) {
    if (failure) std::rethrow_exception(failure);
    return Gathered(std::string(mine), {{0, mine.size()}});
  }
  // '+' and the payload, or '-' and the failure's code.
  const std::string code = failure ? encode(failure) : std::string();
  const std::string_view body = failure ? std::string_view(code) : mine;
  std::string message(body.size() + 1, failure ? '-' : '+');
  body.copy(message.data() + 1, body.size());
  Gathered all = comm.all_gather(message);
  std::string_view failed;
  for (int r = 0; r < all.size() && failed.empty(); ++r)
    if (all[r].empty() || all[r][0] != '+') failed = all[r].empty() ? std::string_view("-Ea rank sent nothing") : all[r];
  if (!failed.empty()) ++agreed_count;
  if (failure) std::rethrow_exception(failure);
  if (!failed.empty()) throw_decoded(std::string(failed.substr(1)));
  all.skip(1);
  return all;
}

Share share_of(long long pieces, int rank, int ranks) {
  return {pieces * rank / ranks, pieces * (rank + 1) / ranks};
}

}  // namespace ebm
