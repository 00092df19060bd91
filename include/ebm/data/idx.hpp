#pragma once
// IDX files, the format of MNIST and Fashion-MNIST, plain or gzip'd (read through zlib, which
// reads plain files as they are).
//
// Layout: magic 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 dimensions, then the data,
// big-endian, row-major. Types: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64. The data size is checked against a cap (kIdxMaxBytes) before anything is
// allocated, and the buffer grows only as data arrives, so a header that lies about its size
// costs no memory; a short file is a FormatError "truncated: expected X bytes of data, got Y",
// and bytes after the data are an error too.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ebm {

enum class IdxType : std::uint8_t {
  UByte = 0x08,
  SByte = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E
};

/// Largest data size read_idx accepts: 16 GiB (Fashion-MNIST's training images are 47 MB).
inline constexpr std::uint64_t kIdxMaxBytes = std::uint64_t{1} << 34;

/// An IDX array as stored: shape, element type and the data bytes (big-endian elements).
struct IdxArray {
  IdxType type = IdxType::UByte;
  std::vector<Index> shape;
  std::vector<std::uint8_t> bytes;
  /// Number of elements (the product of the shape); throws InvalidArgument when it overflows.
  Index size() const;
};

/// Reads an IDX file. Throws IoError when it cannot be read, FormatError for its content
/// (including more than 2^20 columns, the product of the trailing dimensions).
IdxArray read_idx(const std::string& path);

/// Images: a ubyte array of shape (N, rows, cols) (or any ndim >= 2) -> N x (rows cols), each
/// value divided by 255, so in [0, 1].
template <class T>
Mat<T> read_idx_images(const std::string& path);

/// Labels: a 1-D array of integers (ubyte, sbyte, int16 or int32) -> N values.
std::vector<int> read_idx_labels(const std::string& path);

/// Any IDX array as a matrix: ndim 1 -> N x 1, (N, a, b, ...) -> N x (a b ...). Ubyte arrays of
/// two or more dimensions are images and are scaled to [0, 1] as read_idx_images does; other
/// arrays keep their values.
template <class T>
Mat<T> idx_to_matrix(const IdxArray& a);

extern template Mat<float> read_idx_images<float>(const std::string&);
extern template Mat<double> read_idx_images<double>(const std::string&);
extern template Mat<float> idx_to_matrix<float>(const IdxArray&);
extern template Mat<double> idx_to_matrix<double>(const IdxArray&);

}  // namespace ebm
