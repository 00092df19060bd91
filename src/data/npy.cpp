#include <ebm/core/atomic_file.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/data/npy.hpp>

#include "file_util.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ebm {
namespace {

using data_detail::InputFile;
using data_detail::kMaxColumns;
using data_detail::num;
using data_detail::prefix;

constexpr const char* kWhere = "read_npy";
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::uint64_t kMaxHeader = 1 << 20;  // np.load refuses headers beyond 10 kB by default

std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (char c : s.substr(0, max)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out + (s.size() > max ? "..." : "");
}

// The header dictionary, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k > 0 ? ", " : "") + num(shape[k]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// A recursive-descent parser of the tiny Python literal np.save writes. Anything else is a
// FormatError; it never reads outside the text.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string pre) : s_(text), pre_(std::move(pre)) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      auto once = [&](bool& seen) {
        if (seen) fail("key '" + key + "' appears twice");
        seen = true;
      };
      if (key == "descr") {
        once(seen_descr);
        if (peek() == '[') fail("structured dtypes (a list of fields as 'descr') are not supported");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(seen_order);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(seen_shape);
        h.shape = tuple();
      } else {
        fail("unknown key '" + printable(key) + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++i_;
    while (i_ < s_.size() && (std::isspace(static_cast<unsigned char>(s_[i_])) || s_[i_] == '\0')) ++i_;
    if (i_ != s_.size()) fail("unexpected text after the dictionary");
    if (!seen_descr || !seen_order || !seen_shape) {
      fail(std::string("missing key '") + (!seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape") + "'");
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(pre_ + "malformed header: " + what + " at byte " + num(i_) + " of header \"" + printable(s_) +
                      "\"");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c || i_ >= s_.size()) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    const std::string_view body = s_.substr(i_ + 1, end - i_ - 1);
    if (body.find('\\') != std::string_view::npos) fail("escape sequences in strings are not supported");
    i_ = end + 1;
    return std::string(body);
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::uint64_t integer() {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer");
    std::uint64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const auto digit = static_cast<std::uint64_t>(s_[i_] - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail("integer too large");
      v = v * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // Python 2 long, in files written by old NumPy
    return v;
  }
  std::vector<std::uint64_t> tuple() {
    std::vector<std::uint64_t> out;
    expect('(');
    skip_ws();
    while (peek() != ')') {
      if (out.size() >= 64) fail("more than 64 dimensions");
      out.push_back(integer());
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++i_;
    return out;
  }

  std::string_view s_;
  std::string pre_;
  std::size_t i_ = 0;
};

enum class Kind { Float, Int, UInt, Bool };

struct Dtype {
  Kind kind;
  std::size_t size;
  bool swap;  // stored in the other byte order than this machine's
};

std::optional<Dtype> parse_dtype(std::string_view d) {
  if (d.size() < 3 || d.size() > 3) return std::nullopt;
  const char order = d[0], kind = d[1];
  const std::size_t size = d[2] == '1' ? 1 : d[2] == '2' ? 2 : d[2] == '4' ? 4 : d[2] == '8' ? 8 : 0;
  if (size == 0) return std::nullopt;
  Dtype t{};
  t.size = size;
  if (kind == 'f' && (size == 2 || size == 4 || size == 8)) {
    t.kind = Kind::Float;
  } else if (kind == 'b' && size == 1) {
    t.kind = Kind::Bool;
  } else if (kind == 'i') {
    t.kind = Kind::Int;
  } else if (kind == 'u') {
    t.kind = Kind::UInt;
  } else {
    return std::nullopt;
  }
  constexpr bool little = std::endian::native == std::endian::little;
  if (order == '<') {
    t.swap = !little;
  } else if (order == '>') {
    t.swap = little;
  } else if (order == '|' || order == '=') {
    t.swap = false;
    if (order == '|' && size != 1) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return t;
}

template <class U>
U load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(U)];
  for (std::size_t k = 0; k < sizeof(U); ++k) b[k] = swap ? p[sizeof(U) - 1 - k] : p[k];
  U v;
  std::memcpy(&v, b, sizeof(U));
  return v;
}

// IEEE binary16 (NumPy's float16) to float, exactly: every half is a float.
float half_to_float(std::uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0) magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero and subnormals
  else if (exponent == 31) magnitude = mantissa == 0 ? INFINITY : NAN;
  else magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  return sign ? -magnitude : magnitude;
}

template <class T>
T convert(const unsigned char* p, const Dtype& t) {
  switch (t.kind) {
    case Kind::Bool:
      return p[0] != 0 ? T(1) : T(0);
    case Kind::Float:
      if (t.size == 2) return static_cast<T>(half_to_float(load<std::uint16_t>(p, t.swap)));
      return t.size == 4 ? static_cast<T>(load<float>(p, t.swap)) : static_cast<T>(load<double>(p, t.swap));
    case Kind::Int:
      switch (t.size) {
        case 1: return static_cast<T>(load<std::int8_t>(p, t.swap));
        case 2: return static_cast<T>(load<std::int16_t>(p, t.swap));
        case 4: return static_cast<T>(load<std::int32_t>(p, t.swap));
        default: return static_cast<T>(load<std::int64_t>(p, t.swap));
      }
    case Kind::UInt:
      switch (t.size) {
        case 1: return static_cast<T>(load<std::uint8_t>(p, t.swap));
        case 2: return static_cast<T>(load<std::uint16_t>(p, t.swap));
        case 4: return static_cast<T>(load<std::uint32_t>(p, t.swap));
        default: return static_cast<T>(load<std::uint64_t>(p, t.swap));
      }
  }
  return T(0);
}

// The bytes of an .npy held in memory (a member of an .npz), read like a file.
class ByteSource {
 public:
  explicit ByteSource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const { return bytes_.size(); }
  std::size_t read(void* out, std::size_t n) {
    n = std::min(n, bytes_.size() - position_);
    std::memcpy(out, bytes_.data() + position_, n);
    position_ += n;
    return n;
  }

 private:
  std::string_view bytes_;
  std::size_t position_ = 0;
};

// `in` has size() and read(out, n) -> bytes read; `pre` starts every message.
template <class T, class Source>
Mat<T> parse_npy(Source& in, const std::string& pre) {
  const std::uint64_t size = in.size();
  if (size == 0) throw FormatError(pre + "empty file");

  unsigned char pre_bytes[12] = {};
  std::size_t got = in.read(pre_bytes, static_cast<std::size_t>(std::min<std::uint64_t>(size, 10)));
  if (std::memcmp(pre_bytes, kMagic, std::min<std::size_t>(got, kMagicSize)) != 0) {
    throw FormatError(
        pre + "not an NPY file (bad magic string \"" +
        printable(std::string_view(reinterpret_cast<const char*>(pre_bytes), std::min<std::size_t>(got, kMagicSize))) +
        "\", expected \"\\x93NUMPY\")");
  }
  if (got < 8) throw FormatError(pre + "truncated: " + num(size) + " bytes, shorter than the NPY preamble");
  const int major = pre_bytes[6], minor = pre_bytes[7];
  if (major < 1 || major > 3) {
    throw FormatError(pre + "unsupported NPY format version " + std::to_string(major) + "." + std::to_string(minor) +
                      " (1.0, 2.0 and 3.0 are supported)");
  }
  const std::size_t preamble = major == 1 ? 10 : 12;
  if (preamble > 10 && got == 10) got += in.read(pre_bytes + 10, 2);
  if (got < preamble) {
    throw FormatError(pre + "truncated: " + num(size) + " bytes, shorter than the NPY " + std::to_string(major) +
                      ".0 preamble (" + num(preamble) + " bytes)");
  }
  const std::uint64_t header_len = major == 1
                                       ? std::uint64_t{pre_bytes[8]} | std::uint64_t{pre_bytes[9]} << 8
                                       : std::uint64_t{pre_bytes[8]} | std::uint64_t{pre_bytes[9]} << 8 |
                                             std::uint64_t{pre_bytes[10]} << 16 | std::uint64_t{pre_bytes[11]} << 24;
  if (preamble + header_len > size) {
    throw FormatError(pre + "truncated: header length " + num(header_len) + " runs past the end of the file (" +
                      num(size) + " bytes)");
  }
  if (header_len > kMaxHeader) {
    throw FormatError(pre + "header length " + num(header_len) + " is larger than the limit of " + num(kMaxHeader) +
                      " bytes");
  }
  std::string text(static_cast<std::size_t>(header_len), '\0');
  if (in.read(text.data(), text.size()) != text.size()) {
    throw FormatError(pre + "truncated while reading the header");  // the file shrank under us
  }
  const Header h = HeaderParser(text, pre).parse();

  const auto dtype = parse_dtype(h.descr);
  if (!dtype) {
    throw FormatError(pre + "unsupported dtype '" + printable(h.descr) +
                      "' (supported: floats '<f2', '<f4', '<f8'; integers '|u1', '|i1', '<i2'...'<u8'; booleans '|b1'; "
                      "either byte order)");
  }
  if (h.fortran_order && h.shape.size() > 2) {
    throw FormatError(pre + "fortran_order is True (column-major data) with " + std::to_string(h.shape.size()) +
                      " dimensions; save a C-ordered array (np.ascontiguousarray) instead");
  }
  if (h.shape.empty()) throw FormatError(pre + "shape () is a 0-d array (a scalar), not a matrix");

  // Rows, columns (the product of the trailing dimensions) and byte size, with overflow checks,
  // before anything is allocated.
  constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::uint64_t cols = 1, count = 0, bytes = 0;
  bool overflow = false;
  for (std::size_t k = 1; k < h.shape.size(); ++k) {
    // Every partial product is bounded: a later 0 must not hide an absurd width or an overflow.
    if (h.shape[k] > kMaxColumns || (cols *= h.shape[k]) > kMaxColumns) {
      throw FormatError(pre + "shape " + shape_text(h.shape) + " is too wide: its trailing dimensions make more than " +
                        num(kMaxColumns) + " columns (the limit of 1048576 columns)");
    }
  }
  overflow |= __builtin_mul_overflow(h.shape[0], cols, &count);
  overflow |= __builtin_mul_overflow(count, std::uint64_t{dtype->size}, &bytes);
  if (overflow || h.shape[0] > kMax || cols > kMax || bytes > kMax) {
    throw FormatError(pre + "header claims shape " + shape_text(h.shape) + " of '" + h.descr +
                      "', whose size overflows (the file has " + num(size) + " bytes)");
  }
  const std::uint64_t offset = preamble + header_len;
  const std::uint64_t available = size - offset;
  if (bytes > available) {
    throw FormatError(pre + "header claims shape " + shape_text(h.shape) + " of '" + h.descr + "' (" + num(bytes) +
                      " bytes of data), larger than the file (" + num(size) + " bytes, " + num(available) +
                      " after the header)");
  }
  if (bytes < available) {
    throw FormatError(pre + num(available - bytes) + " unexpected bytes after the data of shape " +
                      shape_text(h.shape) + " of '" + h.descr + "' (" + num(bytes) + " bytes)");
  }

  const auto rows = static_cast<Index>(h.shape[0]);
  Mat<T> out(rows, static_cast<Index>(cols));
  // A column-major 2-D array is read as its transpose, then turned back.
  const bool transposed = h.fortran_order && out.rows() > 1 && out.cols() > 1;
  if (transposed) out.resize(out.cols(), out.rows());
  const bool direct = dtype->kind == Kind::Float && dtype->size == sizeof(T) && !dtype->swap;
  if (direct) {
    if (in.read(out.data(), static_cast<std::size_t>(bytes)) != bytes) {
      throw FormatError(pre + "truncated while reading the data");
    }
  } else {
    std::vector<unsigned char> buf(std::size_t{1} << 16);
    const std::size_t per = buf.size() / dtype->size;
    T* dst = out.data();
    for (std::uint64_t done = 0; done < count;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(per, count - done));
      if (in.read(buf.data(), n * dtype->size) != n * dtype->size) {
        throw FormatError(pre + "truncated while reading the data");
      }
      for (std::size_t k = 0; k < n; ++k) dst[done + k] = convert<T>(buf.data() + k * dtype->size, *dtype);
      done += n;
    }
  }
  if (transposed) out = Mat<T>(out.transpose());
  const T* p = out.data();
  for (Index k = 0; k < out.size(); ++k) {
    if (!std::isfinite(p[k])) {
      throw FormatError(pre + "non-finite value " + std::to_string(p[k]) + " at row " + std::to_string(k / out.cols()) +
                        ", column " + std::to_string(k % out.cols()) +
                        (dtype->kind == Kind::Float && dtype->size > sizeof(T) ? " (too large for float32?)" : ""));
    }
  }
  return out;
}

}  // namespace

template <class T>
Mat<T> read_npy(const std::string& path) {
  InputFile in(path, kWhere);
  return parse_npy<T>(in, prefix(kWhere, path));
}

template <class T>
Mat<T> data_detail::npy_from_bytes(std::string_view bytes, const std::string& pre) {
  ByteSource in(bytes);
  return parse_npy<T>(in, pre);
}

template <class T>
void write_npy(const std::string& path, const Mat<T>& m) {
  require_finite(m, "write_npy", "matrix");
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  std::string header = std::string("{'descr': '") + order + (sizeof(T) == 4 ? "f4" : "f8") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(m.rows()) + ", " +
                       std::to_string(m.cols()) + "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary; the header ends in '\n'.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  preamble[8] = static_cast<unsigned char>(header.size() & 0xff);
  preamble[9] = static_cast<unsigned char>(header.size() >> 8);
  AtomicFile file(path);
  file.write(preamble, sizeof preamble);
  file.write(header);
  file.write(m.data(), static_cast<std::size_t>(m.size()) * sizeof(T));
  file.commit();
}

template Mat<float> read_npy<float>(const std::string&);
template Mat<double> read_npy<double>(const std::string&);
template Mat<float> data_detail::npy_from_bytes<float>(std::string_view, const std::string&);
template Mat<double> data_detail::npy_from_bytes<double>(std::string_view, const std::string&);
template void write_npy<float>(const std::string&, const Mat<float>&);
template void write_npy<double>(const std::string&, const Mat<double>&);

}  // namespace ebm
