#pragma once
// Running the built `ebm` binary (EBM_CLI_PATH) from tests: exit code, stdout, stderr, and a
// scratch directory per test process (tests run as separate processes, possibly in parallel).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code;
  std::string out, err;
};

/// This process's scratch directory (removed at exit), with a trailing slash.
inline const std::string& scratch() {
  struct Dir {
    std::string path;
    Dir() {
      path = (fs::temp_directory_path() / ("ebm-cli-test-" + std::to_string(::getpid()))).string() + "/";
      fs::remove_all(path);
      fs::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// Runs `ebm <args>` in the scratch directory.
inline CommandResult run(const std::string& args) {
  const std::string err_file = scratch() + ".stderr";
  const std::string command = "cd '" + scratch() + "' && " + std::string(EBM_CLI_PATH) + " " + args + " 2>" + err_file;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "", "popen failed"};
  CommandResult r{0, "", ""};
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), pipe)) r.out += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

inline int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

inline std::string path(const std::string& name) { return scratch() + name; }

inline bool exists(const std::string& name) { return fs::exists(path(name)); }

inline std::string slurp(const std::string& name) {
  std::ifstream in(path(name), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_file(const std::string& name, const std::string& text) {
  std::ofstream out(path(name), std::ios::binary);
  out << text;
}

/// Leftover temporary files of atomic writes in the scratch directory.
inline int temporaries() {
  int n = 0;
  for (const auto& e : fs::directory_iterator(scratch()))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++n;
  return n;
}

}  // namespace cli_test
