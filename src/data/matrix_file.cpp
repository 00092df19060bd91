#include <ebm/core/error.hpp>
#include <ebm/data/idx.hpp>
#include <ebm/core/atomic_file.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/npy.hpp>
#include <ebm/data/npz.hpp>

#include "file_util.hpp"

#include <cctype>
#include <string>

namespace ebm {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The file name's extension for messages: from the last '.' of the last path component.
std::string extension_of(std::string_view path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.find_last_of('.');
  if (dot == std::string_view::npos) return "(none)";
  std::string out(1, '\'');
  out += name.substr(dot);
  out += '\'';
  return out;
}

// NumPy and IDX arrays get one name per column. An array without rows is refused first: its
// header alone can declare a million columns in a dozen bytes (found by fuzzing).
template <class T>
Table<T> with_generated_names(Mat<T> m, const std::string& path) {
  if (m.rows() == 0 || m.cols() == 0)
    throw FormatError("read_matrix: " + path + ": the array is empty (" + std::to_string(m.rows()) + " x " +
                      std::to_string(m.cols()) + "): no points");
  Table<T> t;
  t.columns.resize(static_cast<std::size_t>(m.cols()));
  for (std::size_t j = 0; j < t.columns.size(); ++j) t.columns[j] = data_detail::column_name(j);
  t.values = std::move(m);
  return t;
}

}  // namespace

MatrixFormat matrix_format(std::string_view path, bool for_writing) {
  const std::string where = for_writing ? "write_matrix" : "read_matrix";
  std::string name = lower(path);
  const bool gz = ends_with(name, ".gz");
  if (gz) name.resize(name.size() - 3);
  auto fail = [&](const std::string& why) -> MatrixFormat {
    throw InvalidArgument(where + ": " + std::string(path) + ": " + why);
  };
  MatrixFormat f;
  if (ends_with(name, ".csv")) {
    f = MatrixFormat::Csv;
  } else if (ends_with(name, ".tsv")) {
    f = MatrixFormat::Tsv;
  } else if (ends_with(name, ".txt")) {
    f = MatrixFormat::Txt;
  } else if (ends_with(name, ".npy")) {
    f = MatrixFormat::Npy;
  } else if (ends_with(name, ".npz")) {
    f = MatrixFormat::Npz;
  } else if (ends_with(name, ".idx") || ends_with(name, "-ubyte")) {
    f = MatrixFormat::Idx;
  } else {
    return fail("unknown extension " + extension_of(path) +
                (for_writing ? " (writable: .csv, .tsv, .txt, .npy)"
                             : " (readable: .csv, .tsv, .txt, .npy, .npz, .idx, *-ubyte; all but .npy and .npz also .gz)"));
  }
  if (gz && (for_writing || f == MatrixFormat::Npy || f == MatrixFormat::Npz)) {
    return fail(for_writing ? "cannot write gzip'd files (write the plain file and compress it)"
                            : "gzip'd .npy and .npz files are not supported (decompress it first)");
  }
  if (for_writing && f == MatrixFormat::Npz) return fail("cannot write .npz files (use .npy)");
  if (for_writing && f == MatrixFormat::Idx) return fail("cannot write IDX files (use .npy or .csv)");
  return f;
}

template <class T>
Table<T> read_table(const std::string& path) {
  switch (matrix_format(path)) {
    case MatrixFormat::Csv: return read_csv<T>(path);
    case MatrixFormat::Tsv: {
      CsvOptions o;
      o.delimiter = '\t';
      return read_csv<T>(path, o);
    }
    case MatrixFormat::Txt: {
      CsvOptions o;
      o.delimiter = ' ';
      return read_csv<T>(path, o);
    }
    case MatrixFormat::Npy: return with_generated_names<T>(read_npy<T>(path), path);
    case MatrixFormat::Npz: return with_generated_names<T>(read_npz<T>(path), path);
    case MatrixFormat::Idx: {
      const IdxArray a = read_idx(path);
      Mat<T> m;
      try {
        m = idx_to_matrix<T>(a);
      } catch (const FormatError& e) {  // idx_to_matrix does not know the file's name
        throw FormatError("read_matrix: " + path + ": " + e.what());
      }
      return with_generated_names<T>(std::move(m), path);
    }
  }
  throw InvalidArgument("read_matrix: " + path + ": unknown format");
}

template <class T>
Mat<T> read_matrix(const std::string& path) {
  return read_table<T>(path).values;
}

template <class T>
void write_matrix(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns) {
  switch (matrix_format(path, true)) {
    case MatrixFormat::Csv: return write_csv<T>(path, m, columns);
    case MatrixFormat::Tsv: return write_csv<T>(path, m, columns, '\t');
    case MatrixFormat::Txt: {  // the header as a comment, so that np.loadtxt reads the file as it is
      AtomicFile f(path);
      f.write("# " + csv_text<T>(m, columns, ' '));
      f.commit();
      return;
    }
    case MatrixFormat::Npy: return write_npy<T>(path, m);
    case MatrixFormat::Npz:
    case MatrixFormat::Idx: break;
  }
  throw InvalidArgument("write_matrix: " + path + ": cannot write this format");
}

template Table<float> read_table<float>(const std::string&);
template Table<double> read_table<double>(const std::string&);
template Mat<float> read_matrix<float>(const std::string&);
template Mat<double> read_matrix<double>(const std::string&);
template void write_matrix<float>(const std::string&, const Mat<float>&, const std::vector<std::string>&);
template void write_matrix<double>(const std::string&, const Mat<double>&, const std::vector<std::string>&);

}  // namespace ebm
