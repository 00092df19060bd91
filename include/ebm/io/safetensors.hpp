#pragma once
// Safetensors files (the format of Hugging Face's `safetensors`, readable from PyTorch with the
// Python standard library alone): an 8-byte little-endian u64 header length N, N bytes of JSON
//
//   {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "string value", ...}}
//
// padded with spaces to a multiple of 8, then the raw little-endian tensor bytes, offsets
// relative to the start of that data section. Tensors cover the data section exactly, without
// gaps or overlaps, as the reference implementation requires.
#include <cstddef>
#include <cstdint>
#include <ebm/core/types.hpp>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ebm::io {

enum class DType { F32, F64, I64, U64, U8 };

/// "F32", "F64", "I64", "U64", "U8": the names in the header.
std::string_view dtype_name(DType d);
/// Bytes per element.
std::size_t dtype_size(DType d);

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // row-major; {} is a scalar
  std::vector<std::byte> bytes;     // little-endian, product(shape) * dtype_size(dtype) bytes

  /// product(shape); 1 for a scalar.
  std::int64_t numel() const;
};

/// m (rows x cols) as a 2-D tensor [rows, cols]: F32 for float, F64 for double.
template <class T>
Tensor tensor_from(std::string name, const Mat<T>& m);
/// A 1 x n matrix as a 1-D tensor [n] (a torch.nn.Linear bias). Throws InvalidArgument unless m
/// has one row.
template <class T>
Tensor tensor_from_row(std::string name, const Mat<T>& m);
/// Any values with their natural dtype (float F32, double F64, int64 I64, uint64 U64,
/// uint8 U8); shape {} means 1-D [values.size()]. Throws InvalidArgument if the shape does not
/// hold values.size() elements.
template <class T>
Tensor tensor_from_values(std::string name, std::span<const T> values, std::vector<std::int64_t> shape = {});

/// A [rows, cols] tensor of F32 or F64 as a matrix, converted to T. Throws FormatError naming
/// file (may be empty) and the tensor when the shape or dtype differ.
template <class T>
Mat<T> to_matrix(const Tensor& t, Index rows, Index cols, std::string_view file = {});
/// A 1-D [n] tensor of F32 or F64 as a 1 x n matrix; errors as to_matrix.
template <class T>
Mat<T> to_row(const Tensor& t, Index n, std::string_view file = {});
/// All elements, row-major. Floats convert between F32 and F64; integer types need their exact
/// dtype (a step counter must not pass through a float). FormatError naming file and tensor
/// otherwise.
template <class T>
std::vector<T> to_values(const Tensor& t, std::string_view file = {});

struct TensorFile {
  std::vector<Tensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"; string values only

  /// The tensor called name, or nullptr.
  const Tensor* find(std::string_view name) const;
  /// The tensor called name; FormatError "file: missing tensor 'name'" otherwise.
  const Tensor& at(std::string_view name, std::string_view file) const;
};

/// Writes atomically (ebm::AtomicFile): on any error the target is untouched. Throws
/// InvalidArgument for duplicate or empty names, the reserved name "__metadata__", or bytes
/// that do not match shape and dtype; IoError when the file cannot be written.
void write_safetensors(const std::string& path, const TensorFile& file);

/// Reads and validates a whole file. IoError when it cannot be read; FormatError naming path
/// and the problem for anything malformed: short file, header length beyond the file or the
/// 100 MB cap, invalid JSON, unknown dtype, bad shape or offsets, tensors that overlap or leave
/// gaps, duplicate names, non-string metadata. Non-finite float values are loaded as they are.
TensorFile read_safetensors(const std::string& path);

/// The header cap of the reference implementation.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

extern template Tensor tensor_from<float>(std::string, const Mat<float>&);
extern template Tensor tensor_from<double>(std::string, const Mat<double>&);
extern template Tensor tensor_from_row<float>(std::string, const Mat<float>&);
extern template Tensor tensor_from_row<double>(std::string, const Mat<double>&);
extern template Tensor tensor_from_values<float>(std::string, std::span<const float>, std::vector<std::int64_t>);
extern template Tensor tensor_from_values<double>(std::string, std::span<const double>, std::vector<std::int64_t>);
extern template Tensor tensor_from_values<std::int64_t>(std::string, std::span<const std::int64_t>,
                                                        std::vector<std::int64_t>);
extern template Tensor tensor_from_values<std::uint64_t>(std::string, std::span<const std::uint64_t>,
                                                         std::vector<std::int64_t>);
extern template Tensor tensor_from_values<std::uint8_t>(std::string, std::span<const std::uint8_t>,
                                                        std::vector<std::int64_t>);
extern template Mat<float> to_matrix<float>(const Tensor&, Index, Index, std::string_view);
extern template Mat<double> to_matrix<double>(const Tensor&, Index, Index, std::string_view);
extern template Mat<float> to_row<float>(const Tensor&, Index, std::string_view);
extern template Mat<double> to_row<double>(const Tensor&, Index, std::string_view);
extern template std::vector<float> to_values<float>(const Tensor&, std::string_view);
extern template std::vector<double> to_values<double>(const Tensor&, std::string_view);
extern template std::vector<std::int64_t> to_values<std::int64_t>(const Tensor&, std::string_view);
extern template std::vector<std::uint64_t> to_values<std::uint64_t>(const Tensor&, std::string_view);
extern template std::vector<std::uint8_t> to_values<std::uint8_t>(const Tensor&, std::string_view);

}  // namespace ebm::io
