#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace ebm {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(temp_name(path_)) {
  if (path_.empty()) throw IoError("cannot write a file with an empty name");
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) throw IoError(path_ + ": cannot create file: " + errno_text());
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (!file_) throw IoError(path_ + ": write after commit");
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
    throw IoError(path_ + ": write failed: " + errno_text());
  }
}

void AtomicFile::commit() {
  if (!file_) throw IoError(path_ + ": committed twice");
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int saved = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    errno = flushed ? errno : saved;
    throw IoError(path_ + ": cannot finish writing: " + errno_text());
  }
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw IoError(path_ + ": cannot replace file: " + errno_text());
  }
  committed_ = true;
}

}  // namespace ebm
