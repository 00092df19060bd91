// The ebm command as a user meets it: exit codes, one-line errors, and the JSON lines of
// `ebm bench --peer --json` in the schema shared/bench/compare.py reads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace {

struct CommandResult {
  int exit_code;
  std::string out, err;
};

CommandResult run(const std::string& args) {
  const std::string err_file = ::testing::TempDir() + "ebm_cli_stderr.txt";
  const std::string command = std::string(EBM_CLI_PATH) + " " + args + " 2>" + err_file;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "", "popen failed"};
  CommandResult r{0, "", ""};
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), pipe)) r.out += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = std::fopen(err_file.c_str(), "r")) {
    while (std::fgets(buf.data(), buf.size(), f)) r.err += buf.data();
    std::fclose(f);
  }
  return r;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Cli, VersionAndHelp) {
  const CommandResult v = run("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("ebm ", 0), 0u) << v.out;
  const CommandResult h = run("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("bench"), std::string::npos);
}

TEST(Cli, UsageErrorsAreOneLineAndExitTwo) {
  for (const char* args : {"frobnicate", "bench --bogus", "bench --threads 0", "bench --threads abc",
                           "bench --only nothing"}) {
    const CommandResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("ebm: ", 0), 0u) << args << ": " << r.err;
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
