// The safetensors layer: exact bytes of a small file, round trips of every dtype, conversions,
// and one clean, specific error for each way a header can be malformed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ebm/core/error.hpp>
#include <ebm/io/safetensors.hpp>
#include <limits>
#include <vector>

#include "io/io_test_util.hpp"

namespace {

namespace io = ebm::io;
using io_test::safetensors_bytes;
using io_test::spit;
using io_test::TempDir;
using io_test::throws_with;
using io_test::u64_le;

std::string bytes_of(const void* p, std::size_t n) { return std::string(static_cast<const char*>(p), n); }

TEST(Safetensors, ExactBytesOfASmallFile) {
  io::TensorFile file;
  const std::vector<float> b = {1.0f, 2.0f};
  const std::vector<std::uint8_t> a = {1, 2, 3};
  const std::vector<double> c = {0.5};
  file.tensors.push_back(io::tensor_from_values<float>("b", b));
  file.tensors.push_back(io::tensor_from_values<std::uint8_t>("a", a));
  file.tensors.push_back(io::tensor_from_values<double>("c", c, std::vector<std::int64_t>{1, 1}));
  file.metadata["k"] = "v";
  const TempDir dir;
  io::write_safetensors(dir.file("t.safetensors"), file);

  // The reference writer's layout: metadata first, then tensors by element size (8, 4, 1) and
  // name, fields dtype, shape, data_offsets; the header padded with spaces to a multiple of 8.
  std::string header =
      R"({"__metadata__":{"k":"v"},"c":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string expected =
      safetensors_bytes(header, bytes_of(c.data(), 8) + bytes_of(b.data(), 8) + "\x01\x02\x03");
  EXPECT_EQ(io_test::slurp(dir.file("t.safetensors")), expected);
  EXPECT_EQ(header.size() % 8, 0u);
}

TEST(Safetensors, RoundTripOfEveryDtypeAndOddShapes) {
  io::TensorFile file;
  ebm::MatF f(2, 3);
  f << 1.5f, -0.0f, std::numeric_limits<float>::denorm_min(), 3e38f, -1e-30f, 7.0f;
  ebm::MatD d(3, 1);
  d << 0.1, -1e300, 4.9e-324;
  ebm::MatD bias(1, 4);
  bias << 1, 2, 3, 4;
  const std::vector<std::int64_t> i64 = {-1, std::numeric_limits<std::int64_t>::min(), 1LL << 40};
  const std::vector<std::uint64_t> u64 = {0, std::numeric_limits<std::uint64_t>::max(), 12345};
  const std::vector<std::uint8_t> u8 = {0, 255, 7, 9};
  const std::vector<double> nan = {std::nan(""), INFINITY};
  file.tensors.push_back(io::tensor_from("f", f));
  file.tensors.push_back(io::tensor_from("d", d));
  file.tensors.push_back(io::tensor_from_row("bias", bias));
  file.tensors.push_back(io::tensor_from_values<std::int64_t>("i64", i64));
  file.tensors.push_back(io::tensor_from_values<std::uint64_t>("u64", u64));
  file.tensors.push_back(io::tensor_from_values<std::uint8_t>("u8", u8, std::vector<std::int64_t>{2, 1, 2}));
  file.tensors.push_back(io::tensor_from_values<double>("nonfinite", nan));  // loaded as is
  file.tensors.push_back(io::Tensor{"empty", io::DType::F32, {0, 3}, {}});
  file.tensors.push_back(io::Tensor{"empty2", io::DType::F64, {5, 0}, {}});
  file.metadata = {{"note", "h\xc3\xa9 \"quoted\"\n"}, {"", "empty key"}};
  const TempDir dir;
  const std::string path = dir.file("all.safetensors");
  io::write_safetensors(path, file);
  const io::TensorFile back = io::read_safetensors(path);

  EXPECT_EQ(back.metadata, file.metadata);
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (const io::Tensor& t : file.tensors) {
    const io::Tensor* r = back.find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(r->dtype, t.dtype) << t.name;
    EXPECT_EQ(r->shape, t.shape) << t.name;
    EXPECT_EQ(r->bytes, t.bytes) << t.name;
  }
  EXPECT_EQ(io::to_matrix<float>(back.at("f", path), 2, 3, path), f);
  EXPECT_EQ(io::to_matrix<double>(back.at("d", path), 3, 1, path), d);
  EXPECT_EQ(io::to_row<double>(back.at("bias", path), 4, path), bias);
  EXPECT_EQ(io::to_values<std::int64_t>(back.at("i64", path), path), i64);
  EXPECT_EQ(io::to_values<std::uint64_t>(back.at("u64", path), path), u64);
  EXPECT_EQ(io::to_values<std::uint8_t>(back.at("u8", path), path), u8);
  EXPECT_TRUE(std::isnan(io::to_values<double>(back.at("nonfinite", path), path)[0]));
  EXPECT_EQ(io::to_matrix<float>(back.at("empty", path), 0, 3, path).size(), 0);

  // Tensors come back in file order, each starting aligned to its element size.
  EXPECT_EQ(back.tensors.front().dtype, io::DType::F64);
  EXPECT_EQ(back.tensors.back().dtype, io::DType::U8);
  EXPECT_EQ(back.find("missing"), nullptr);
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { back.at("missing", path); }, {path, "missing tensor 'missing'"}));
}

TEST(Safetensors, FloatConversionsAndShapeChecks) {
  ebm::MatD d(2, 2);
  d << 0.1, 1e-50, -3, 1e300;
  const io::Tensor t = io::tensor_from("w", d);
  const ebm::MatF f = io::to_matrix<float>(t, 2, 2);
  EXPECT_EQ(f(0, 0), 0.1f);
  EXPECT_EQ(f(0, 1), 0.0f);
  EXPECT_TRUE(std::isinf(f(1, 1)));  // to_matrix converts; finiteness is the model layer's check
  const ebm::MatF small = ebm::MatF::Constant(1, 3, 0.1f);
  EXPECT_EQ(io::to_row<double>(io::tensor_from_row("b", small), 3)(0, 2), double(0.1f));

  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::to_matrix<double>(t, 2, 3, "m.st"); },
                                            {"m.st", "tensor 'w'", "shape [2, 2], expected [2, 3]"}));
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::to_row<double>(t, 4, "m.st"); },
                                            {"tensor 'w'", "shape [2, 2], expected [4]"}));
  const std::vector<std::int64_t> ints = {1, 2};
  const io::Tensor it = io::tensor_from_values<std::int64_t>("steps", ints);
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::to_row<float>(it, 2, "m.st"); },
                                            {"tensor 'steps'", "dtype I64, expected F32 or F64"}));
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::to_values<std::uint64_t>(it, "m.st"); },
                                            {"tensor 'steps'", "dtype I64, expected U64"}));
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::to_values<std::int64_t>(t, "m.st"); },
                                            {"tensor 'w'", "dtype F64, expected I64"}));
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::tensor_from_row("b", d); }, {"'b'", "2 rows, expected 1"}));
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>(
      [&] { io::tensor_from_values<std::int64_t>("s", ints, std::vector<std::int64_t>{3}); },
      {"'s'", "shape [3] does not hold 2 values"}));
}

TEST(Safetensors, WriterRejectsInconsistentTensorsAndWritesNothing) {
  const TempDir dir;
  const std::string path = dir.file("w.safetensors");
  const std::vector<float> v = {1, 2};
  auto attempt = [&](io::TensorFile file, const std::string& fragment) {
    EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::write_safetensors(path, file); }, {path, fragment}));
    EXPECT_FALSE(io_test::fs::exists(path));
  };
  io::TensorFile dup;
  dup.tensors = {io::tensor_from_values<float>("x", v), io::tensor_from_values<float>("x", v)};
  attempt(dup, "duplicate tensor name 'x'");
  io::TensorFile reserved;
  reserved.tensors = {io::tensor_from_values<float>("__metadata__", v)};
  attempt(reserved, "invalid tensor name '__metadata__'");
  io::TensorFile mismatch;
  mismatch.tensors = {io::Tensor{"x", io::DType::F64, {3}, std::vector<std::byte>(16)}};
  attempt(mismatch, "tensor 'x' holds 16 bytes, inconsistent with shape [3] and dtype F64");
  io::TensorFile negative;
  negative.tensors = {io::Tensor{"x", io::DType::F64, {-1}, {}}};
  attempt(negative, "tensor 'x' holds 0 bytes, inconsistent with shape [-1]");
  io::TensorFile utf8;
  utf8.metadata["k"] = "\xff\xfe";
  attempt(utf8, "not valid UTF-8");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::write_safetensors(dir.file("no/such/dir.st"), io::TensorFile{}); },
                                        {"write_safetensors", "no/such/dir.st"}));
}

// One valid file: tensor "x", F32 [2], 8 data bytes.
const std::string kData(8, '\0');
std::string entry(const std::string& fields) { return R"({"x":{)" + fields + "}}"; }
const std::string kGood = entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])");

class Malformed : public ::testing::Test {
 protected:
  // Writes the bytes and expects read_safetensors to throw E naming the file and the fragment.
  template <class E = ebm::FormatError>
  void expect(const std::string& bytes, const std::string& fragment) {
    spit(path_, bytes);
    EXPECT_TRUE(throws_with<E>([&] { io::read_safetensors(path_); }, {"read_safetensors", path_, fragment}))
        << "file bytes: " << bytes.substr(0, 200);
  }
  void header(const std::string& text, const std::string& fragment, const std::string& data = kData) {
    expect(safetensors_bytes(text, data), fragment);
  }
  TempDir dir_;
  std::string path_ = dir_.file("bad.safetensors");
};

TEST_F(Malformed, TheValidBaseLoads) {
  spit(path_, safetensors_bytes(kGood, kData));
  EXPECT_EQ(io::read_safetensors(path_).tensors.at(0).shape, std::vector<std::int64_t>{2});
  spit(path_, safetensors_bytes("{}", ""));  // no tensors at all is valid
  EXPECT_TRUE(io::read_safetensors(path_).tensors.empty());
}

TEST_F(Malformed, LengthPrefix) {
  expect("", "file is 0 bytes, shorter than the 8-byte header length");
  expect(std::string("\x02\x00\x00", 3), "file is 3 bytes");
  expect(u64_le(100) + "{}", "header length 100 is larger than the rest of the file (2 bytes)");
  expect(u64_le(1ULL << 63) + kGood, "header length 9223372036854775808 exceeds the limit of 100000000 bytes");
  expect(u64_le(100'000'001) + kGood, "exceeds the limit");
  expect(u64_le(0), "header is not valid JSON");
}

TEST_F(Malformed, HeaderJson) {
  header(R"({"x":{"dtype":"F32",)", "header is not valid JSON");
  header("[1, 2]", "header is an array, expected an object");
  header("{\"x\xff\":{}}", "header is not valid JSON");  // invalid UTF-8
  header(
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      "duplicate key \"x\"");
  header(entry(R"("dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8])"), "duplicate key \"dtype\"");
  header(R"({"x":[1]})", "tensor 'x': entry is an array, expected an object");
  // Deep nesting is stopped while parsing (nothing recurses a million levels deep).
  const std::size_t deep = 1'000'000;
  header(R"({"x":)" + std::string(deep, '[') + std::string(deep, ']') + "}",
         "header nests deeper than a safetensors header");
  header(entry(R"("dtype":"F32","shape":[[2]],"data_offsets":[0,8])"), "header nests deeper");
}

TEST_F(Malformed, Fields) {
  header(entry(R"("shape":[2],"data_offsets":[0,8])"), "tensor 'x': missing field \"dtype\"");
  header(entry(R"("dtype":"F32","data_offsets":[0,8])"), "missing field \"shape\"");
  header(entry(R"("dtype":"F32","shape":[2])"), "missing field \"data_offsets\"");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1])"), "unknown field \"strides\"");
  header(entry(R"("dtype":"F16","shape":[2],"data_offsets":[0,8])"), "unknown or unsupported dtype \"F16\"");
  header(entry(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"), "dtype is a number, expected a string");
}

TEST_F(Malformed, Shapes) {
  header(entry(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"),
         "shape [-2] is not a list of non-negative integers");
  header(entry(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])"), "is not a list of non-negative integers");
  header(entry(R"("dtype":"F32","shape":["2"],"data_offsets":[0,8])"), "is not a list of non-negative integers");
  header(entry(R"("dtype":"F32","shape":2,"data_offsets":[0,8])"), "shape is a number, expected a list");
  header(entry(R"("dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8])"),
         "is not a list of non-negative integers");
  header(entry(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])"),
         "shape [4294967296, 4294967296] of F32 overflows 64-bit byte counts");
  header(entry(R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8])"), "overflows");
}

TEST_F(Malformed, Offsets) {
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,16])"),
         "data_offsets [0, 16] outside the data section of 8 bytes");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"), "data_offsets [8, 0] outside");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8,9])"), "is not a list [begin, end]");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])"), "is not a list [begin, end]");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":{"begin":0})"), "is not a list [begin, end]");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,"8"])"), R"(data_offsets [0,"8"] is not a list)");
  header(entry(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"),
         "data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12");
  header(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])"), "12 bytes after the last tensor",
         std::string(20, '\0'));
  header(entry(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])"),
         "bytes 0 to 4 of the data section belong to no tensor (gap before tensor 'x')");
  header(
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      "tensor 'y' (bytes 4 to 8) overlaps tensor 'x' (ending at 8)");
  header(
      R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
      "bytes 4 to 6 of the data section belong to no tensor (gap before tensor 'y')");
}

TEST_F(Malformed, Metadata) {
  header(R"({"__metadata__":{"a":"b","step":3},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
         "__metadata__ value of \"step\" is a number, expected a string");
  header(R"({"__metadata__":["a"],"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
         "__metadata__ is an array, expected an object of strings");
}

TEST(SafetensorsIo, MissingFileAndDirectoryAreIoErrors) {
  const TempDir dir;
  const std::string missing = dir.file("absent.safetensors");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::read_safetensors(missing); },
                                        {"read_safetensors", missing, "cannot open: No such file or directory"}));
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::read_safetensors(dir.path().string()); },
                                        {"read_safetensors", dir.path().string(), "not a regular file"}));
}

}  // namespace
