#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>
#include <ebm/io/safetensors.hpp>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "../core/json_text.hpp"

namespace ebm::io {
namespace {

using json = nlohmann::json;

constexpr DType kDTypes[] = {DType::F32, DType::F64, DType::I64, DType::U64, DType::U8};

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::F64;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::I64;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return DType::U64;
  else {
    static_assert(std::is_same_v<T, std::uint8_t>, "unsupported tensor element type");
    return DType::U8;
  }
}

// Values to little-endian bytes and back; a byte swap only on big-endian hosts.
template <class T>
std::vector<std::byte> encode(const T* values, std::size_t n) {
  std::vector<std::byte> bytes(n * sizeof(T));
  if (n > 0) std::memcpy(bytes.data(), values, bytes.size());
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    for (std::size_t k = 0; k < n; ++k)
      std::reverse(bytes.begin() + k * sizeof(T), bytes.begin() + (k + 1) * sizeof(T));
  }
  return bytes;
}

template <class T>
std::vector<T> decode(const std::vector<std::byte>& bytes) {
  std::vector<std::byte> copy;
  const std::byte* src = bytes.data();
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    copy = bytes;
    for (std::size_t k = 0; k < copy.size() / sizeof(T); ++k)
      std::reverse(copy.begin() + k * sizeof(T), copy.begin() + (k + 1) * sizeof(T));
    src = copy.data();
  }
  std::vector<T> values(bytes.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), src, values.size() * sizeof(T));
  return values;
}

std::string preview(const json& v) { return ebm::detail::json_preview(v); }

// "an array", "a number", "null": the JSON type of v with its article, for messages.
std::string kind(const json& v) {
  const std::string name = v.type_name();
  if (v.is_null()) return name;
  return (name[0] == 'a' || name[0] == 'o' ? "an " : "a ") + name;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k > 0 ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

std::string tensor_where(std::string_view file, const std::string& name) {
  return (file.empty() ? std::string() : std::string(file) + ": ") + "tensor '" + name + "'";
}

// product(shape) * element size, or false on a negative entry or overflow of u64.
bool byte_count(const std::vector<std::int64_t>& shape, std::size_t element, std::uint64_t& bytes) {
  std::uint64_t n = element;
  for (std::int64_t d : shape) {
    if (d < 0) return false;
    const auto u = static_cast<std::uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<std::uint64_t>::max() / u) return false;
    n *= u;
  }
  bytes = n;
  return true;
}

// A float tensor's values as double or float, whichever it holds, converted to T.
template <class T>
std::vector<T> float_values(const Tensor& t, std::string_view file) {
  if (t.dtype == DType::F32) {
    const std::vector<float> v = decode<float>(t.bytes);
    if constexpr (std::is_same_v<T, float>)
      return v;
    else
      return std::vector<T>(v.begin(), v.end());
  }
  if (t.dtype == DType::F64) {
    const std::vector<double> v = decode<double>(t.bytes);
    if constexpr (std::is_same_v<T, double>)
      return v;
    else {
      std::vector<T> out(v.size());
      for (std::size_t k = 0; k < v.size(); ++k) out[k] = static_cast<T>(v[k]);
      return out;
    }
  }
  throw FormatError(tensor_where(file, t.name) + " has dtype " + std::string(dtype_name(t.dtype)) +
                    ", expected F32 or F64");
}

void check_bytes(const Tensor& t, std::string_view file) {
  std::uint64_t expected = 0;
  if (!byte_count(t.shape, dtype_size(t.dtype), expected) || expected != t.bytes.size())
    throw FormatError(tensor_where(file, t.name) + " holds " + std::to_string(t.bytes.size()) +
                      " bytes, inconsistent with shape " + shape_text(t.shape) + " and dtype " +
                      std::string(dtype_name(t.dtype)));
}

template <class T>
Mat<T> matrix_of(const Tensor& t, const std::vector<std::int64_t>& expected, Index rows, Index cols,
                 std::string_view file) {
  if (t.shape != expected)
    throw FormatError(tensor_where(file, t.name) + " has shape " + shape_text(t.shape) + ", expected " +
                      shape_text(expected));
  check_bytes(t, file);
  const std::vector<T> v = float_values<T>(t, file);
  Mat<T> m(rows, cols);
  if (!v.empty()) std::memcpy(m.data(), v.data(), v.size() * sizeof(T));
  return m;
}

// ---- reading -------------------------------------------------------------------------------

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  [[noreturn]] void format(const std::string& what) const {
    throw FormatError("read_safetensors: " + path_ + ": " + what);
  }
  [[noreturn]] void io(const std::string& what) const { throw IoError("read_safetensors: " + path_ + ": " + what); }

  TensorFile read();

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t begin, end;
  };

  void read_exact(std::FILE* f, void* out, std::size_t n) const {
    if (n > 0 && std::fread(out, 1, n, f) != n)
      io(std::ferror(f) ? std::string("read failed: ") + std::strerror(errno) : "file shrank while being read");
  }
  json parse_header(const std::string& text) const;
  Entry parse_entry(const std::string& name, const json& v, std::uint64_t data_size) const;

  const std::string& path_;
};

json Reader::parse_header(const std::string& text) const {
  // nlohmann keeps the last of duplicate keys silently; a file with two tensors of one name is
  // ambiguous, so duplicates are errors at every level. A header nests three levels at most
  // (header, entry, shape); stopping deeper nesting early bounds the work a hostile file causes.
  std::vector<std::set<std::string>> keys;
  int depth = 0;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (event == E::object_start || event == E::array_start) {
      if (++depth > 3) format("header nests deeper than a safetensors header (3 levels)");
      if (event == E::object_start) keys.emplace_back();
    } else if (event == E::object_end || event == E::array_end) {
      --depth;
      if (event == E::object_end) keys.pop_back();
    } else if (event == E::key && !keys.back().insert(parsed.get<std::string>()).second) {
      format("header has duplicate key \"" + parsed.get<std::string>() + "\"");
    }
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {
    const char* rest = std::strstr(e.what(), "] ");  // drop nlohmann's "[json.exception...] " prefix
    format(std::string("header is not valid JSON: ") + (rest ? rest + 2 : e.what()));
  }
}

Reader::Entry Reader::parse_entry(const std::string& name, const json& v, std::uint64_t data_size) const {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object()) format(where + ": entry is " + kind(v) + ", expected an object");
  for (const auto& [key, unused] : v.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") format(where + ": unknown field \"" + key + "\"");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) format(where + ": missing field \"" + key + "\"");

  Entry e{name, DType::F32, {}, 0, 0};
  const json& dtype = v["dtype"];
  if (!dtype.is_string()) format(where + ": dtype is " + kind(dtype) + ", expected a string");
  const auto& dname = dtype.get_ref<const std::string&>();
  bool known = false;
  for (DType d : kDTypes) {
    if (dtype_name(d) == dname) {
      e.dtype = d;
      known = true;
    }
  }
  if (!known) format(where + ": unknown or unsupported dtype \"" + dname + "\" (ebm reads F32, F64, I64, U64, U8)");

  const json& shape = v["shape"];
  if (!shape.is_array()) format(where + ": shape is " + kind(shape) + ", expected a list");
  for (const json& d : shape) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      format(where + ": shape " + preview(shape) + " is not a list of non-negative integers");
    e.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
  }
  std::uint64_t nbytes = 0;
  if (!byte_count(e.shape, dtype_size(e.dtype), nbytes))
    format(where + ": shape " + shape_text(e.shape) + " of " + dname + " overflows 64-bit byte counts");

  const json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    format(where + ": data_offsets " + preview(offsets) + " is not a list [begin, end] of non-negative integers");
  e.begin = offsets[0].get<std::uint64_t>();
  e.end = offsets[1].get<std::uint64_t>();
  if (e.begin > e.end || e.end > data_size)
    format(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
           "] outside the data section of " + std::to_string(data_size) + " bytes");
  if (e.end - e.begin != nbytes)
    format(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] span " +
           std::to_string(e.end - e.begin) + " bytes, but shape " + shape_text(e.shape) + " of " + dname + " needs " +
           std::to_string(nbytes));
  return e;
}

TensorFile Reader::read() {
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path_.c_str(), "rb"));
  if (!file) io(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(file.get()), &st) != 0) io(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) io("not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) format("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");

  unsigned char prefix[8];
  read_exact(file.get(), prefix, 8);
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | prefix[k];
  if (n > kMaxSafetensorsHeader)
    format("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader) +
           " bytes");
  if (n > size - 8)
    format("header length " + std::to_string(n) + " is larger than the rest of the file (" + std::to_string(size - 8) +
           " bytes)");
  std::string text(n, '\0');
  read_exact(file.get(), text.data(), n);
  const json header = parse_header(text);
  if (!header.is_object()) format("header is " + kind(header) + ", expected an object");

  const std::uint64_t data_size = size - 8 - n;
  TensorFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) format("__metadata__ is " + kind(value) + ", expected an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          format("__metadata__ value of \"" + mkey + "\" is " + kind(mvalue) + ", expected a string");
        out.metadata[mkey] = mvalue.get<std::string>();
      }
    } else {
      entries.push_back(parse_entry(key, value, data_size));
    }
  }

  // The tensors must tile the data section: sorted by offsets, each begins where the last ended.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t covered = 0;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    if (e.begin < covered)
      format("tensor '" + e.name + "' (bytes " + std::to_string(e.begin) + " to " + std::to_string(e.end) +
             ") overlaps tensor '" + entries[k - 1].name + "' (ending at " + std::to_string(covered) + ")");
    if (e.begin > covered)
      format("bytes " + std::to_string(covered) + " to " + std::to_string(e.begin) +
             " of the data section belong to no tensor (gap before tensor '" + e.name + "')");
    covered = e.end;
  }
  if (covered != data_size)
    format("the data section has " + std::to_string(data_size - covered) + " bytes after the last tensor (" +
           std::to_string(data_size) + " bytes, tensors cover " + std::to_string(covered) + ")");

  out.tensors.reserve(entries.size());
  for (Entry& e : entries) {
    Tensor t{std::move(e.name), e.dtype, std::move(e.shape), std::vector<std::byte>(e.end - e.begin)};
    read_exact(file.get(), t.bytes.data(), t.bytes.size());
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
    case DType::I64:
      return "I64";
    case DType::U64:
      return "U64";
    case DType::U8:
      return "U8";
  }
  return "?";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32:
      return 4;
    case DType::F64:
    case DType::I64:
    case DType::U64:
      return 8;
    case DType::U8:
      return 1;
  }
  return 1;
}

std::int64_t Tensor::numel() const {
  std::uint64_t n = 1;  // unsigned: an absurd shape wraps instead of being undefined
  for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
  return static_cast<std::int64_t>(n);
}

template <class T>
Tensor tensor_from(std::string name, const Mat<T>& m) {
  return Tensor{std::move(name),
                dtype_of<T>(),
                {std::int64_t(m.rows()), std::int64_t(m.cols())},
                encode(m.data(), static_cast<std::size_t>(m.size()))};
}

template <class T>
Tensor tensor_from_row(std::string name, const Mat<T>& m) {
  if (m.rows() != 1)
    throw InvalidArgument("tensor_from_row: '" + name + "' has " + std::to_string(m.rows()) + " rows, expected 1");
  return Tensor{
      std::move(name), dtype_of<T>(), {std::int64_t(m.cols())}, encode(m.data(), static_cast<std::size_t>(m.size()))};
}

template <class T>
Tensor tensor_from_values(std::string name, std::span<const T> values, std::vector<std::int64_t> shape) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(values.size())};
  std::uint64_t bytes = 0;
  if (!byte_count(shape, sizeof(T), bytes) || bytes != values.size() * sizeof(T))
    throw InvalidArgument("tensor_from_values: '" + name + "': shape " + shape_text(shape) + " does not hold " +
                          std::to_string(values.size()) + " values");
  return Tensor{std::move(name), dtype_of<T>(), std::move(shape), encode(values.data(), values.size())};
}

template <class T>
Mat<T> to_matrix(const Tensor& t, Index rows, Index cols, std::string_view file) {
  return matrix_of<T>(t, {std::int64_t(rows), std::int64_t(cols)}, rows, cols, file);
}

template <class T>
Mat<T> to_row(const Tensor& t, Index n, std::string_view file) {
  return matrix_of<T>(t, {std::int64_t(n)}, 1, n, file);
}

template <class T>
std::vector<T> to_values(const Tensor& t, std::string_view file) {
  check_bytes(t, file);
  if constexpr (std::is_floating_point_v<T>) {
    return float_values<T>(t, file);
  } else {
    if (t.dtype != dtype_of<T>())
      throw FormatError(tensor_where(file, t.name) + " has dtype " + std::string(dtype_name(t.dtype)) + ", expected " +
                        std::string(dtype_name(dtype_of<T>())));
    return decode<T>(t.bytes);
  }
}

const Tensor* TensorFile::find(std::string_view name) const {
  for (const Tensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const Tensor& TensorFile::at(std::string_view name, std::string_view file) const {
  if (const Tensor* t = find(name)) return *t;
  throw FormatError(std::string(file) + ": missing tensor '" + std::string(name) + "'");
}

void write_safetensors(const std::string& path, const TensorFile& file) {
  const std::string where = "write_safetensors: " + path + ": ";
  std::set<std::string_view> names;
  for (const Tensor& t : file.tensors) {
    if (t.name.empty() || t.name == "__metadata__")
      throw InvalidArgument(where + "invalid tensor name '" + t.name + "'");
    if (!names.insert(t.name).second) throw InvalidArgument(where + "duplicate tensor name '" + t.name + "'");
    std::uint64_t bytes = 0;
    if (!byte_count(t.shape, dtype_size(t.dtype), bytes) || bytes != t.bytes.size())
      throw InvalidArgument(where + "tensor '" + t.name + "' holds " + std::to_string(t.bytes.size()) +
                            " bytes, inconsistent with shape " + shape_text(t.shape) + " and dtype " +
                            std::string(dtype_name(t.dtype)));
  }
  // The reference writer's order: larger elements first (so every tensor starts aligned to its
  // element size, the header being padded to 8), then by name. Same content, same bytes.
  std::vector<const Tensor*> order;
  for (const Tensor& t : file.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const Tensor* a, const Tensor* b) {
    const std::size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  // Keys in the reference writer's order: "__metadata__", then the tensors in data order, each
  // with dtype, shape, data_offsets.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::uint64_t offset = 0;
  for (const Tensor* t : order) {
    header[t->name] = {{"dtype", std::string(dtype_name(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception&) {
    throw InvalidArgument(where + "a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  unsigned char prefix[8];
  for (int k = 0; k < 8; ++k) prefix[k] = static_cast<unsigned char>(std::uint64_t(text.size()) >> (8 * k));
  try {
    AtomicFile out(path);
    out.write(prefix, 8);
    out.write(text);
    for (const Tensor* t : order) out.write(t->bytes.data(), t->bytes.size());
    out.commit();
  } catch (const IoError& e) {
    throw IoError("write_safetensors: " + std::string(e.what()));
  }
}

TensorFile read_safetensors(const std::string& path) { return Reader(path).read(); }

template Tensor tensor_from<float>(std::string, const Mat<float>&);
template Tensor tensor_from<double>(std::string, const Mat<double>&);
template Tensor tensor_from_row<float>(std::string, const Mat<float>&);
template Tensor tensor_from_row<double>(std::string, const Mat<double>&);
template Tensor tensor_from_values<float>(std::string, std::span<const float>, std::vector<std::int64_t>);
template Tensor tensor_from_values<double>(std::string, std::span<const double>, std::vector<std::int64_t>);
template Tensor tensor_from_values<std::int64_t>(std::string, std::span<const std::int64_t>, std::vector<std::int64_t>);
template Tensor tensor_from_values<std::uint64_t>(std::string, std::span<const std::uint64_t>,
                                                  std::vector<std::int64_t>);
template Tensor tensor_from_values<std::uint8_t>(std::string, std::span<const std::uint8_t>, std::vector<std::int64_t>);
template Mat<float> to_matrix<float>(const Tensor&, Index, Index, std::string_view);
template Mat<double> to_matrix<double>(const Tensor&, Index, Index, std::string_view);
template Mat<float> to_row<float>(const Tensor&, Index, std::string_view);
template Mat<double> to_row<double>(const Tensor&, Index, std::string_view);
template std::vector<float> to_values<float>(const Tensor&, std::string_view);
template std::vector<double> to_values<double>(const Tensor&, std::string_view);
template std::vector<std::int64_t> to_values<std::int64_t>(const Tensor&, std::string_view);
template std::vector<std::uint64_t> to_values<std::uint64_t>(const Tensor&, std::string_view);
template std::vector<std::uint8_t> to_values<std::uint8_t>(const Tensor&, std::string_view);

}  // namespace ebm::io
