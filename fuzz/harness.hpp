#pragma once
// What every reader's fuzz harness shares: the input written to a file of the reader's
// extension (the readers take paths), and the contract checked: a bad file may only throw an
// ebm::Error (a one-line message); any other exception, a crash, a hang or a large allocation
// is a finding (libFuzzer's -timeout, -rss_limit_mb and -malloc_limit_mb catch the last two).
#include <ebm/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace ebm::fuzz {

/// A file for this process's inputs, in memory (/dev/shm) when there is one.
inline std::string scratch_path(const std::string& extension) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return dir + "/ebm-fuzz-" + std::to_string(getpid()) + extension;
}

inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& extension) {
  const std::string path = scratch_path(extension);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

/// Runs read(path) on the input; ebm::Error is the expected way to refuse a file.
template <class Read>
int run_reader(const std::uint8_t* data, std::size_t size, const std::string& extension, Read&& read) {
  const std::string path = write_input(data, size, extension);
  try {
    read(path);
  } catch (const ebm::Error&) {
  }
  return 0;
}

}  // namespace ebm::fuzz
