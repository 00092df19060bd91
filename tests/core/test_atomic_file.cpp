#include "support/test_support.hpp"
#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path scratch(const char* name) { return ebm_test::process_temp_dir().path() / name; }

TEST(AtomicFile, CommitReplacesTheTarget) {
  const fs::path p = scratch("a.txt");
  { std::ofstream(p) << "old"; }
  {
    ebm::AtomicFile f(p.string());
    f.write("new content");
    EXPECT_EQ(slurp(p), "old");  // the target is untouched until commit
    f.commit();
  }
  EXPECT_EQ(slurp(p), "new content");
  for (const auto& entry : fs::directory_iterator(p.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST(AtomicFile, WithoutCommitNothingChangesAndNothingIsLeft) {
  const fs::path p = scratch("b.txt");
  { std::ofstream(p) << "keep"; }
  std::string temp;
  {
    ebm::AtomicFile f(p.string());
    temp = f.temp_path();
    f.write("half");
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_EQ(slurp(p), "keep");
  EXPECT_FALSE(fs::exists(temp));
}

TEST(AtomicFile, MissingDirectoryIsAnIoErrorNamingThePath) {
  try {
    ebm::AtomicFile f("/nonexistent-dir-ebm/x.bin");
    FAIL() << "expected IoError";
  } catch (const ebm::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-ebm/x.bin"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

TEST(AtomicFile, StaleTemporariesOfKilledWritersAreRemovedOnTheNextWrite) {
  // A writer killed mid-write leaves NAME.tmp-<pid>-<n>. A dead process's pid: a child that
  // has exited and been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const fs::path target = scratch("c.txt");
  const fs::path stale = target.string() + ".tmp-" + std::to_string(child) + "-7";
  const fs::path live = target.string() + ".tmp-" + std::to_string(::getppid()) + "-2";  // a running process
  const fs::path other = target.string() + ".tmp-notes";                               // not a temporary of ours
  for (const auto& p : {stale, live, other}) std::ofstream(p) << "partial";
  {
    ebm::AtomicFile f(target.string());
    f.write("done");
    f.commit();
  }
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(slurp(target), "done");
}

}  // namespace
