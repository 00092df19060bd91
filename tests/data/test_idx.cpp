// IDX reading: small files written here (plain, and gzip'd with zlib's gzopen "wb") read back to
// the values written, in every element type; Fashion-MNIST's test set read against an
// independent decoding by Python's gzip + NumPy (exact pixel sum, labels); and corrupt files:
// every prefix of a plain and of a gzip'd file, bad magic, unsupported types, ndim 0,
// overflowing and oversized shapes (without allocating), short data, trailing data, corrupt
// gzip data, and the wrong kind of file for images or labels.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/csv.hpp>
#include <ebm/data/idx.hpp>
#include <ebm/data/matrix_file.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "data/util.hpp"

namespace {

using ebm::Index;
using ebm_test::TempDir;

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

void put_be32(std::string& s, std::uint32_t v) {
  for (int k = 3; k >= 0; --k) s += static_cast<char>((v >> (8 * k)) & 0xff);
}

// An IDX file's bytes: magic, big-endian dimensions, then `data` as given.
std::string idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const std::string& data) {
  std::string s = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims) put_be32(s, d);
  return s + data;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// 5 images of 3 x 4 pixels, pixel k of the stack = (37 k) mod 256 (covers 0 and 255).
std::string image_data() {
  std::string d(60, '\0');
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = static_cast<char>((37 * k) % 256);
  d[7] = static_cast<char>(255);
  return d;
}

template <class T>
void expect_images(const ebm::Mat<T>& m, const std::string& data) {
  ASSERT_EQ(m.rows(), 5);
  ASSERT_EQ(m.cols(), 12);
  for (Index k = 0; k < 60; ++k) {
    EXPECT_EQ(m.data()[k], T(static_cast<unsigned char>(data[static_cast<std::size_t>(k)])) / T(255));
  }
}

TEST(Idx, ReadsPlainAndGzipFilesWrittenHere) {
  TempDir dir;
  const std::string data = image_data();
  const std::string bytes = idx_bytes(0x08, {5, 3, 4}, data);
  ebm_test::write_bytes(dir.file("images-idx3-ubyte"), bytes);
  write_gz(dir.file("images-idx3-ubyte.gz"), bytes);
  for (const char* name : {"images-idx3-ubyte", "images-idx3-ubyte.gz"}) {
    SCOPED_TRACE(name);
    const ebm::IdxArray a = ebm::read_idx(dir.file(name));
    EXPECT_EQ(a.type, ebm::IdxType::UByte);
    EXPECT_EQ(a.shape, (std::vector<Index>{5, 3, 4}));
    EXPECT_EQ(a.size(), 60);
    EXPECT_EQ(std::string(a.bytes.begin(), a.bytes.end()), data);
    expect_images<float>(ebm::read_idx_images<float>(dir.file(name)), data);
    expect_images<double>(ebm::read_idx_images<double>(dir.file(name)), data);
  }
  const std::string labels = {3, 1, 4, 1, 5, 9, 2, 6};
  write_gz(dir.file("labels.gz"), idx_bytes(0x08, {8}, labels));
  EXPECT_EQ(ebm::read_idx_labels(dir.file("labels.gz")), (std::vector<int>{3, 1, 4, 1, 5, 9, 2, 6}));
  // Other element types keep their values (big-endian in the file).
  std::string i32;
  for (std::int32_t v : {-70000, 0, 5}) put_be32(i32, static_cast<std::uint32_t>(v));
  ebm_test::write_bytes(dir.file("i32.idx"), idx_bytes(0x0C, {3}, i32));
  EXPECT_EQ(ebm::read_idx_labels(dir.file("i32.idx")), (std::vector<int>{-70000, 0, 5}));
  std::string f32;
  for (float v : {1.5f, -0.25f, 3e10f, 0.0f}) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_be32(f32, bits);
  }
  ebm_test::write_bytes(dir.file("f32.idx"), idx_bytes(0x0D, {2, 2}, f32));
  EXPECT_EQ(ebm::idx_to_matrix<double>(ebm::read_idx(dir.file("f32.idx"))),
            (ebm::MatD(2, 2) << 1.5, -0.25, double(3e10f), 0).finished());
  std::string s16 = {'\xff', '\xfe', '\x01', '\x00'};  // -2, 256
  ebm_test::write_bytes(dir.file("s16.idx"), idx_bytes(0x0B, {1, 2}, s16));
  EXPECT_EQ(ebm::idx_to_matrix<float>(ebm::read_idx(dir.file("s16.idx"))), (ebm::MatF(1, 2) << -2, 256).finished());
  // No images: 0 x 12.
  ebm_test::write_bytes(dir.file("none.idx"), idx_bytes(0x08, {0, 3, 4}, ""));
  EXPECT_EQ(ebm::read_idx_images<float>(dir.file("none.idx")).cols(), 12);
}

TEST(Idx, FashionMnistTestSet) {
  const std::string images = kFashion + "/t10k-images-idx3-ubyte.gz";
  const std::string labels = kFashion + "/t10k-labels-idx1-ubyte.gz";
  if (!ebm_test::fs::exists(images) || !ebm_test::fs::exists(labels)) {
    GTEST_SKIP() << kFashion << " is missing: install the Debian package dataset-fashion-mnist";
  }
  const ebm::MatF x = ebm::read_idx_images<float>(images);
  ASSERT_EQ(x.rows(), 10000);
  ASSERT_EQ(x.cols(), 784);
  EXPECT_GE(x.minCoeff(), 0.0f);
  EXPECT_LE(x.maxCoeff(), 1.0f);
  // Python: gzip.decompress + np.frombuffer(offset 16).sum() = 573469082; first image 33456.
  double sum = 0;
  for (Index k = 0; k < x.size(); ++k) sum += std::round(static_cast<double>(x.data()[k]) * 255);
  EXPECT_EQ(sum, 573469082.0);
  EXPECT_EQ((x.row(0).cast<double>() * 255).array().round().sum(), 33456.0);
  const std::vector<int> y = ebm::read_idx_labels(labels);
  ASSERT_EQ(y.size(), 10000u);
  EXPECT_EQ(std::vector<int>(y.begin(), y.begin() + 10), (std::vector<int>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  std::vector<int> count(10, 0);
  for (int v : y) {
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 9);
    ++count[static_cast<std::size_t>(v)];
  }
  EXPECT_EQ(count, std::vector<int>(10, 1000));  // the test set is balanced
}

TEST(IdxCorruptFiles, EveryPrefixOfAPlainAndAGzipFileIsACleanError) {
  TempDir dir;
  const std::string bytes = idx_bytes(0x08, {5, 3, 4}, image_data());
  const std::string plain = dir.file("p-idx3-ubyte");
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    SCOPED_TRACE("plain prefix of " + std::to_string(len) + " bytes");
    ebm_test::write_bytes(plain, bytes.substr(0, len));
    EXPECT_ERROR(ebm::FormatError, ebm::read_idx(plain), "read_idx: " + plain + ": ");
  }
  const std::string gz = dir.file("g-idx3-ubyte.gz");
  write_gz(gz, bytes);
  const std::string packed = ebm_test::read_bytes(gz);
  ASSERT_EQ(ebm::read_idx(gz).bytes.size(), 60u);
  for (std::size_t len = 0; len < packed.size(); ++len) {
    SCOPED_TRACE("gzip prefix of " + std::to_string(len) + " bytes");
    ebm_test::write_bytes(gz, packed.substr(0, len));
    EXPECT_ERROR(ebm::FormatError, ebm::read_idx(gz), "read_idx: " + gz + ": ");
  }
  // The data cut short says how much was expected and how much there was.
  ebm_test::write_bytes(plain, bytes.substr(0, bytes.size() - 10));
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx(plain), plain, "truncated: expected 60 bytes of data", "got 50");
  write_gz(gz, bytes.substr(0, bytes.size() - 10));
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx(gz), gz, "truncated: expected 60 bytes of data", "got 50");
}

TEST(IdxCorruptFiles, BadHeadersAndData) {
  TempDir dir;
  const std::string path = dir.file("bad.idx");
  auto read = [&](const std::string& bytes) {
    ebm_test::write_bytes(path, bytes);
    return ebm::read_idx(path);
  };
  EXPECT_ERROR(ebm::FormatError, read(""), path, "empty file");
  EXPECT_ERROR(ebm::FormatError, read("\x01\x02\x03\x04 not IDX"), path, "bad magic 0x01 0x02");
  EXPECT_ERROR(ebm::FormatError, read("\x1f\x8b not really gzip"), path, "corrupt gzip data");
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x07, {2}, "ab")), path, "unsupported element type 0x07");
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x08, {}, "")), path, "ndim is 0");
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, "")), path,
               "shape (4294967295, 4294967295, 4294967295)", "too wide");
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x08, {0, 0xffffffff, 0xffffffff, 0xffffffff}, "")), path,
               "too wide");  // no rows, but an impossible width
  // Found by fuzzing: 1 x (2^32-1) x (2^32-1) x 0 has zero elements, but the width's partial
  // product passed the signed 64-bit range (undefined behaviour downstream).
  EXPECT_ERROR(ebm::FormatError,
               read(std::string("\x00\x00\x08\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00", 20)),
               path, "shape (1, 4294967295, 4294967295, 0)", "too wide");
  // Found by fuzzing: 12 bytes claiming float64 0 x 14747392 made a reader name 14.7 million
  // columns (35 s, 0.93 GB); columns are capped on their own.
  EXPECT_ERROR(ebm::FormatError, read(std::string("\x00\x00\x0e\x02\x00\x00\x00\x00\x00\xe1\x07\x00", 12)), path,
               "shape (0, 14747392)", "too wide", "limit of 1048576 columns");
  // Found by fuzzing (the .idx.gz harness, 10^7 inputs): 12 bytes declaring int32 0 x 524301,
  // under the column cap, made read_table name half a million columns of nothing. An empty
  // array is refused before naming.
  const std::string empty = dir.file("empty.idx.gz");
  ebm_test::write_bytes(empty, std::string("\x00\x00\x0c\x02\x00\x00\x00\x00\x00\x08\x00\x0d", 12));
  EXPECT_ERROR(ebm::FormatError, ebm::read_table<double>(empty), empty, "the array is empty (0 x 524301)");
  ebm::IdxArray huge;
  huge.shape = {Index(1) << 40, Index(1) << 40};
  EXPECT_ERROR(ebm::InvalidArgument, huge.size(), "overflows");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::idx_to_matrix<float>(huge), "overflows");
  // 10^12 values: over the size cap, refused from the header alone.
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x0E, {1000000, 3000}, "")), path, "shape (1000000, 3000)",
               "24000000000 bytes", "limit");
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x0E, {1000000, 2000000}, "")), path, "shape (1000000, 2000000)",
               "too wide");
  // Under the cap but far beyond the file: read as the data arrives, so a short file costs no
  // memory and says how much was missing.
  const long rss = ebm_test::peak_rss_bytes();
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x08, {1000000, 28, 28}, "abc")), path,
               "truncated: expected 784000000 bytes of data", "got 3");
  EXPECT_LT(ebm_test::peak_rss_bytes() - rss, 64L << 20);
  EXPECT_ERROR(ebm::FormatError, read(idx_bytes(0x08, {2}, "abc")), path, "unexpected data after the 2 bytes");
  std::string nan_bits;
  put_be32(nan_bits, 0x7fc00000u);
  ebm_test::write_bytes(path, idx_bytes(0x0D, {1}, nan_bits));
  EXPECT_ERROR(ebm::FormatError, ebm::idx_to_matrix<float>(ebm::read_idx(path)), "non-finite value");
  // The wrong kind of file.
  ebm_test::write_bytes(path, idx_bytes(0x08, {4}, "abcd"));
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx_images<float>(path), "read_idx_images: " + path, "1 dimension(s)");
  ebm_test::write_bytes(path, idx_bytes(0x08, {2, 2}, "abcd"));
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx_labels(path), "read_idx_labels: " + path, "2 dimension(s)");
  ebm_test::write_bytes(path, idx_bytes(0x0D, {1}, "abcd"));
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx_labels(path), path, "type 0x0d");
  EXPECT_ERROR(ebm::IoError, ebm::read_idx(dir.file("missing.gz")), "missing.gz", "cannot open");

  // Corrupt compressed data: a flipped byte inside the deflate stream, and a wrong checksum.
  const std::string gz = dir.file("c.gz");
  write_gz(gz, idx_bytes(0x08, {5, 3, 4}, image_data()));
  std::string packed = ebm_test::read_bytes(gz);
  std::string flipped = packed;
  flipped[packed.size() / 2] = static_cast<char>(flipped[packed.size() / 2] ^ 0x55);
  ebm_test::write_bytes(gz, flipped);
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx(gz), gz);
  std::string bad_crc = packed;
  bad_crc[packed.size() - 8] = static_cast<char>(bad_crc[packed.size() - 8] ^ 1);
  ebm_test::write_bytes(gz, bad_crc);
  EXPECT_ERROR(ebm::FormatError, ebm::read_idx(gz), gz, "corrupt gzip data", "incorrect data check");
}

// Random byte mutations of a plain and of a gzip'd file: every outcome is an array or a
// FormatError naming the file.
TEST(IdxCorruptFiles, RandomMutationsNeverCrash) {
  TempDir dir;
  const std::string bytes = idx_bytes(0x08, {5, 3, 4}, image_data());
  const std::string gz = dir.file("m.gz");
  write_gz(gz, bytes);
  const std::string packed = ebm_test::read_bytes(gz);
  const ebm::CounterRng rng(78, 0);
  int errors = 0, reads = 0;
  for (std::uint64_t trial = 0; trial < 2000; ++trial) {
    std::uint64_t w[4];
    rng.raw_block(trial, 0, w);
    const bool zipped = trial % 2 == 1;
    std::string b = zipped ? packed : bytes;
    const std::string path = dir.file(zipped ? "m.gz" : "m.idx");
    for (int e = 0; e < 1 + static_cast<int>(w[0] % 3); ++e) {
      const std::size_t limit = zipped || ((w[1] >> e) & 1) ? b.size() : 16;  // often the header
      b[(w[2] >> (16 * e)) % limit] = static_cast<char>((w[3] >> (8 * e)) & 0xff);
    }
    ebm_test::write_bytes(path, b);
    try {
      (void)ebm::read_idx(path);
      ++reads;
    } catch (const ebm::FormatError& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::printf("[ measured ] 2000 mutated IDX files (half gzip'd): %d read, %d FormatError\n", reads, errors);
  EXPECT_GT(errors, 500);
}

}  // namespace

namespace {

// Scoped EBM_MAX_INPUT_BYTES.
struct InputLimit {
  explicit InputLimit(const char* bytes) { ::setenv("EBM_MAX_INPUT_BYTES", bytes, 1); }
  ~InputLimit() { ::unsetenv("EBM_MAX_INPUT_BYTES"); }
};

TEST(IdxCorruptFiles, DecompressionBombsAreBoundedByTheMemoryBudget) {
  // A tiny gzip file whose IDX header claims more than the reader may hold (the data and its
  // converted matrix) is refused from the header; a gzip'd CSV that inflates past the budget
  // stops as soon as it does.
  TempDir dir;
  const std::string idx = dir.file("bomb.idx.gz");
  write_gz(idx, idx_bytes(0x08, {100, 28, 28}, std::string(78400, '\0')));
  {
    const InputLimit limit("100000");  // 78,400 raw bytes + 627,200 as doubles > 100,000
    EXPECT_ERROR(ebm::FormatError, ebm::read_idx(idx), idx, "needs 705600 bytes in memory", "EBM_MAX_INPUT_BYTES");
  }
  EXPECT_EQ(ebm::read_idx(idx).shape[0], 100);  // the default budget (half the memory) holds it
  const std::string csv = dir.file("bomb.csv.gz");
  std::string text = "x,y\n";
  for (int i = 0; i < 20000; ++i) text += "1,2\n";
  write_gz(csv, text);
  {
    const InputLimit limit("10000");
    EXPECT_ERROR(ebm::FormatError, ebm::read_csv<double>(csv), csv, "decompressed", "EBM_MAX_INPUT_BYTES");
  }
  {
    const InputLimit limit("ten");
    EXPECT_ERROR(ebm::InvalidArgument, ebm::read_csv<double>(csv), "EBM_MAX_INPUT_BYTES", "'ten'");
  }
  EXPECT_EQ(ebm::read_csv<double>(csv).values.rows(), 20000);
}

}  // namespace
