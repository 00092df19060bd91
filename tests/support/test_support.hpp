#pragma once
// What several test suites share: a scratch directory, whole-file reads and writes, matrices as
// text (numpy.loadtxt format, %.17g so doubles round-trip), running a Python oracle script,
// printing a measured value and checking an exception's type and message.
#include <ebm/core/types.hpp>

#include <gtest/gtest.h>

#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ebm_test {

namespace fs = std::filesystem;

inline constexpr const char* kPython = "/usr/bin/python3";
inline constexpr const char* kInstallHint =
    "PyTorch is needed as the reference: install python3-torch (scripts/setup.sh --with-test installs it)";

/// A fresh directory under the system temporary directory, deleted with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ebm-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// One TempDir for the whole test process, removed when the process exits: for tests whose
/// files outlive a scope.
inline const TempDir& process_temp_dir() {
  static const TempDir dir;
  return dir;
}


inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  // Removing first: ext4 flushes a file to disk when it is truncated and rewritten
  // (auto_da_alloc), which made loops over thousands of small files take seconds.
  std::error_code ignored;
  fs::remove(path, ignored);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

/// One matrix row per line, entries separated by spaces.
inline void write_text_matrix(const fs::path& file, const ebm::MatD& m) {
  std::ofstream out(file);
  out << std::setprecision(17);
  for (ebm::Index r = 0; r < m.rows(); ++r) {
    for (ebm::Index c = 0; c < m.cols(); ++c) out << (c > 0 ? " " : "") << m(r, c);
    out << '\n';
  }
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline ebm::MatD read_text_matrix(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<double> row;
    for (double v = 0; fields >> v;) row.push_back(v);
    if (!fields.eof()) throw std::runtime_error(file.string() + ": cannot parse line '" + line + "'");
    if (!row.empty()) rows.push_back(std::move(row));
  }
  const std::size_t cols = rows.empty() ? 0 : rows.front().size();
  ebm::MatD m(static_cast<ebm::Index>(rows.size()), static_cast<ebm::Index>(cols));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != cols) throw std::runtime_error(file.string() + ": rows of different lengths");
    for (std::size_t c = 0; c < cols; ++c) m(static_cast<ebm::Index>(r), static_cast<ebm::Index>(c)) = rows[r][c];
  }
  return m;
}

/// Runs `/usr/bin/python3 script args...` (script relative to the tests folder), its stderr to
/// log. Returns an error message, empty on success. Exit status 2 is the scripts' "cannot import
/// torch/numpy", which gets the install hint. A missing interpreter is an error, not a skip.
inline std::string run_python(const std::string& script, const std::vector<std::string>& args, const fs::path& log) {
  if (!fs::exists(kPython)) return std::string(kPython) + " not found. " + kInstallHint;
  std::string command = std::string(kPython) + " '" + (fs::path(EBM_TEST_DIR) / script).string() + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  command += " 2> '" + log.string() + "'";
  const int status = std::system(command.c_str());
  if (status == 0) return {};
  std::ostringstream message;
  message << command << " failed (";
  const bool exited = status != -1 && WIFEXITED(status);
  if (exited) message << "exit status " << WEXITSTATUS(status);
  else message << "status " << status;
  message << "):\n" << read_bytes(log.string());
  if (exited && WEXITSTATUS(status) == 2) message << "\n" << kInstallHint;
  return message.str();
}

/// Prints a measured number in the test log, so that runs record what the assertions saw.
inline void measured(const std::string& what, double value) { std::printf("[ measured ] %s: %.6g\n", what.c_str(), value); }

/// Expects f to throw an E whose message contains fragment.
template <class E>
void expect_throws_with(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "no exception, expected one containing \"" << fragment << "\"";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    FAIL() << "wrong exception type: " << e.what();
  }
}

}  // namespace ebm_test
