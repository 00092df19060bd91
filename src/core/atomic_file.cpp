#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include <unistd.h>

namespace ebm {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Temporaries of `path` left by writers that were killed mid-write (NAME.tmp-<pid>-<n> whose
// process is gone): removed, best effort. A live writer's temporary is left alone.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp-";
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = std::string_view(name).substr(prefix.size());
    const std::size_t dash = rest.find('-');
    if (dash == std::string_view::npos || !all_digits(rest.substr(0, dash)) || !all_digits(rest.substr(dash + 1))) continue;
    const long pid = std::stol(std::string(rest.substr(0, dash)));
    if (pid == ::getpid() || pid <= 0 || pid > INT32_MAX) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(temp_name(path_)) {
  if (path_.empty()) throw IoError("cannot write a file with an empty name");
  remove_stale_temporaries(path_);
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
