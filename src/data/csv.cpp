#include <ebm/core/atomic_file.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/data/csv.hpp>

#include "file_util.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace ebm {
namespace {

using data_detail::prefix;

constexpr const char* kWhere = "read_csv";

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The cell's text as it is meant: blanks and one pair of surrounding double quotes removed.
std::string_view cell_text(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim(s.substr(1, s.size() - 2));
  return s;
}

enum class Parsed { Ok, NotNumber, NonFinite, OutOfRange };

template <class T>
Parsed parse_number(std::string_view s, T& out) {
  if (s.size() > 1 && s.front() == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return Parsed::NotNumber;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::general);
  if (ec == std::errc::invalid_argument || ptr != s.data() + s.size()) return Parsed::NotNumber;
  if (ec == std::errc::result_out_of_range) {
    // from_chars also reports underflow (1e-400, and subnormals in some versions) as out of
    // range; strtod/strtof round those correctly and return +-HUGE_VAL only for overflow.
    const std::string copy(s);
    errno = 0;
    if constexpr (sizeof(T) == 4) {
      out = std::strtof(copy.c_str(), nullptr);
    } else {
      out = std::strtod(copy.c_str(), nullptr);
    }
    return std::isinf(out) ? Parsed::OutOfRange : Parsed::Ok;
  }
  return std::isfinite(out) ? Parsed::Ok : Parsed::NonFinite;
}

// Splits a line into fields: at every delimiter, or at runs of blanks when the delimiter is ' '.
void split(std::string_view line, char delim, std::vector<std::string_view>& fields) {
  fields.clear();
  if (delim == ' ') {
    line = trim(line);
    std::size_t i = 0;
    while (i < line.size()) {
      std::size_t j = i;
      while (j < line.size() && !is_blank(line[j])) ++j;
      fields.push_back(line.substr(i, j - i));
      while (j < line.size() && is_blank(line[j])) ++j;
      i = j;
    }
    return;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = line.find(delim, start);
    if (pos == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 40;  // a runaway cell (a binary file read as text) stays one line
  std::string out = "'";
  for (char c : s.substr(0, kMax)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out + (s.size() > kMax ? "...'" : "'");
}

std::string delimiter_name(char d) {
  if (d == '\t') return "'\\t'";
  if (std::isprint(static_cast<unsigned char>(d))) return std::string("'") + d + "'";
  return "character " + std::to_string(static_cast<int>(static_cast<unsigned char>(d)));
}

void validate_delimiter(char d, const char* where) {
  const auto u = static_cast<unsigned char>(d);
  const bool ok = d == '\t' || (std::isprint(u) && !std::isalnum(u) && d != '.' && d != '+' && d != '-' && d != '"');
  if (!ok) {
    throw InvalidArgument(std::string(where) + ": delimiter " + delimiter_name(d) +
                          " cannot be used (it is a letter, digit, sign, point, quote or control character)");
  }
}

}  // namespace

void CsvOptions::validate() const {
  if (header != Header::Auto && header != Header::Yes && header != Header::No) {
    throw InvalidArgument("CsvOptions: header has invalid value " + std::to_string(static_cast<int>(header)));
  }
  validate_delimiter(delimiter, "CsvOptions");
}

template <class T>
Table<T> read_csv_text(std::string_view text, const CsvOptions& options, std::string_view name) {
  options.validate();
  const std::string pre = prefix(kWhere, name);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte-order mark

  Table<T> table;
  std::vector<T> values;
  std::vector<std::string_view> fields;
  std::size_t width = 0;  // fields per row, set by the first row
  bool first = true;
  std::int64_t line_no = 0;
  std::int64_t rows = 0;
  std::size_t pos = 0;
  char delimiter = options.delimiter;
  auto column_label = [&](std::size_t j) { return "column " + std::to_string(j + 1) + " (" + table.columns[j] + ")"; };
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    if (first) {
      // NumPy's savetxt writes its header as a comment ("# x,y") and separates by blanks by
      // default: a leading '#' marks the header, and a first line of numbers (or a commented
      // header) with blanks but no comma makes the file blank-separated.
      const bool commented = line.front() == '#';
      if (commented) line = trim(line.substr(1));
      if (delimiter == ',' && line.find(',') == std::string_view::npos) {
        split(line, ' ', fields);
        bool numbers = true;
        for (const auto& f : fields) {
          T v;
          numbers = numbers && parse_number(cell_text(f), v) != Parsed::NotNumber;
        }
        if (fields.size() > 1 && (commented || numbers)) delimiter = ' ';  // "a b" alone stays one column name
      }
    }
    split(line, delimiter, fields);

    if (first) {
      first = false;
      width = fields.size();
      if (width > data_detail::kMaxColumns) {
        throw FormatError(pre + "line " + std::to_string(line_no) + " has " + std::to_string(width) +
                          " fields, more than the limit of " + std::to_string(data_detail::kMaxColumns) + " columns");
      }
      bool header = options.header == CsvOptions::Header::Yes;
      if (options.header == CsvOptions::Header::Auto) {
        for (const auto& f : fields) {
          T v;
          if (parse_number(cell_text(f), v) == Parsed::NotNumber) header = true;
        }
      }
      table.columns.resize(width);
      for (std::size_t j = 0; j < width; ++j) {
        const std::string_view h = header ? cell_text(fields[j]) : std::string_view();
        table.columns[j] = h.empty() ? data_detail::column_name(j) : std::string(h);
      }
      if (header) continue;
    }
    if (fields.size() != width) {
      throw FormatError(pre + "line " + std::to_string(line_no) + " has " + std::to_string(fields.size()) +
                        " fields, expected " + std::to_string(width));
    }
    for (std::size_t j = 0; j < width; ++j) {
      T v{};
      const std::string_view cell = cell_text(fields[j]);
      switch (parse_number(cell, v)) {
        case Parsed::Ok: break;
        case Parsed::NotNumber:
          throw FormatError(pre + "line " + std::to_string(line_no) + ", " + column_label(j) + ": " +
                            (cell.empty() ? std::string("empty cell") : "not a number: " + quoted(cell)));
        case Parsed::NonFinite:
          throw FormatError(pre + "line " + std::to_string(line_no) + ", " + column_label(j) + ": non-finite value " +
                            quoted(cell));
        case Parsed::OutOfRange:
          throw FormatError(pre + "line " + std::to_string(line_no) + ", " + column_label(j) + ": value " +
                            quoted(cell) + " is out of range for " + type_name<T>());
      }
      values.push_back(v);
    }
    ++rows;
  }
  if (first) throw FormatError(pre + (text.empty() ? "empty file" : "no rows (only blank lines)"));
  table.values = ConstMatMap<T>(values.data(), static_cast<Index>(rows), static_cast<Index>(width));
  return table;
}

template <class T>
Table<T> read_csv(const std::string& path, const CsvOptions& options) {
  options.validate();
  const std::string text = data_detail::read_all(path, kWhere);
  return read_csv_text<T>(text, options, path);
}

template <class T>
std::string csv_text(const Mat<T>& m, const std::vector<std::string>& columns, char delimiter) {
  constexpr const char* where = "write_csv";
  validate_delimiter(delimiter, where);
  const std::size_t d = static_cast<std::size_t>(m.cols());
  if (!columns.empty() && columns.size() != d) {
    throw InvalidArgument(std::string(where) + ": " + std::to_string(columns.size()) +
                          " column names for a matrix of " + shape_str(m) + " (expected " + std::to_string(d) + ")");
  }
  require_finite(m, where, "matrix");
  if (d == 0) throw InvalidArgument(std::string(where) + ": matrix " + shape_str(m) + " has no columns");
  std::string out;
  bool all_numeric = true;
  for (std::size_t j = 0; j < d; ++j) {
    const std::string name = columns.empty() ? data_detail::column_name(j) : columns[j];
    const bool bad_char = name.find_first_of(std::string("\"\r\n") + delimiter) != std::string::npos ||
                          (delimiter == ' ' && name.find('\t') != std::string::npos);
    if (name.empty() || bad_char || trim(name) != name) {
      throw InvalidArgument(std::string(where) + ": column name " + quoted(name) +
                            " is empty, has blanks at either end, or contains a quote, a line break or the "
                            "delimiter " +
                            delimiter_name(delimiter));
    }
    T v;
    if (parse_number(name, v) == Parsed::NotNumber) all_numeric = false;
    out += (j > 0 ? std::string(1, delimiter) : std::string()) + name;
  }
  if (all_numeric) {
    throw InvalidArgument(std::string(where) + ": every column name reads as a number (e.g. " + quoted(columns[0]) +
                          "), so the header would be read back as data");
  }
  out += '\n';
  out.reserve(out.size() + static_cast<std::size_t>(m.size()) * (sizeof(T) == 4 ? 14 : 24));
  char buf[64];
  for (Index r = 0; r < m.rows(); ++r) {
    for (Index c = 0; c < m.cols(); ++c) {
      if (c > 0) out += delimiter;
      const auto res = std::to_chars(buf, buf + sizeof buf, m(r, c));  // shortest exact form
      out.append(buf, res.ptr);
    }
    out += '\n';
  }
  return out;
}

template <class T>
void write_csv(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns, char delimiter) {
  const std::string text = csv_text(m, columns, delimiter);
  AtomicFile file(path);
  file.write(text);
  file.commit();
}

template Table<float> read_csv<float>(const std::string&, const CsvOptions&);
template Table<double> read_csv<double>(const std::string&, const CsvOptions&);
template Table<float> read_csv_text<float>(std::string_view, const CsvOptions&, std::string_view);
template Table<double> read_csv_text<double>(std::string_view, const CsvOptions&, std::string_view);
template void write_csv<float>(const std::string&, const Mat<float>&, const std::vector<std::string>&, char);
template void write_csv<double>(const std::string&, const Mat<double>&, const std::vector<std::string>&, char);
template std::string csv_text<float>(const Mat<float>&, const std::vector<std::string>&, char);
template std::string csv_text<double>(const Mat<double>&, const std::vector<std::string>&, char);

}  // namespace ebm
