#include <ebm/core/error.hpp>
#include <ebm/data/idx.hpp>

#include "file_util.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include <zlib.h>

namespace ebm {
namespace {

using data_detail::kMaxColumns;
using data_detail::num;
using data_detail::prefix;

std::size_t element_size(IdxType t) {
  switch (t) {
    case IdxType::UByte:
    case IdxType::SByte: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32:
    case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  return 0;
}

std::string hex(unsigned v) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[(v >> 4) & 15] + digits[v & 15];
}

template <class I>
std::string shape_text(const std::vector<I>& shape) {
  std::string s = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k > 0 ? ", " : "") + std::to_string(shape[k]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// A gzFile that reads exactly what is asked for unless the stream ends, and turns zlib's
// errors into ebm errors.
class GzReader {
 public:
  GzReader(const std::string& path, std::string pre) : pre_(std::move(pre)) {
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) throw IoError(pre_ + "cannot open: " + std::strerror(errno));
  }
  ~GzReader() { gzclose(gz_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. Throws on corrupt gzip data and
  // read errors; remembers a cut gzip stream (see truncated()).
  std::size_t read(void* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, INT_MAX / 2));
      const int got = gzread(gz_, static_cast<char*>(out) + done, chunk);
      check(got);
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  bool truncated() const { return cut_; }

 private:
  void check(int got) {
    int code = Z_OK;
    const char* msg = gzerror(gz_, &code);
    if (code == Z_BUF_ERROR) {  // zlib reports a cut stream with this code, and gzread returns 0
      cut_ = true;
      return;
    }
    if (got >= 0 && code == Z_OK) return;
    if (code == Z_ERRNO) throw IoError(pre_ + "read failed: " + std::strerror(errno));
    throw FormatError(pre_ + "corrupt gzip data (zlib: " + std::string(msg ? msg : "?") + ")");
  }

  gzFile gz_ = nullptr;
  std::string pre_;
  bool cut_ = false;
};

}  // namespace

Index IdxArray::size() const {
  Index n = 1;
  for (Index d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) throw InvalidArgument("IdxArray::size: shape " + shape_text(shape) + " overflows");
  return n;
}

IdxArray read_idx(const std::string& path) {
  constexpr const char* where = "read_idx";
  const std::string pre = prefix(where, path);
  { const data_detail::InputFile check(path, where); }  // a plain IoError for a missing file or a directory
  GzReader in(path, pre);
  const std::string cut_note = " (gzip stream cut short)";
  auto note = [&] { return in.truncated() ? cut_note : std::string(); };

  unsigned char magic[4] = {};
  const std::size_t got_magic = in.read(magic, 4);
  if (got_magic == 0) throw FormatError(pre + "empty file" + note());
  if (magic[0] != 0 || (got_magic > 1 && magic[1] != 0)) {
    throw FormatError(pre + "not an IDX file (bad magic " + hex(magic[0]) + " " + hex(magic[1]) +
                      ", expected 0x00 0x00 <type> <ndim>)");
  }
  if (got_magic < 4) {
    throw FormatError(pre + "truncated: expected a 4-byte magic number, got " + num(got_magic) + " bytes" + note());
  }
  IdxArray a;
  a.type = static_cast<IdxType>(magic[2]);
  const std::size_t esize = element_size(a.type);
  if (esize == 0) {
    throw FormatError(pre + "unsupported element type " + hex(magic[2]) +
                      " (0x08 ubyte, 0x09 sbyte, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)");
  }
  const std::size_t ndim = magic[3];
  if (ndim == 0) throw FormatError(pre + "ndim is 0 (a scalar), not an array");

  unsigned char dims[4 * 255];
  const std::size_t got_dims = in.read(dims, 4 * ndim);
  if (got_dims < 4 * ndim) {
    throw FormatError(pre + "truncated: expected " + num(4 * ndim) + " bytes of dimensions, got " + num(got_dims) +
                      note());
  }
  std::vector<std::uint64_t> shape(ndim);
  for (std::size_t k = 0; k < ndim; ++k) {
    const unsigned char* p = dims + 4 * k;
    shape[k] = std::uint64_t{p[0]} << 24 | std::uint64_t{p[1]} << 16 | std::uint64_t{p[2]} << 8 | p[3];
  }
  // The trailing dimensions' product is the matrix width even when there are no rows, so it
  // must not overflow either.
  // Every partial product of the trailing dimensions is bounded (a later 0 must not hide an
  // absurd width, nor an overflow).
  std::uint64_t cols = 1, count = 0, bytes = 0;
  for (std::size_t k = 1; k < ndim; ++k) {
    cols *= shape[k];  // both factors are at most 2^32: no overflow
    if (cols > kMaxColumns) {
      throw FormatError(pre + "shape " + shape_text(shape) + " is too wide: its trailing dimensions make more than " +
                        num(kMaxColumns) + " columns (the limit of 1048576 columns)");
    }
  }
  bool overflow = false;
  overflow |= __builtin_mul_overflow(shape[0], cols, &count);
  overflow |= __builtin_mul_overflow(count, std::uint64_t{esize}, &bytes);
  if (overflow || bytes > kIdxMaxBytes) {
    throw FormatError(pre + "shape " + shape_text(shape) + " is too large (" +
                      (overflow ? std::string("its size overflows") : num(bytes) + " bytes") + ", limit " +
                      num(kIdxMaxBytes) + " bytes)");
  }
  // The raw data and, converted, a matrix of up to 8-byte values: what reading it will hold.
  const std::uint64_t needed = bytes + count * 8;  // both below 2^37 after the cap above
  if (needed > data_detail::input_memory_budget())
    throw FormatError(pre + "shape " + shape_text(shape) + " " + data_detail::over_budget(needed));
  a.shape.assign(shape.begin(), shape.end());

  // Grow the buffer as data arrives, so that a header claiming gigabytes over a short file
  // allocates only what the file holds.
  std::size_t have = 0;
  const auto total = static_cast<std::size_t>(bytes);
  while (have < total) {
    const std::size_t next = std::min(total, std::max<std::size_t>(2 * a.bytes.size(), std::size_t{1} << 20));
    a.bytes.resize(next);
    const std::size_t got = in.read(a.bytes.data() + have, next - have);
    have += got;
    if (have < next) break;
  }
  if (have < total) {
    throw FormatError(pre + "truncated: expected " + num(bytes) + " bytes of data for shape " + shape_text(shape) +
                      ", got " + num(have) + note());
  }
  unsigned char extra = 0;
  if (in.read(&extra, 1) != 0) {
    throw FormatError(pre + "unexpected data after the " + num(bytes) + " bytes of shape " + shape_text(shape));
  }
  if (in.truncated()) throw FormatError(pre + "truncated gzip stream after the data (the gzip trailer is missing)");
  return a;
}

template <class T>
Mat<T> idx_to_matrix(const IdxArray& a) {
  if (a.shape.empty()) throw InvalidArgument("idx_to_matrix: array has no dimensions");
  const Index rows = a.shape[0];
  Index cols = 1;
  bool overflow = rows < 0;
  for (std::size_t k = 1; k < a.shape.size(); ++k) overflow |= a.shape[k] < 0 || __builtin_mul_overflow(cols, a.shape[k], &cols);
  Index count = 0;
  overflow |= __builtin_mul_overflow(rows, cols, &count);
  if (overflow) throw InvalidArgument("idx_to_matrix: shape " + shape_text(a.shape) + " overflows");
  const std::size_t esize = element_size(a.type);
  if (esize == 0 || static_cast<std::size_t>(count) * esize != a.bytes.size()) {
    throw InvalidArgument("idx_to_matrix: " + num(a.bytes.size()) + " bytes do not match the shape and type");
  }
  Mat<T> out(rows, cols);
  T* dst = out.data();
  const std::uint8_t* src = a.bytes.data();
  const Index n = out.size();
  auto be = [&](Index k) {  // element k as an unsigned big-endian integer of esize bytes
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < esize; ++b) v = v << 8 | src[static_cast<std::size_t>(k) * esize + b];
    return v;
  };
  switch (a.type) {
    case IdxType::UByte:
      for (Index k = 0; k < n; ++k) dst[k] = a.shape.size() >= 2 ? T(src[k]) / T(255) : T(src[k]);
      break;
    case IdxType::SByte:
      for (Index k = 0; k < n; ++k) dst[k] = T(static_cast<std::int8_t>(src[k]));
      break;
    case IdxType::Int16:
      for (Index k = 0; k < n; ++k) dst[k] = T(static_cast<std::int16_t>(be(k)));
      break;
    case IdxType::Int32:
      for (Index k = 0; k < n; ++k) dst[k] = static_cast<T>(static_cast<std::int32_t>(be(k)));
      break;
    case IdxType::Float32:
      for (Index k = 0; k < n; ++k) {
        const auto bits = static_cast<std::uint32_t>(be(k));
        float f;
        std::memcpy(&f, &bits, 4);
        dst[k] = static_cast<T>(f);
      }
      break;
    case IdxType::Float64:
      for (Index k = 0; k < n; ++k) {
        const std::uint64_t bits = be(k);
        double f;
        std::memcpy(&f, &bits, 8);
        dst[k] = static_cast<T>(f);
      }
      break;
  }
  for (Index k = 0; k < n; ++k) {
    if (!std::isfinite(dst[k])) {
      throw FormatError("idx_to_matrix: non-finite value at row " + std::to_string(k / cols) + ", column " +
                        std::to_string(k % cols));
    }
  }
  return out;
}

template <class T>
Mat<T> read_idx_images(const std::string& path) {
  const IdxArray a = read_idx(path);
  if (a.type != IdxType::UByte || a.shape.size() < 2) {
    throw FormatError(prefix("read_idx_images", path) + "expected ubyte images of 2 or more dimensions, got type " +
                      hex(static_cast<unsigned>(a.type)) + " with " + std::to_string(a.shape.size()) + " dimension(s)");
  }
  return idx_to_matrix<T>(a);
}

std::vector<int> read_idx_labels(const std::string& path) {
  const IdxArray a = read_idx(path);
  const bool integer =
      a.type == IdxType::UByte || a.type == IdxType::SByte || a.type == IdxType::Int16 || a.type == IdxType::Int32;
  if (!integer || a.shape.size() != 1) {
    throw FormatError(prefix("read_idx_labels", path) + "expected a 1-D array of integers, got type " +
                      hex(static_cast<unsigned>(a.type)) + " with " + std::to_string(a.shape.size()) + " dimension(s)");
  }
  const Mat<double> m = idx_to_matrix<double>(a);
  std::vector<int> out(static_cast<std::size_t>(m.rows()));
  for (Index i = 0; i < m.rows(); ++i) out[static_cast<std::size_t>(i)] = static_cast<int>(m(i, 0));
  return out;
}

template Mat<float> read_idx_images<float>(const std::string&);
template Mat<double> read_idx_images<double>(const std::string&);
template Mat<float> idx_to_matrix<float>(const IdxArray&);
template Mat<double> idx_to_matrix<double>(const IdxArray&);

}  // namespace ebm
