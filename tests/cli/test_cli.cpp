// The ebm command as a user meets it: exit codes, one-line errors, and the JSON lines of
// `ebm bench --peer --json` in the schema shared/bench/compare.py reads.
#include "cli/cli_helpers.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

namespace {

using cli_test::CommandResult;
using cli_test::lines;
using cli_test::run;

TEST(Cli, VersionAndHelp) {
  const CommandResult v = run("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("ebm ", 0), 0u) << v.out;
  const CommandResult h = run("--help");
  EXPECT_EQ(h.exit_code, 0);
  for (const char* sub : {"bench", "data", "train", "sample", "energy", "score", "logp", "eval", "diag"})
    EXPECT_NE(h.out.find(sub), std::string::npos) << sub;
}

TEST(Cli, UsageErrorsAreOneLineAndExitTwo) {
  for (const char* args : {"frobnicate", "bench --bogus", "bench --threads 0", "bench --threads abc",
                           "bench --only nothing"}) {
    const CommandResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
    // "ebm: ..." or "ebm bench: ...": the command that failed, then what is wrong.
    EXPECT_EQ(r.err.rfind("ebm", 0), 0u) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << args << ": " << r.out;
  }
  EXPECT_NE(run("bench --threads 0").err.find("--threads"), std::string::npos);
  EXPECT_NE(run("bench --only nothing").err.find("nothing"), std::string::npos);
}

TEST(Cli, PeerJsonLinesFollowTheSharedSchema) {
  const CommandResult r = run("bench --peer --json --quick --threads 1 --only langevin");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("impl"), "ebm");
    EXPECT_EQ(j.at("workload"), "langevin");
    EXPECT_EQ(j.at("dim"), 2);
    EXPECT_EQ(j.at("width"), 128);
    EXPECT_EQ(j.at("threads"), 1);
    EXPECT_GT(j.at("ms").get<double>(), 0.0);
    EXPECT_GE(j.at("reps").get<int>(), 2);
    ++count;
  }
  EXPECT_EQ(count, 4);  // batches 1, 64, 4096, 65536
}

}  // namespace
