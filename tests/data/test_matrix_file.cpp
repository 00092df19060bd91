// read_matrix / write_matrix: the extension picks the format (case-insensitive), round trips
// through each writable format, gzip'd CSV and IDX files, IDX images scaled to [0, 1], and
// InvalidArgument for unknown or unwritable extensions, naming them.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/matrix_file.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include "data/util.hpp"

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::MatF;
using ebm::MatrixFormat;
using ebm_test::TempDir;

TEST(MatrixFile, FormatFromTheName) {
  EXPECT_EQ(ebm::matrix_format("a/b.csv"), MatrixFormat::Csv);
  EXPECT_EQ(ebm::matrix_format("B.CSV.GZ"), MatrixFormat::Csv);
  EXPECT_EQ(ebm::matrix_format("x.tsv"), MatrixFormat::Tsv);
  EXPECT_EQ(ebm::matrix_format("x.Npy", true), MatrixFormat::Npy);
  EXPECT_EQ(ebm::matrix_format("train-images-idx3-ubyte.gz"), MatrixFormat::Idx);
  EXPECT_EQ(ebm::matrix_format("t10k-labels-idx1-ubyte"), MatrixFormat::Idx);
  EXPECT_EQ(ebm::matrix_format("x.idx"), MatrixFormat::Idx);
  EXPECT_ERROR(ebm::InvalidArgument, ebm::matrix_format("data.xlsx"), "read_matrix: data.xlsx",
               "unknown extension '.xlsx'");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::matrix_format("dir.v2/data"), "read_matrix: dir.v2/data", "extension (none)");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::matrix_format("x.npy.gz"), "x.npy.gz", "gzip'd .npy");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::matrix_format("x.idx", true), "write_matrix: x.idx", "cannot write IDX");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::matrix_format("x.csv.gz", true), "write_matrix: x.csv.gz", "gzip");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::write_matrix<double>("out.xls", MatD::Zero(1, 1)), "write_matrix: out.xls",
               "unknown extension '.xls'", ".csv, .tsv, .txt, .npy");
  EXPECT_EQ(ebm::matrix_format("savetxt.txt"), MatrixFormat::Txt);
}

TEST(MatrixFile, RoundTripsThroughEveryWritableFormat) {
  TempDir dir;
  MatD m(20, 3);
  const ebm::CounterRng rng(3, 0);
  rng.normal<double>(0, std::span<double>(m.data(), 60));
  for (const char* name : {"m.csv", "m.tsv", "m.txt", "m.npy", "M.CSV"}) {
    SCOPED_TRACE(name);
    ebm::write_matrix<double>(dir.file(name), m, {"a", "b", "c"});
    EXPECT_EQ(ebm::read_matrix<double>(dir.file(name)), m);
    const auto t = ebm::read_table<double>(dir.file(name));
    const bool has_header = std::string(name) != "m.npy";
    const std::vector<std::string> expected =
        has_header ? std::vector<std::string>{"a", "b", "c"} : std::vector<std::string>{"x0", "x1", "x2"};
    EXPECT_EQ(t.columns, expected);
  }
  EXPECT_NE(ebm_test::read_bytes(dir.file("m.tsv")).find("a\tb\tc\n"), std::string::npos);
}

// The files np.savetxt writes, read as NumPy's loadtxt would: blank-separated values in .txt or
// .csv, a header written as a '#' comment.
TEST(MatrixFile, ReadsNumPysSavetxtFiles) {
  TempDir dir;
  MatD m(20, 3);
  ebm::CounterRng(4, 0).normal<double>(0, std::span<double>(m.data(), 60));
  ebm::write_matrix<double>(dir.file("ebm.txt"), m, {"a", "b", "c"});
  const std::string error =
      ebm_test::run_python("data/numpy_text_files.py", {dir.path().string(), dir.file("ebm.txt")}, dir.file("log"));
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(ebm::read_matrix<double>(dir.file("ebm_txt.npy")), m);  // np.loadtxt reads ebm's .txt exactly
  const MatD truth = ebm::read_matrix<double>(dir.file("truth.npy"));
  for (const char* name : {"plain.txt", "plain.csv", "header.txt", "header.csv"}) {
    SCOPED_TRACE(name);
    const auto t = ebm::read_table<double>(dir.file(name));
    ASSERT_EQ(t.values.rows(), 13);
    EXPECT_EQ(t.values, truth);  // '%.18e' round-trips doubles exactly
    const bool header = std::string(name).rfind("header", 0) == 0;
    const std::vector<std::string> named = {"x", "y", "z"}, generated = {"x0", "x1", "x2"};
    EXPECT_EQ(t.columns, header ? named : generated);
  }
  // A one-column CSV whose header has a blank stays one column.
  ebm_test::write_bytes(dir.file("one.csv"), "my value\n1\n2\n");
  EXPECT_EQ(ebm::read_table<double>(dir.file("one.csv")).columns, std::vector<std::string>{"my value"});
}

TEST(MatrixFile, ReadsGzipAndIdx) {
  TempDir dir;
  auto gz_write = [](const std::string& path, const std::string& bytes) {
    gzFile gz = gzopen(path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
  };
  gz_write(dir.file("d.csv.gz"), "p,q\n1,2\n");
  EXPECT_EQ(ebm::read_matrix<float>(dir.file("d.csv.gz")), (MatF(1, 2) << 1, 2).finished());
  // Two 1 x 2 images with pixels 0, 255, 51, 102: scaled to [0, 1]. A 1-D file keeps its values.
  gz_write(dir.file("img-idx3-ubyte.gz"),
           std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x01\0\0\0\x02\x00\xff\x33\x66", 20));
  EXPECT_EQ(ebm::read_matrix<double>(dir.file("img-idx3-ubyte.gz")),
            (MatD(2, 2) << 0, 1, 51.0 / 255, 102.0 / 255).finished());
  ebm_test::write_bytes(dir.file("lab.idx"), std::string("\0\0\x08\x01\0\0\0\x03\x07\x00\x09", 11));
  EXPECT_EQ(ebm::read_matrix<double>(dir.file("lab.idx")), (MatD(3, 1) << 7, 0, 9).finished());
  // Errors from the format readers come through unchanged.
  ebm_test::write_bytes(dir.file("bad.npy"), "not numpy");
  EXPECT_ERROR(ebm::FormatError, ebm::read_matrix<double>(dir.file("bad.npy")), "read_npy", "bad.npy", "bad magic");
  std::string nan = std::string("\0\0\x0d\x01\0\0\0\x01\x7f\xc0\0\0", 12);
  ebm_test::write_bytes(dir.file("nan.idx"), nan);
  EXPECT_ERROR(ebm::FormatError, ebm::read_matrix<double>(dir.file("nan.idx")), "nan.idx", "non-finite value");
}

}  // namespace
