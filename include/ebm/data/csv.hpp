#pragma once
// CSV files of numbers: one point per line, one coordinate per field (N x D).
//
// Reading: fields are split at the delimiter (no quoted fields containing delimiters: a field
// wrapped in double quotes has them removed, nothing more); spaces and tabs around a field are
// ignored; "\n" and "\r\n" line ends; blank lines are skipped. A gzip'd file (data.csv.gz) is
// read transparently. Every row must have the header's (or first row's) number of fields, every
// cell must be a finite decimal number that fits the type (float: |x| < 3.4e38): anything else
// is a FormatError naming the file, the line, the column and the text. Header::Auto takes the
// first row as a header when any of its cells is not a number. Without a header the columns are
// named x0, x1, ...
//
// Writing: a header line, then each value in the shortest form that reads back to the same
// bits (std::to_chars), so write_csv then read_csv is exact for float and double. The file is
// written atomically (AtomicFile): an error never leaves a half-written file.
#include <ebm/core/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ebm {

struct CsvOptions {
  enum class Header { Auto, Yes, No };
  Header header = Header::Auto;
  char delimiter = ',';  // '\t' for TSV; not a character that can occur in a number or quote
  void validate() const;
};

/// A matrix with column names: values is N x D, columns has D names.
template <class T>
struct Table {
  Mat<T> values;
  std::vector<std::string> columns;
};

/// Reads a CSV file. Throws IoError when the file cannot be read, FormatError for its content.
template <class T>
Table<T> read_csv(const std::string& path, const CsvOptions& options = {});

/// Parses CSV text; `name` stands for the file name in error messages.
template <class T>
Table<T> read_csv_text(std::string_view text, const CsvOptions& options = {}, std::string_view name = "<text>");

/// Writes m (N x D) with a header: `columns` (D names) or, when empty, x0, x1, ... Names must
/// be non-empty, must not contain the delimiter, quotes or line breaks, and must not all read
/// as numbers (the header would be taken for data). Values must be finite (NumericalError).
template <class T>
void write_csv(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns = {},
               char delimiter = ',');

/// The text write_csv would write.
template <class T>
std::string csv_text(const Mat<T>& m, const std::vector<std::string>& columns = {}, char delimiter = ',');

extern template Table<float> read_csv<float>(const std::string&, const CsvOptions&);
extern template Table<double> read_csv<double>(const std::string&, const CsvOptions&);
extern template Table<float> read_csv_text<float>(std::string_view, const CsvOptions&, std::string_view);
extern template Table<double> read_csv_text<double>(std::string_view, const CsvOptions&, std::string_view);
extern template void write_csv<float>(const std::string&, const Mat<float>&, const std::vector<std::string>&, char);
extern template void write_csv<double>(const std::string&, const Mat<double>&, const std::vector<std::string>&, char);
extern template std::string csv_text<float>(const Mat<float>&, const std::vector<std::string>&, char);
extern template std::string csv_text<double>(const Mat<double>&, const std::vector<std::string>&, char);

}  // namespace ebm
