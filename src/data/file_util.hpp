#pragma once
// Reading helpers shared by the data readers (private to src/data).
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ebm::data_detail {

/// "where: path: what", the prefix of every reader's messages.
inline std::string prefix(std::string_view where, std::string_view path) {
  return std::string(where) + ": " + std::string(path) + ": ";
}

/// A regular file opened for binary reading, with its size; closed on destruction.
class InputFile {
 public:
  /// Throws IoError naming `where` and path when the file cannot be opened or is not a regular file.
  InputFile(const std::string& path, std::string_view where);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }
  /// Reads up to n bytes, returns how many were read; throws IoError on a read error.
  std::size_t read(void* out, std::size_t n);

 private:
  std::string path_, where_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0;
};

/// The whole content of a file, gunzipped when it is gzip'd (zlib reads plain files as they are).
/// Throws IoError when it cannot be read, FormatError when the gzip stream is corrupt or cut.
std::string read_all(const std::string& path, std::string_view where);

/// Most columns a matrix file may have (IDX, NPY, CSV): 2^20, a 1024 x 1024 image flattened
/// (Fashion-MNIST has 784). It also bounds the column names a reader makes for a file that
/// claims many columns and no rows.
inline constexpr std::uint64_t kMaxColumns = std::uint64_t{1} << 20;

/// How many bytes a reader may hold for one file's contents and its matrix: the environment's
/// EBM_MAX_INPUT_BYTES when set (a positive integer), else half of this machine's physical
/// memory. Bounds decompressed data, so a small gzip file cannot claim gigabytes.
std::uint64_t input_memory_budget();
/// The message tail for a file over the budget.
std::string over_budget(std::uint64_t needed);

/// An .npy file's content held in memory (an .npz member), read as read_npy reads a file;
/// `pre` ("where: file: member: ") starts every message.
template <class T>
Mat<T> npy_from_bytes(std::string_view bytes, const std::string& pre);

/// "x<j>", the name of column j when a file has none.
std::string column_name(std::size_t j);

/// Thousands-free decimal text of a count, for messages.
inline std::string num(std::uint64_t v) { return std::to_string(v); }

}  // namespace ebm::data_detail
