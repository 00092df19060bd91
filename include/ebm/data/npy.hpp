#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0), as np.save writes them.
//
// Reading: dtypes float ('<f4', '<f8'), signed and unsigned integers of 1, 2, 4 and 8 bytes
// ('|u1', '<i8', ...), either byte order, converted to T (large 64-bit integers round). C order
// only: fortran_order True is a FormatError. Shapes: 1-D (N,) gives N x 1, 2-D (N, D) gives
// N x D, more dimensions (N, a, b, ...) give N x (a b ...) (an image stack becomes one row per
// image); a 0-d array is an error. The header dictionary is parsed by a small strict parser
// (no eval); sizes are checked against the file before anything is allocated, so a header
// claiming more data than the file holds, or a shape whose byte size overflows, is a
// FormatError naming the shape and the file size. Trailing bytes after the data are an error
// too, as are non-finite values (NaN, inf, or a value too large for float).
//
// Writing: version 1.0, '<f4' for float and '<f8' for double, shape (N, D), header padded to a
// multiple of 64 bytes; atomically (AtomicFile).
#include <ebm/core/types.hpp>

#include <string>

namespace ebm {

/// Reads an .npy file. Throws IoError when it cannot be read, FormatError for its content.
template <class T>
Mat<T> read_npy(const std::string& path);

/// Writes m (N x D) as an .npy file of shape (N, D).
template <class T>
void write_npy(const std::string& path, const Mat<T>& m);

extern template Mat<float> read_npy<float>(const std::string&);
extern template Mat<double> read_npy<double>(const std::string&);
extern template void write_npy<float>(const std::string&, const Mat<float>&);
extern template void write_npy<double>(const std::string&, const Mat<double>&);

}  // namespace ebm
