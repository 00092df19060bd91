#include "file_util.hpp"

#include <ebm/core/memory.hpp>

#include <ebm/core/error.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace ebm::data_detail {

InputFile::InputFile(const std::string& path, std::string_view where) : path_(path), where_(where) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw IoError(prefix(where, path) + "cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(file_), &st) != 0) {
    const int e = errno;
    std::fclose(file_);
    throw IoError(prefix(where, path) + "cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    std::fclose(file_);
    throw IoError(prefix(where, path) + "not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (file_) std::fclose(file_);
}

std::size_t InputFile::read(void* out, std::size_t n) {
  const std::size_t got = std::fread(out, 1, n, file_);
  if (got < n && std::ferror(file_)) throw IoError(prefix(where_, path_) + "read failed: " + std::strerror(errno));
  return got;
}

std::string column_name(std::size_t j) {
  std::string s = std::to_string(j);  // not "x" + to_string(j): GCC 12 warns falsely (-Wrestrict) there
  s.insert(s.begin(), 'x');
  return s;
}

std::uint64_t input_memory_budget() {
  if (const char* env = std::getenv("EBM_MAX_INPUT_BYTES")) {
    std::uint64_t v = 0;
    const char* end = env + std::strlen(env);
    const auto [ptr, ec] = std::from_chars(env, end, v);
    if (ec != std::errc() || ptr != end || v == 0)
      throw InvalidArgument(std::string("EBM_MAX_INPUT_BYTES: expected a positive number of bytes, got '") + env + "'");
    return v;
  }
  return physical_memory_bytes() / 2;
}

std::string over_budget(std::uint64_t needed) {
  const std::uint64_t budget = input_memory_budget();
  return "needs " + std::to_string(needed) + " bytes in memory, more than the limit of " + std::to_string(budget) +
         " (" + (std::getenv("EBM_MAX_INPUT_BYTES") ? "EBM_MAX_INPUT_BYTES" : "half of this machine's memory; set EBM_MAX_INPUT_BYTES to change it") + ")";
}

std::string read_all(const std::string& path, std::string_view where) {
  // Open and stat first, so that a missing file or a directory gets a plain IoError.
  const InputFile check(path, where);
  const std::uint64_t budget = input_memory_budget();
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
  if (!gz) throw IoError(prefix(where, path) + "cannot open: " + std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  int got = 0;
  while ((got = gzread(gz.get(), buf, sizeof buf)) > 0) {
    text.append(buf, static_cast<std::size_t>(got));
    if (text.size() > budget)  // a decompression bomb, or a file far larger than memory
      throw FormatError(prefix(where, path) + "decompressed, it " + over_budget(text.size()));
  }
  // A cut gzip stream is reported as Z_BUF_ERROR after the data that could be recovered, with
  // gzread returning 0, not -1: ask zlib in either case.
  int code = Z_OK;
  const std::string msg = gzerror(gz.get(), &code);
  const int saved = errno;
  if (got < 0 || code != Z_OK) {
    if (code == Z_ERRNO) throw IoError(prefix(where, path) + "read failed: " + std::strerror(saved));
    throw FormatError(prefix(where, path) + (code == Z_BUF_ERROR ? "truncated gzip stream" : "corrupt gzip data") +
                      " (zlib: " + msg + ")");
  }
  return text;
}

}  // namespace ebm::data_detail
