#pragma once
// Reading and writing a matrix (N x D) by file name, the format chosen by the extension
// (case-insensitive):
//   .csv          CSV (data/csv.hpp), header detected          read, write
//   .tsv          tab-separated, header detected                read, write
//   .npy          NumPy (data/npy.hpp)                          read, write
//   .npz          NumPy archive of one array (data/npz.hpp)     read
//   .idx, *-ubyte IDX (data/idx.hpp): ubyte images scaled to [0, 1], see idx_to_matrix   read
//   <any of these>.gz   gzip'd CSV, TSV or IDX                  read
// Anything else is an InvalidArgument naming the extension.
#include <ebm/core/types.hpp>
#include <ebm/data/csv.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ebm {

enum class MatrixFormat { Csv, Tsv, Txt, Npy, Npz, Idx };  // Txt: blank-separated, as NumPy's savetxt

/// The format a file name stands for; `for_writing` rejects the read-only ones (IDX, .gz).
MatrixFormat matrix_format(std::string_view path, bool for_writing = false);

/// The matrix with column names: from a CSV/TSV header, x0, x1, ... otherwise.
template <class T>
Table<T> read_table(const std::string& path);

template <class T>
Mat<T> read_matrix(const std::string& path);

/// Writes m (N x D); `columns` (D names, or empty for x0, x1, ...) go into a CSV/TSV header and
/// are ignored for .npy.
template <class T>
void write_matrix(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns = {});

extern template Table<float> read_table<float>(const std::string&);
extern template Table<double> read_table<double>(const std::string&);
extern template Mat<float> read_matrix<float>(const std::string&);
extern template Mat<double> read_matrix<double>(const std::string&);
extern template void write_matrix<float>(const std::string&, const Mat<float>&, const std::vector<std::string>&);
extern template void write_matrix<double>(const std::string&, const Mat<double>&, const std::vector<std::string>&);

}  // namespace ebm
