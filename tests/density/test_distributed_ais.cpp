// AIS with its chains shared among K processes (threads here, tests/support/thread_world.hpp):
// log Z, its error, ESS, step and acceptance are the bits of one process for K = 2, 3, 7, and
// a failure on one process is thrown on all.
#include "support/thread_world.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/energy/analytic.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using ebm::Index;

ebm::AisOptions options() {
  ebm::AisOptions o;
  o.chains = 61;  // not a multiple of any K below: uneven shares
  o.temperatures = 40;
  o.mala_steps = 2;
  o.seed = 9;
  return o;
}

TEST(DistributedAis, EveryProcessCountGivesTheBitsOfOne) {
  ebm::set_num_threads(1);
  const ebm::Gaussian<double> g(ebm::RowVec<double>::Constant(3, 0.5), ebm::MatD::Identity(3, 3) * 2.0);
  const ebm::LogZResult one = ebm::log_normalizer_ais<double>(g, options());
  for (int k : {2, 3, 7}) {
    std::vector<ebm::LogZResult> results(static_cast<std::size_t>(k));
    ebm_test::ThreadWorld::run(k, [&](const ebm::Communicator& comm) {
      ebm::AisOptions o = options();
      o.communicator = &comm;
      results[static_cast<std::size_t>(comm.rank())] = ebm::log_normalizer_ais<double>(g, o);
    });
    for (const ebm::LogZResult& r : results) {
      EXPECT_EQ(r.log_z, one.log_z) << k << " processes";
      EXPECT_EQ(r.error_estimate, one.error_estimate) << k << " processes";
      EXPECT_EQ(r.ess, one.ess) << k << " processes";
      EXPECT_EQ(r.step_size, one.step_size) << k << " processes";
      EXPECT_EQ(r.acceptance_rate, one.acceptance_rate) << k << " processes";
      EXPECT_EQ(r.evaluations, one.evaluations) << k << " processes";
    }
  }
}

// An energy that is NaN at one point of process 1's chains only.
TEST(DistributedAis, ANaNOnOneProcessStopsThemAll) {
  ebm::set_num_threads(1);
  std::vector<std::string> messages(3);
  ebm_test::ThreadWorld::run(3, [&](const ebm::Communicator& comm) {
    const bool poisoned = comm.rank() == 1;
    ebm::EnergyFunction<double> energy = [poisoned](const ebm::MatD& x, ebm::Vec<double>& e, ebm::MatD* s) {
      e = 0.5 * x.rowwise().squaredNorm();
      if (poisoned) e(0) = std::numeric_limits<double>::quiet_NaN();
      if (s) *s = -x;
    };
    ebm::AisOptions o = options();
    o.communicator = &comm;
    try {
      (void)ebm::log_normalizer_ais<double>(2, energy, o);
    } catch (const ebm::Error& e) {
      messages[static_cast<std::size_t>(comm.rank())] = e.what();
    }
  });
  for (const std::string& m : messages) {
    EXPECT_NE(m.find("nan"), std::string::npos) << m;
    EXPECT_EQ(m, messages[1]);
  }
}

}  // namespace
