// CSV reading and writing: exact round trips (float and double, extreme values), the forms of
// input a CSV file meets in practice (headers, blanks, CRLF, BOM, quotes, TSV, whitespace,
// gzip), and the errors: empty and blank files, ragged rows, non-numeric, empty, NaN, inf and
// out-of-range cells, bad options and bad column names, each naming the file, line and column.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/csv.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <limits>
#include <vector>

#include "data/util.hpp"

namespace {

using ebm::CsvOptions;
using ebm::Index;
using ebm_test::TempDir;

template <class T>
ebm::Mat<T> tricky_values() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {T(0),
                      T(-0.0),
                      T(1),
                      T(-1),
                      T(0.1),
                      T(1) / T(3),
                      L::max(),
                      L::lowest(),
                      L::min(),
                      L::denorm_min(),
                      T(-2) * L::denorm_min(),
                      L::epsilon(),
                      T(1) + L::epsilon(),
                      T(123456789),
                      T(-1e-7),
                      T(6.02214076e23)};
  ebm::Mat<T> m(static_cast<Index>(v.size()) + 40, 3);
  const ebm::CounterRng rng(5, 0);
  std::vector<T> z(static_cast<std::size_t>(m.size()));
  rng.normal<T>(0, z);
  for (Index k = 0; k < m.size(); ++k)
    m.data()[k] = z[static_cast<std::size_t>(k)] * std::exp(T(3) * z[(static_cast<std::size_t>(k) + 7) % z.size()]);
  for (std::size_t k = 0; k < v.size(); ++k) m(static_cast<Index>(k), static_cast<Index>(k % 3)) = v[k];
  return m;
}

template <class T>
void expect_same_bits(const ebm::Mat<T>& a, const ebm::Mat<T>& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())), 0);
}

template <class T>
class CsvRoundTrip : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CsvRoundTrip, Types);

TYPED_TEST(CsvRoundTrip, IsExactToTheBit) {
  using T = TypeParam;
  TempDir dir;
  const auto m = tricky_values<T>();
  const std::string path = dir.file("m.csv");
  ebm::write_csv<T>(path, m, {"a", "b", "c"});
  const auto t = ebm::read_csv<T>(path);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b", "c"}));
  expect_same_bits<T>(t.values, m);
  // Default names, other delimiters.
  ebm::write_csv<T>(path, m, {}, ';');
  CsvOptions semicolon;
  semicolon.delimiter = ';';
  const auto t2 = ebm::read_csv<T>(path, semicolon);
  EXPECT_EQ(t2.columns, (std::vector<std::string>{"x0", "x1", "x2"}));
  expect_same_bits<T>(t2.values, m);
  // Shortest exact form: 0.1 (row 4, column 1) is written as "0.1", not 17 digits.
  EXPECT_NE(ebm::csv_text<T>(m).find(",0.1,"), std::string::npos);
  // No temporary file is left behind.
  for (const auto& e : ebm_test::fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos);
  }
}

TEST(Csv, HeaderDetection) {
  const auto with = ebm::read_csv_text<double>("x,y\n1,2\n3,4\n");
  EXPECT_EQ(with.columns, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(with.values, (ebm::MatD(2, 2) << 1, 2, 3, 4).finished());
  const auto without = ebm::read_csv_text<double>("1,2\n3,4\n");
  EXPECT_EQ(without.columns, (std::vector<std::string>{"x0", "x1"}));
  EXPECT_EQ(without.values.rows(), 2);
  // One non-numeric cell is enough to make a header; a numeric header needs Header::Yes.
  EXPECT_EQ(ebm::read_csv_text<double>("1,y\n3,4\n").columns, (std::vector<std::string>{"1", "y"}));
  CsvOptions yes;
  yes.header = CsvOptions::Header::Yes;
  const auto numeric = ebm::read_csv_text<double>("10,20\n3,4\n", yes);
  EXPECT_EQ(numeric.columns, (std::vector<std::string>{"10", "20"}));
  EXPECT_EQ(numeric.values.rows(), 1);
  CsvOptions no;
  no.header = CsvOptions::Header::No;
  EXPECT_ERROR(ebm::FormatError, ebm::read_csv_text<double>("x,y\n1,2\n", no, "d.csv"), "read_csv: d.csv",
               "line 1, column 1", "'x'");
  // More columns than any matrix file may have.
  EXPECT_ERROR(ebm::FormatError, ebm::read_csv_text<float>(std::string(2 * (1 << 20) + 2, ','), {}, "w.csv"), "w.csv",
               "2097155 fields", "limit of 1048576 columns");
  // A header and no rows: 0 x D.
  const auto empty = ebm::read_csv_text<float>("x,y\n");
  EXPECT_EQ(empty.values.rows(), 0);
  EXPECT_EQ(empty.values.cols(), 2);
}

TEST(Csv, ToleratesTheUsualVariations) {
  const ebm::MatD expected = (ebm::MatD(2, 2) << 1.5, -2, 300, 0.25).finished();
  // BOM, CRLF, blank lines, blanks around cells, quotes, a leading '+', exponents.
  const auto t = ebm::read_csv_text<double>("\xEF\xBB\xBF\"x\", \"y\"\r\n\r\n 1.5 ,\t-2\r\n  \r\n+3e2,\"0.25\"\r\n\n");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.values, expected);
  CsvOptions tab;
  tab.delimiter = '\t';
  EXPECT_EQ(ebm::read_csv_text<double>("a\tb\n1.5\t-2\n300\t0.25", tab).values, expected);  // no final newline
  CsvOptions space;
  space.delimiter = ' ';
  EXPECT_EQ(ebm::read_csv_text<double>("  1.5   -2\n300\t 0.25\n", space).values, expected);
  // Subnormal and underflowing values read as the nearest double, not as errors.
  EXPECT_EQ(ebm::read_csv_text<double>("4.9e-324\n1e-400\n").values(0, 0), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(ebm::read_csv_text<double>("4.9e-324\n1e-400\n").values(1, 0), 0.0);
}

TEST(Csv, ReadsGzipFiles) {
  TempDir dir;
  const std::string path = dir.file("d.csv.gz");
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  const std::string text = "u,v\n1,2\n3,4\n";
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  const auto t = ebm::read_csv<float>(path);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"u", "v"}));
  EXPECT_EQ(t.values, (ebm::MatF(2, 2) << 1, 2, 3, 4).finished());
  // Cut in the middle of the deflate stream: an error, not a short table.
  const std::string bytes = ebm_test::read_bytes(path);
  ebm_test::write_bytes(path, bytes.substr(0, bytes.size() - 6));
  EXPECT_ERROR(ebm::FormatError, ebm::read_csv<float>(path), "read_csv", path, "truncated gzip stream");
}

// Malformed files: each error names the file, the line and column where there is one, and
// quotes the offending text.
TEST(Csv, CorruptFilesAreCleanErrors) {
  TempDir dir;
  const std::string path = dir.file("data.csv");
  auto read_text = [&](const std::string& text) {
    ebm_test::write_bytes(path, text);
    return ebm::read_csv<double>(path);
  };
  EXPECT_ERROR(ebm::FormatError, read_text(""), "read_csv: " + path + ": empty file");
  EXPECT_ERROR(ebm::FormatError, read_text("\n  \r\n\n"), path, "no rows");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,2\n3,4\n\n5,6\n7,8\n8,9\n1,2,3\n"),
               path + ": line 8 has 3 fields, expected 2");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,2\n3\n"), path + ": line 3 has 1 fields, expected 2");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,2\n3,abc\n"), path, "line 3, column 2 (y)", "not a number: 'abc'");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,2\n3,4x\n"), path, "line 3, column 2", "'4x'");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,2\n3,\n"), path, "line 3, column 2", "empty cell");
  EXPECT_ERROR(ebm::FormatError, read_text("x,y\n1,nan\n"), path, "line 2, column 2", "non-finite value 'nan'");
  EXPECT_ERROR(ebm::FormatError, read_text("1,2\n-inf,2\n"), path, "line 2, column 1 (x0)", "non-finite value '-inf'");
  EXPECT_ERROR(ebm::FormatError, read_text("x\n1e999\n"), path, "line 2, column 1",
               "'1e999' is out of range for float64");
  ebm_test::write_bytes(path, "x\n1e39\n");
  EXPECT_ERROR(ebm::FormatError, ebm::read_csv<float>(path), path, "out of range for float32");
  ebm_test::write_bytes(path, std::string("x,y\n1,2\n\x01\x02\xff,3\n", 14));
  EXPECT_ERROR(ebm::FormatError, ebm::read_csv<float>(path), path, "line 3, column 1", "not a number: '?\?\?'");
  EXPECT_ERROR(ebm::IoError, ebm::read_csv<double>(dir.file("missing.csv")), "missing.csv", "cannot open");
  EXPECT_ERROR(ebm::IoError, ebm::read_csv<double>(dir.path().string()), dir.path().string(), "not a regular file");
}

TEST(Csv, BadOptionsAndArguments) {
  CsvOptions o;
  o.delimiter = '.';
  EXPECT_ERROR(ebm::InvalidArgument, o.validate(), "CsvOptions", "delimiter '.'");
  o.delimiter = '7';
  EXPECT_ERROR(ebm::InvalidArgument, ebm::read_csv_text<double>("1", o), "delimiter '7'");
  o.delimiter = ',';
  o.header = static_cast<CsvOptions::Header>(9);
  EXPECT_ERROR(ebm::InvalidArgument, o.validate(), "header", "9");

  TempDir dir;
  const std::string path = dir.file("out.csv");
  const ebm::MatD m = ebm::MatD::Ones(2, 2);
  EXPECT_ERROR(ebm::InvalidArgument, ebm::write_csv<double>(path, m, {"a"}), "write_csv", "1 column names", "2x2");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::write_csv<double>(path, m, {"a", "b,c"}), "write_csv", "'b,c'");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::write_csv<double>(path, m, {"a", ""}), "write_csv", "''");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::write_csv<double>(path, m, {"1", "2"}), "write_csv", "read back as data");
  ebm::MatD bad = m;
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  ebm_test::write_bytes(path, "keep");
  EXPECT_ERROR(ebm::NumericalError, ebm::write_csv<double>(path, bad), "write_csv", "row 1, column 0");
  EXPECT_EQ(ebm_test::read_bytes(path), "keep");  // the target is untouched
  EXPECT_ERROR(ebm::IoError, ebm::write_csv<double>(dir.file("no/such/dir.csv"), m), "no/such/dir.csv");
}

}  // namespace
