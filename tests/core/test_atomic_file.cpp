#include "support/test_support.hpp"
#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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
