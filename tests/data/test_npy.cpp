// NPY reading and writing: exact round trips; NumPy itself as the oracle in both directions
// (files np.save writes in every supported dtype, byte order and format version are read to
// the expected values; files we write load in NumPy to the same bits); and corrupt files: every
// prefix of a valid file, bad magic and versions, malformed or hostile headers (overflowing
// shapes, 10^12 rows, lengths past the end), unsupported layouts and dtypes, trailing bytes,
// non-finite data, and random byte mutations, each a FormatError naming the file, none a crash.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/csv.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/npy.hpp>

#include <gtest/gtest.h>

#include <fstream>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "data/util.hpp"

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::MatF;
using ebm_test::TempDir;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kInstallHint =
    "NumPy is the reference for the NPY format: install python3-numpy (scripts/setup.sh --with-test installs it)";

template <class T>
ebm::Mat<T> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  ebm::Mat<T> m(rows, cols);
  const ebm::CounterRng rng(seed, 0);
  rng.normal<T>(0, std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

template <class T>
bool same_bits(const ebm::Mat<T>& a, const ebm::Mat<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

// An NPY file from a header dictionary (padded as np.save does) and raw data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const std::size_t pre = major == 1 ? 10 : 12;
  header.append((pre + header.size() + 1 + 63) / 64 * 64 - pre - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major > 1) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  return out + header + data;
}

std::string doubles(std::initializer_list<double> v) {
  std::string s(v.size() * 8, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST(Npy, RoundTripIsExactAndTheLayoutIsNumPys) {
  TempDir dir;
  const MatD d = random_matrix<double>(37, 5, 1);
  const MatF f = random_matrix<float>(3, 1, 2);
  ebm::write_npy<double>(dir.file("d.npy"), d);
  ebm::write_npy<float>(dir.file("f.npy"), f);
  EXPECT_TRUE(same_bits<double>(ebm::read_npy<double>(dir.file("d.npy")), d));
  EXPECT_TRUE(same_bits<float>(ebm::read_npy<float>(dir.file("f.npy")), f));
  // Reading as the other type converts.
  EXPECT_TRUE(same_bits<double>(ebm::read_npy<double>(dir.file("f.npy")), MatD(f.cast<double>())));
  const std::string bytes = ebm_test::read_bytes(dir.file("d.npy"));
  ASSERT_EQ(bytes.size(), 128u + 37 * 5 * 8);  // header padded to 64 bytes
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("{'descr': '<f8', 'fortran_order': False, 'shape': (37, 5), }"), std::string::npos);
  EXPECT_EQ(bytes[127], '\n');
  // Empty matrices.
  ebm::write_npy<double>(dir.file("e.npy"), MatD(0, 3));
  const MatD e = ebm::read_npy<double>(dir.file("e.npy"));
  EXPECT_EQ(e.rows(), 0);
  EXPECT_EQ(e.cols(), 3);
}

// NumPy as the reference: it writes files of every kind we read, and reads ours.
TEST(Npy, AgreesWithNumPy) {
  TempDir dir;
  const std::string script = dir.file("oracle.py");
  ebm_test::write_bytes(script, R"PY(
import sys, numpy as np
d = sys.argv[1]
x = (np.arange(12, dtype=np.float64).reshape(3, 4) * 0.25 - 1.0)
np.save(d + '/f8.npy', x)
np.save(d + '/f4.npy', x.astype('<f4'))
np.save(d + '/be.npy', x.astype('>f8'))
np.save(d + '/i8.npy', (np.arange(12).reshape(3, 4) - 5).astype('<i8'))
np.save(d + '/u1.npy', np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
np.save(d + '/i2be.npy', (np.arange(6) - 3).astype('>i2'))
np.save(d + '/vec.npy', np.array([1.5, -2.0, 3.25]))
np.save(d + '/empty.npy', np.zeros((0, 3)))
np.save(d + '/fortran.npy', np.asfortranarray(x))
np.save(d + '/fortran3.npy', np.asfortranarray(np.zeros((2, 2, 2))))
np.save(d + '/f2.npy', np.array([[0.5, -1.25, 65504.0], [6.0e-8, -0.0, 1e-5]], dtype=np.float16))
np.save(d + '/b1.npy', np.array([[True, False], [False, True]]))
with open(d + '/f2.txt', 'w') as f:
    f.write(' '.join(repr(float(v)) for v in np.load(d + '/f2.npy').ravel()))
for v in [(2, 0), (3, 0)]:
    with open(d + '/v%d.npy' % v[0], 'wb') as f:
        np.lib.format.write_array(f, x, version=v)
# ours, written by the C++ side before this script runs a second time
if len(sys.argv) > 2:
    ours = np.load(d + '/ours.npy')
    ref = np.loadtxt(d + '/ours.csv', delimiter=',', skiprows=1, dtype=np.float64, ndmin=2)
    assert ours.dtype == np.float64 and ours.shape == ref.shape, (ours.dtype, ours.shape, ref.shape)
    assert ours.tobytes() == ref.tobytes(), 'values differ'
    ours32 = np.load(d + '/ours32.npy')
    assert ours32.dtype == np.float32 and ours32.shape == (4, 2), (ours32.dtype, ours32.shape)
    assert ours32.tobytes() == open(d + '/ours32.raw', 'rb').read()
)PY");
  auto python = [&](const std::string& extra) {
    const std::string cmd = std::string(kPython) + " " + script + " " + dir.path().string() + extra;
    return std::system(cmd.c_str());
  };
  ASSERT_EQ(python(""), 0) << kInstallHint;

  MatD x(3, 4);
  for (Index k = 0; k < 12; ++k) x.data()[k] = static_cast<double>(k) * 0.25 - 1.0;
  EXPECT_EQ(ebm::read_npy<double>(dir.file("f8.npy")), x);
  EXPECT_EQ(ebm::read_npy<float>(dir.file("f4.npy")), x.cast<float>());
  EXPECT_EQ(ebm::read_npy<double>(dir.file("be.npy")), x);
  EXPECT_EQ(ebm::read_npy<double>(dir.file("v2.npy")), x);
  EXPECT_EQ(ebm::read_npy<double>(dir.file("v3.npy")), x);
  MatD i8(3, 4);
  for (Index k = 0; k < 12; ++k) i8.data()[k] = static_cast<double>(k - 5);
  EXPECT_EQ(ebm::read_npy<double>(dir.file("i8.npy")), i8);
  const MatF u1 = ebm::read_npy<float>(dir.file("u1.npy"));  // (2, 3, 4) -> 2 x 12
  ASSERT_EQ(u1.rows(), 2);
  ASSERT_EQ(u1.cols(), 12);
  for (Index k = 0; k < 24; ++k) EXPECT_EQ(u1.data()[k], static_cast<float>(k));
  EXPECT_EQ(ebm::read_npy<double>(dir.file("i2be.npy")), (MatD(6, 1) << -3, -2, -1, 0, 1, 2).finished());
  EXPECT_EQ(ebm::read_npy<double>(dir.file("vec.npy")), (MatD(3, 1) << 1.5, -2, 3.25).finished());
  EXPECT_EQ(ebm::read_npy<double>(dir.file("empty.npy")).cols(), 3);
  // As points (what every command reads), an empty array is refused.
  EXPECT_ERROR(ebm::FormatError, ebm::read_matrix<double>(dir.file("empty.npy")), "empty.npy", "the array is empty (0 x 3)");
  EXPECT_EQ(ebm::read_npy<double>(dir.file("fortran.npy")), x);  // column-major, read as the same matrix
  EXPECT_ERROR(ebm::FormatError, ebm::read_npy<double>(dir.file("fortran3.npy")), "fortran3.npy", "fortran_order");
  // float16 and bool, converted as NumPy converts them (float(v) of each half).
  const MatD f2 = ebm::read_npy<double>(dir.file("f2.npy"));
  std::ifstream halves(dir.file("f2.txt"));
  ASSERT_EQ(f2.size(), 6);
  for (Index k = 0; k < 6; ++k) {
    double v = 0;
    halves >> v;
    EXPECT_EQ(f2.data()[k], v) << k;
  }
  EXPECT_EQ(ebm::read_npy<float>(dir.file("b1.npy")), (MatF(2, 2) << 1, 0, 0, 1).finished());

  // Ours, read by NumPy: the same bits as NumPy's own parse of the shortest decimal forms.
  const MatD ours = random_matrix<double>(50, 3, 9);
  ebm::write_npy<double>(dir.file("ours.npy"), ours);
  ebm::write_csv<double>(dir.file("ours.csv"), ours);  // the CSV writer is checked by the same comparison
  const MatF ours32 = random_matrix<float>(4, 2, 10);
  ebm::write_npy<float>(dir.file("ours32.npy"), ours32);
  ebm_test::write_bytes(dir.file("ours32.raw"),
                        std::string(reinterpret_cast<const char*>(ours32.data()), sizeof(float) * 8));
  ASSERT_EQ(python(" check"), 0) << "NumPy disagrees with the files we wrote";
}

std::string valid_file() {
  return npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", doubles({1, 2, 3, 4, 5, 6}));
}

TEST(NpyCorruptFiles, EveryPrefixOfAValidFileIsACleanError) {
  TempDir dir;
  const std::string path = dir.file("prefix.npy");
  const std::string bytes = valid_file();
  ebm_test::write_bytes(path, bytes);
  ASSERT_EQ(ebm::read_npy<double>(path), (MatD(3, 2) << 1, 2, 3, 4, 5, 6).finished());
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    SCOPED_TRACE("prefix of " + std::to_string(len) + " bytes");
    ebm_test::write_bytes(path, bytes.substr(0, len));
    EXPECT_ERROR(ebm::FormatError, ebm::read_npy<double>(path), "read_npy: " + path + ": ");
  }
}

TEST(NpyCorruptFiles, HostileAndMalformedHeaders) {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  auto read = [&](const std::string& bytes) {
    ebm_test::write_bytes(path, bytes);
    return ebm::read_npy<double>(path);
  };
  auto with_header = [&](const std::string& dict, const std::string& data = doubles({1, 2, 3, 4, 5, 6})) {
    return read(npy_bytes(dict, data));
  };
  const std::string data6 = doubles({1, 2, 3, 4, 5, 6});
  EXPECT_ERROR(ebm::FormatError, read("PK\x03\x04 this is a zip file"), path, "bad magic");
  EXPECT_ERROR(ebm::FormatError, read(std::string("\x93NUMPY\x04\x00\x10\x00", 10) + std::string(16, ' ')), path,
               "unsupported NPY format version 4.0");
  {
    std::string bytes = valid_file();
    bytes[8] = '\xff';  // header length 65535 + ..., past the end
    bytes[9] = '\xff';
    EXPECT_ERROR(ebm::FormatError, read(bytes), path, "header length 65535", "past the end of the file (176 bytes)");
  }
  // Found by fuzzing: shape (0, 10^12) has no data but ended in "out of memory" naming columns.
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 1000000000000), }", ""),
               path, "shape (0, 1000000000000)", "too wide", "limit of 1048576 columns");
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4294967295, 4294967295, 0), }", ""), path,
               "too wide");
  // 10^12 rows: rejected from the header alone, nothing allocated (8 TB would not fit anyway).
  const long rss = ebm_test::peak_rss_bytes();
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 2), }"),
               path, "shape (1000000000000, 2)", "16000000000000 bytes", "larger than the file (176 bytes");
  EXPECT_LT(ebm_test::peak_rss_bytes() - rss, 64L << 20);
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), path,
               "shape (4294967296, 4294967296)", "too wide");
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 1048576), }"), path,
               "overflows");
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }"), path,
               "integer too large");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-3, 2), }"), path,
               "expected a non-negative integer");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2, 1), }"), path,
               "fortran_order is True");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }"), path,
               "unsupported dtype '<c16'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '|O', 'fortran_order': False, 'shape': (6,), }"), path,
               "unsupported dtype '|O'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f16', 'fortran_order': False, 'shape': (3,), }"), path,
               "unsupported dtype '<f16'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<b2', 'fortran_order': False, 'shape': (24,), }"), path,
               "unsupported dtype '<b2'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,), }"),
               path, "structured dtypes");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'shape': (3, 2), }"), path,
               "missing key 'fortran_order'");
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'shape': (6,) }"), path,
               "key 'shape' appears twice");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': 1}"), path,
               "unknown key 'x'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)"), path,
               "malformed header", "expected ',' or '}'");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': Nope, 'shape': (3, 2)}"), path,
               "expected True or False");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr: '<f8'}"), path, "malformed header");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), path,
               "0-d array");
  EXPECT_ERROR(ebm::FormatError, with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", data6),
               path, "16 unexpected bytes after the data of shape (2, 2)");
  EXPECT_ERROR(ebm::FormatError,
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                           doubles({1, 2, 3, std::numeric_limits<double>::quiet_NaN(), 5, 6})),
               path, "non-finite value", "row 1, column 1");
  ebm_test::write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", doubles({1e300})));
  EXPECT_ERROR(ebm::FormatError, ebm::read_npy<float>(path), path, "non-finite value", "too large for float32");
  EXPECT_ERROR(ebm::FormatError, read(""), path, "empty file");
  EXPECT_ERROR(ebm::IoError, ebm::read_npy<double>(dir.file("missing.npy")), "missing.npy", "cannot open");
}

// Random byte mutations of a valid file: every outcome is a matrix or a FormatError.
TEST(NpyCorruptFiles, RandomMutationsNeverCrash) {
  TempDir dir;
  const std::string path = dir.file("fuzz.npy");
  const std::string bytes = valid_file();
  const ebm::CounterRng rng(77, 0);
  int errors = 0, reads = 0;
  for (std::uint64_t trial = 0; trial < 2000; ++trial) {
    std::uint64_t w[4];
    rng.raw_block(trial, 0, w);
    std::string b = bytes;
    const int edits = 1 + static_cast<int>(w[0] % 4);
    for (int e = 0; e < edits; ++e) {
      // Mostly the header (where the parser lives), sometimes anywhere.
      const std::size_t limit = (w[1] >> (8 * e)) & 1 ? b.size() : 128;
      b[(w[2] >> (16 * e)) % limit] = static_cast<char>((w[3] >> (8 * e)) & 0xff);
    }
    ebm_test::write_bytes(path, b);
    try {
      (void)ebm::read_npy<double>(path);
      ++reads;
    } catch (const ebm::FormatError& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::printf("[ measured ] 2000 mutated files: %d read, %d FormatError\n", reads, errors);
  EXPECT_GT(errors, 500);
}

}  // namespace
