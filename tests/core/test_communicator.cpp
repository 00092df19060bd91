// The collectives' contract on K ranks as threads: all_gather and all_to_all deliver by rank; a
// failure on one rank is thrown on every rank with its class and message; an agreed failure is
// not agreed again; share_of covers the pieces.
#include "support/thread_world.hpp"

#include <ebm/core/communicator.hpp>
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

namespace {

TEST(Communicator, AllGatherAndAllToAllDeliverByRank) {
  for (int k : {1, 2, 3, 5}) {
    std::mutex m;
    std::vector<std::string> problems;
    ebm_test::ThreadWorld::run(k, [&](const ebm::Communicator& comm) {
      const int me = comm.rank();
      const ebm::Gathered all = ebm::gather_agreed(comm, std::string(static_cast<std::size_t>(me), 'a' + static_cast<char>(me)), nullptr);
      std::vector<std::string> to_each;
      for (int q = 0; q < k; ++q) to_each.push_back(std::to_string(me) + ">" + std::to_string(q));
      const ebm::Gathered mine = ebm::exchange_agreed(comm, to_each, nullptr);
      std::lock_guard lock(m);
      for (int r = 0; r < k; ++r) {
        if (all[r] != std::string(static_cast<std::size_t>(r), 'a' + static_cast<char>(r))) problems.push_back("all_gather from " + std::to_string(r));
        if (mine[r] != std::to_string(r) + ">" + std::to_string(me)) problems.push_back("all_to_all " + std::string(mine[r]));
      }
    });
    EXPECT_TRUE(problems.empty()) << k << " ranks: " << problems.front();
  }
}

TEST(Communicator, AFailureOnOneRankIsThrownOnEveryRankWithItsClass) {
  std::vector<std::string> caught(3);
  ebm_test::ThreadWorld::run(3, [&](const ebm::Communicator& comm) {
    try {
      ebm::agreed(comm, [&] {
        if (comm.rank() == 1) throw ebm::FormatError("data1.csv: line 2: not a number");
      });
    } catch (const ebm::FormatError& e) {
      caught[static_cast<std::size_t>(comm.rank())] = e.what();
    }
  });
  for (const std::string& c : caught) EXPECT_EQ(c, "data1.csv: line 2: not a number");
}

// Rank 0 fails in its work; ranks 1 and 2 learn it inside an exchange nested in theirs: nobody
// agrees a second time (which would leave ranks waiting), everyone throws once.
TEST(Communicator, AnAgreedFailureIsNotAgreedAgain) {
  std::vector<int> throws(3, 0);
  ebm_test::ThreadWorld::run(3, [&](const ebm::Communicator& comm) {
    try {
      ebm::agreed(comm, [&] {
        if (comm.rank() == 0) throw ebm::NumericalError("NaN at step 3");
        ebm::agreed(comm, [] {});  // the others' next exchange
      });
    } catch (const ebm::NumericalError&) {
      ++throws[static_cast<std::size_t>(comm.rank())];
    }
  });
  EXPECT_EQ(throws, (std::vector<int>{1, 1, 1}));
}

TEST(Communicator, SharesCoverThePiecesInOrder) {
  for (long long pieces : {0LL, 1LL, 7LL, 64LL}) {
    for (int k : {1, 2, 3, 16}) {
      long long next = 0;
      for (int r = 0; r < k; ++r) {
        const ebm::Share s = ebm::share_of(pieces, r, k);
        EXPECT_EQ(s.first, next);
        EXPECT_LE(s.last - s.first, pieces / k + 1);
        next = s.last;
      }
      EXPECT_EQ(next, pieces);
    }
  }
}

}  // namespace
