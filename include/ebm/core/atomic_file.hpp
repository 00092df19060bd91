#pragma once
// Writing a file so that a crash or an error never leaves it half-written: the content goes to
// a temporary file in the same directory, which replaces the target by rename() only on commit().
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace ebm {

class AtomicFile {
 public:
  /// Opens "<path>.tmp-<pid>-<n>" for writing; throws IoError naming path when it cannot.
  explicit AtomicFile(std::string path);
  /// Without commit(), removes the temporary file: the target is untouched.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// Flushes, syncs and renames over the target; throws IoError on any failure.
  void commit();

  /// The temporary file's path, for writers that need a name (Cairo surfaces).
  const std::string& temp_path() const { return temp_; }
  const std::string& path() const { return path_; }
  /// The open stream on temp_path(), for writers that take a FILE*; use write() otherwise.
  std::FILE* stream() { return file_; }

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace ebm
