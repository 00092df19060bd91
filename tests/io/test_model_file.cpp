// MLP model files: bit-exact round trips in both precisions and across them, the metadata, the
// checkpoint helpers, atomic replacement, and a clean FormatError or IoError naming the file and
// the problem for every corruption we could think of, including every truncation of a valid file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/io/model_file.hpp>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>

#include "io/io_test_util.hpp"

namespace {

namespace io = ebm::io;
using ebm::Index;
using ebm::Mat;
using io_test::slurp;
using io_test::spit;
using io_test::TempDir;
using io_test::throws_with;
using io_test::fs::exists;
using ojson = nlohmann::ordered_json;

ebm::MlpOptions options(std::vector<Index> widths, ebm::Activation a, std::uint64_t seed) {
  ebm::MlpOptions o;
  o.widths = std::move(widths);
  o.activation = a;
  o.seed = seed;
  return o;
}

io::ModelInfo sample_info() {
  io::ModelInfo info;
  info.data_mean = {0.1, -2.5, 1.0 / 3.0};
  info.data_scale = {1.0, std::sqrt(2.0), 2e5};
  info.objective = "dsm";
  info.step = 12345678901LL;
  info.extra = {{"sigma", "0.1"}, {"note", "caf\xc3\xa9 \"x\""}};
  return info;
}

template <class T>
Mat<T> points(Index n, Index d, std::uint64_t seed) {
  Mat<T> x(n, d);
  ebm::CounterRng(seed, 0).normal<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  return x;
}

template <class T>
ebm::Vec<T> energies(const ebm::Mlp<T>& mlp, const Mat<T>& x) {
  ebm::ad::Tape<T> tape;
  return mlp.energy(tape, x);
}

template <class T>
class ModelRoundTrip : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ModelRoundTrip, Precisions);

TYPED_TEST(ModelRoundTrip, ParametersEnergiesAndInfoComeBackBitForBit) {
  using T = TypeParam;
  const ebm::Mlp<T> mlp(options({3, 8, 5, 1}, ebm::Activation::Silu, 7));
  const TempDir dir;
  const std::string path = dir.file("m.safetensors");
  io::ModelInfo info = sample_info();
  info.architecture = options({2, 4, 1}, ebm::Activation::Relu, 1);  // ignored: the mlp's own is written
  io::save_model(path, mlp, info);

  const io::LoadedModel<T> back = io::load_model<T>(path);
  ASSERT_EQ(back.mlp.layers(), mlp.layers());
  for (Index l = 0; l < mlp.layers(); ++l) {
    EXPECT_EQ(back.mlp.weight(l), mlp.weight(l)) << "layer " << l;
    EXPECT_EQ(back.mlp.bias(l), mlp.bias(l)) << "layer " << l;
  }
  const Mat<T> x = points<T>(50, 3, 11);
  EXPECT_EQ(energies(back.mlp, x), energies(mlp, x));
  EXPECT_EQ(back.info.architecture.widths, (std::vector<Index>{3, 8, 5, 1}));
  EXPECT_EQ(back.info.architecture.activation, ebm::Activation::Silu);
  EXPECT_EQ(back.info.data_mean, info.data_mean);  // exact: JSON doubles are written to round-trip
  EXPECT_EQ(back.info.data_scale, info.data_scale);
  EXPECT_EQ(back.info.objective, info.objective);
  EXPECT_EQ(back.info.step, info.step);
  EXPECT_EQ(back.info.extra, info.extra);

  // Torch's layout: weight [out, in], bias 1-D [out], F32 or F64 by precision.
  const io::TensorFile file = io::read_safetensors(path);
  const io::DType dtype = std::is_same_v<T, float> ? io::DType::F32 : io::DType::F64;
  EXPECT_EQ(file.tensors.size(), 6u);
  EXPECT_EQ(file.at("2.weight", path).shape, (std::vector<std::int64_t>{5, 8}));
  EXPECT_EQ(file.at("2.bias", path).shape, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(file.at("4.weight", path).dtype, dtype);
  EXPECT_EQ(file.metadata.at("format"), "ebm-model");
  const auto meta = nlohmann::json::parse(file.metadata.at("ebm"));
  EXPECT_EQ(meta["format_version"], 1);
  EXPECT_EQ(meta["architecture"]["activation"], "silu");
  EXPECT_EQ(meta["standardization"]["scale"][1].get<double>(), std::sqrt(2.0));
}

TYPED_TEST(ModelRoundTrip, NoStandardizationIsNull) {
  using T = TypeParam;
  const ebm::Mlp<T> mlp(options({2, 3, 1}, ebm::Activation::Tanh, 1));
  const TempDir dir;
  io::save_model(dir.file("m"), mlp, io::ModelInfo{});
  const auto meta = nlohmann::json::parse(io::read_safetensors(dir.file("m")).metadata.at("ebm"));
  EXPECT_TRUE(meta["standardization"].is_null());
  const io::LoadedModel<T> back = io::load_model<T>(dir.file("m"));
  EXPECT_TRUE(back.info.data_mean.empty() && back.info.data_scale.empty());
  EXPECT_EQ(back.info.step, 0);
}

TEST(ModelFile, FloatFileLoadsIntoDoubleAndBack) {
  const ebm::Mlp<float> f(options({3, 6, 1}, ebm::Activation::Softplus, 2));
  const ebm::Mlp<double> d(options({3, 6, 1}, ebm::Activation::Gelu, 3));
  const TempDir dir;
  io::save_model(dir.file("f"), f, {});
  io::save_model(dir.file("d"), d, {});
  const auto fd = io::load_model<double>(dir.file("f"));
  const auto df = io::load_model<float>(dir.file("d"));
  for (Index l = 0; l < 2; ++l) {
    EXPECT_EQ(fd.mlp.weight(l), f.weight(l).cast<double>());  // float -> double is exact
    EXPECT_EQ(fd.mlp.bias(l), f.bias(l).cast<double>());
    EXPECT_EQ(df.mlp.weight(l), d.weight(l).cast<float>());  // rounded to nearest
    EXPECT_EQ(df.mlp.bias(l), d.bias(l).cast<float>());
  }
  EXPECT_EQ(df.mlp.activation(), ebm::Activation::Gelu);
}

TEST(ModelFile, SaveRefusesWhatCouldNotBeLoaded) {
  const TempDir dir;
  const std::string path = dir.file("m");
  ebm::Mlp<double> mlp(options({2, 3, 1}, ebm::Activation::Softplus, 1));
  io::ModelInfo info;
  info.data_mean = {0, 0};
  info.data_scale = {1, 0};
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, mlp, info); },
                                                {"save_model", path, "data_scale[1] is 0, must be finite and > 0"}));
  info.data_scale = {1};
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, mlp, info); },
                                                {"save_model", path, "data_mean has 2 entries and data_scale 1"}));
  info = {};
  info.data_mean = {0, NAN};
  info.data_scale = {1, 1};
  EXPECT_TRUE(
      throws_with<ebm::InvalidArgument>([&] { io::save_model(path, mlp, info); }, {"data_mean[1] is not finite"}));
  info = {};
  info.step = -1;
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, mlp, info); }, {"step is -1"}));
  ebm::MatD w = mlp.weight(1);
  w(0, 2) = INFINITY;
  mlp.set_weight(1, w);
  EXPECT_TRUE(throws_with<ebm::NumericalError>([&] { io::save_model(path, mlp, {}); },
                                               {"save_model", path, "tensor '2.weight'", "non-finite value inf"}));
  EXPECT_FALSE(exists(path));
}

// Entries of a directory, to see that no temporary file is left behind.
std::vector<std::string> listing(const io_test::fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : io_test::fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ModelFile, WritesAreAtomic) {
  const TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const ebm::Mlp<double> big(options({4, 32, 32, 1}, ebm::Activation::Softplus, 1));
  const ebm::Mlp<float> small(options({2, 3, 1}, ebm::Activation::Tanh, 2));

  // The directory does not exist: IoError naming the path, nothing created.
  const std::string nowhere = dir.file("no-such-dir/m.safetensors");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::save_model(nowhere, big, {}); }, {nowhere, "cannot create file"}));
  EXPECT_TRUE(listing(dir.path()).empty());

  // A smaller model over a larger one replaces it whole: the result is byte-identical to a
  // fresh write, with no tail of the old file.
  io::save_model(path, big, {});
  const std::size_t big_size = slurp(path).size();
  io::save_model(path, small, {});
  io::save_model(dir.file("fresh"), small, {});
  EXPECT_LT(slurp(path).size(), big_size);
  EXPECT_EQ(slurp(path), slurp(dir.file("fresh")));
  EXPECT_EQ(io::load_model<float>(path).mlp.weight(0), small.weight(0));

  // A save that fails leaves the old file as it was.
  const std::string before = slurp(path);
  ebm::Mlp<float> broken = small;
  ebm::MatF b = broken.bias(0);
  b(0, 0) = NAN;
  broken.set_bias(0, b);
  EXPECT_THROW(io::save_model(path, broken, {}), ebm::NumericalError);
  EXPECT_EQ(slurp(path), before);

  // The target is a directory: rename fails, the directory and its contents stay, no temporary
  // file remains.
  const std::string subdir = dir.file("sub");
  io_test::fs::create_directory(subdir);
  spit(dir.file("sub/keep"), "x");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::save_model(subdir, small, {}); }, {subdir}));
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"fresh", "m.safetensors", "sub"}));
  EXPECT_EQ(slurp(dir.file("sub/keep")), "x");
}

TEST(ModelFile, CheckpointHelpersKeepTheModelNextToOtherTensors) {
  const ebm::Mlp<float> mlp(options({2, 5, 1}, ebm::Activation::Elu, 4));
  io::TensorFile file;
  io::append_mlp_tensors(file, mlp, "model.");
  const std::vector<std::uint64_t> counter = {3, std::numeric_limits<std::uint64_t>::max()};
  file.tensors.push_back(io::tensor_from_values<std::uint64_t>("rng", counter));
  const io::ModelInfo info = sample_info();
  io::ModelInfo with_arch = info;
  with_arch.architecture = io::architecture_of(mlp);
  with_arch.data_mean = {1, 2};
  with_arch.data_scale = {3, 4};
  file.metadata["model"] = io::model_info_to_json(with_arch);
  const TempDir dir;
  const std::string path = dir.file("ckpt");
  io::write_safetensors(path, file);

  const io::TensorFile back = io::read_safetensors(path);
  EXPECT_EQ(io::mlp_tensor_names(with_arch.architecture, "model."),
            (std::vector<std::string>{"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}));
  const io::ModelInfo info_back = io::model_info_from_json(back.metadata.at("model"), path);
  const ebm::Mlp<double> restored = io::mlp_from_tensors<double>(back, info_back.architecture, "model.", path);
  EXPECT_EQ(restored.weight(1), mlp.weight(1).cast<double>());
  EXPECT_EQ(io::to_values<std::uint64_t>(back.at("rng", path), path), counter);
  EXPECT_EQ(info_back.data_scale, with_arch.data_scale);
  EXPECT_EQ(info_back.extra, info.extra);
  EXPECT_TRUE(
      throws_with<ebm::FormatError>([&] { io::mlp_from_tensors<float>(back, info_back.architecture, "", path); },
                                    {path, "missing tensor '0.weight'"}));
  // Not a model file: no "format" metadata.
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_model<float>(path); },
                                            {"load_model", path, "not an ebm model file"}));
}

// ---- corrupt files ---------------------------------------------------------------------------

class CorruptModel : public ::testing::Test {
 protected:
  void SetUp() override {
    // Small on purpose: every prefix of it is tried.
    io::save_model(good_, ebm::Mlp<float>(options({2, 3, 1}, ebm::Activation::Softplus, 9)), sample2());
    bytes_ = slurp(good_);
    std::uint64_t n = 0;
    std::memcpy(&n, bytes_.data(), 8);
    header_ = ojson::parse(bytes_.substr(8, n));
    data_ = bytes_.substr(8 + n);
  }
  static io::ModelInfo sample2() {
    io::ModelInfo info;
    info.data_mean = {0.5, -0.5};
    info.data_scale = {2, 3};
    info.objective = "ssm";
    info.step = 10;
    return info;
  }

  // Expects load_model (float and double) to throw E naming the file and the fragment.
  template <class E = ebm::FormatError>
  void expect(const std::string& fragment) {
    EXPECT_TRUE(throws_with<E>([&] { io::load_model<float>(path_); }, {path_, fragment}));
    EXPECT_TRUE(throws_with<E>([&] { io::load_model<double>(path_); }, {path_, fragment}));
  }
  // The valid file with its header changed by edit (data section kept).
  void write_header(const std::function<void(ojson&)>& edit, const std::string& data) {
    ojson h = header_;
    edit(h);
    std::string text = h.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    spit(path_, io_test::safetensors_bytes(text, data));
  }
  void header(const std::function<void(ojson&)>& edit, const std::string& fragment) {
    write_header(edit, data_);
    expect(fragment);
  }
  // The "ebm" metadata object changed by edit.
  void info(const std::function<void(nlohmann::json&)>& edit, const std::string& fragment) {
    header(
        [&](ojson& h) {
          auto meta = nlohmann::json::parse(h["__metadata__"]["ebm"].get<std::string>());
          edit(meta);
          h["__metadata__"]["ebm"] = meta.dump();
        },
        fragment);
  }
  // The valid file read as tensors, changed by edit, written back.
  void tensors(const std::function<void(io::TensorFile&)>& edit, const std::string& fragment) {
    io::TensorFile f = io::read_safetensors(good_);
    edit(f);
    io::write_safetensors(path_, f);
    expect(fragment);
  }
  static io::Tensor* find(io::TensorFile& f, const std::string& name) {
    for (io::Tensor& t : f.tensors)
      if (t.name == name) return &t;
    return nullptr;
  }

  TempDir dir_;
  std::string good_ = dir_.file("good.safetensors");
  std::string path_ = dir_.file("bad.safetensors");
  std::string bytes_, data_;
  ojson header_;
};

TEST_F(CorruptModel, TheBaseFileIsValid) {
  spit(path_, bytes_);
  EXPECT_EQ(io::load_model<float>(path_).info.objective, "ssm");
  write_header([](ojson&) {}, data_);  // re-serialising the header changes nothing that matters
  EXPECT_EQ(io::load_model<double>(path_).info.step, 10);
}

TEST_F(CorruptModel, EveryTruncationIsACleanFormatError) {
  std::printf("    file is %zu bytes\n", bytes_.size());
  int errors = 0;
  for (std::size_t k = 0; k < bytes_.size(); ++k) {
    // A new file each time: ext4 flushes a file truncated and rewritten in place (auto_da_alloc),
    // which made this loop 50 times slower.
    const std::string cut = dir_.file("cut-" + std::to_string(k));
    spit(cut, bytes_.substr(0, k));
    try {
      io::load_model<float>(cut);
      ADD_FAILURE() << "prefix of " << k << " bytes loaded";
    } catch (const ebm::FormatError& e) {
      ++errors;
      const std::string what = e.what();
      EXPECT_NE(what.find(cut), std::string::npos) << what;
      if (k == 0 || k == 7 || k == 8 || k == 100 || k + 1 == bytes_.size()) std::printf("    %zu: %s\n", k, e.what());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "prefix of " << k << " bytes: not a FormatError: " << e.what();
    }
    io_test::fs::remove(cut);
  }
  EXPECT_EQ(errors, static_cast<int>(bytes_.size()));
}

TEST_F(CorruptModel, LengthPrefixAndJson) {
  spit(path_, "");
  expect("file is 0 bytes, shorter than the 8-byte header length");
  spit(path_, io_test::u64_le(bytes_.size()) + bytes_.substr(8));
  expect("header length " + std::to_string(bytes_.size()) + " is larger than the rest of the file");
  spit(path_, io_test::u64_le(1ULL << 63) + bytes_.substr(8));
  expect("header length 9223372036854775808 exceeds the limit of 100000000 bytes");
  std::string garbled = bytes_;
  garbled[8] = '#';
  spit(path_, garbled);
  expect("header is not valid JSON");
}

TEST_F(CorruptModel, TensorEntries) {
  header([](ojson& h) { h["0.weight"]["dtype"] = "BF16"; }, "tensor '0.weight': unknown or unsupported dtype \"BF16\"");
  header([](ojson& h) { h["0.bias"]["data_offsets"][1] = 1000; }, "tensor '0.bias': data_offsets");
  header(
      [](ojson& h) {
        h["0.weight"]["data_offsets"] = {0, 24};
      },
      "tensor '0.weight' (bytes 0 to 24) overlaps tensor '0.bias' (ending at 12)");
  header([](ojson& h) { h["0.weight"]["shape"] = {3, 3}; }, "span 24 bytes, but shape [3, 3] of F32 needs 36");
}

TEST_F(CorruptModel, TensorsAgainstTheArchitecture) {
  tensors([](io::TensorFile& f) { std::erase_if(f.tensors, [](const io::Tensor& t) { return t.name == "2.bias"; }); },
          "missing tensor '2.bias'");
  tensors(
      [](io::TensorFile& f) {
        const std::vector<float> v = {1};
        f.tensors.push_back(io::tensor_from_values<float>("4.weight", v));
      },
      "unexpected tensor '4.weight'");
  tensors(
      [](io::TensorFile& f) {
        find(f, "0.weight")->shape = {2, 3};
      },
      "tensor '0.weight' has shape [2, 3], expected [3, 2]");
  tensors(
      [](io::TensorFile& f) {
        find(f, "0.bias")->shape = {1, 3};
      },
      "tensor '0.bias' has shape [1, 3], expected [3]");
  tensors(
      [](io::TensorFile& f) {
        const std::vector<std::int64_t> v = {1, 2, 3};
        *find(f, "0.bias") = io::tensor_from_values<std::int64_t>("0.bias", v);
      },
      "tensor '0.bias' has dtype I64, expected F32 or F64");
}

TEST_F(CorruptModel, NonFiniteWeights) {
  tensors(
      [](io::TensorFile& f) {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(find(f, "2.weight")->bytes.data() + 8, &nan, 4);
      },
      "tensor '2.weight' has non-finite value nan at index [0, 2]");
  tensors(
      [](io::TensorFile& f) {
        const float inf = -std::numeric_limits<float>::infinity();
        std::memcpy(find(f, "0.bias")->bytes.data() + 4, &inf, 4);
      },
      "tensor '0.bias' has non-finite value -inf at index [1]");
  // Finite in float64 but beyond float32: fine as double, an error as float.
  io::TensorFile f = io::read_safetensors(good_);
  ebm::MatD w = io::to_matrix<double>(f.at("0.weight", good_), 3, 2);
  w(1, 1) = 1e300;
  *find(f, "0.weight") = io::tensor_from("0.weight", w);
  io::write_safetensors(path_, f);
  EXPECT_EQ(io::load_model<double>(path_).mlp.weight(0)(1, 1), 1e300);
  EXPECT_TRUE(throws_with<ebm::FormatError>(
      [&] { io::load_model<float>(path_); },
      {path_, "tensor '0.weight' has non-finite value inf after conversion to float32 at index [1, 1]"}));
}

TEST_F(CorruptModel, Metadata) {
  tensors([](io::TensorFile& f) { f.metadata.clear(); }, "not an ebm model file (no \"format\" in __metadata__)");
  tensors([](io::TensorFile& f) { f.metadata["format"] = "pt"; },
          "__metadata__ \"format\" is \"pt\", expected \"ebm-model\"");
  tensors([](io::TensorFile& f) { f.metadata.erase("ebm"); }, "no \"ebm\" entry in __metadata__");
  tensors([](io::TensorFile& f) { f.metadata["ebm"] = "{\"format_version\": 1,"; }, "ebm metadata: not valid JSON");
  tensors([](io::TensorFile& f) { f.metadata["ebm"] = "[1]"; }, "ebm metadata: is array [1], expected an object");
  header([](ojson& h) { h["__metadata__"]["ebm"] = 5; },
         "__metadata__ value of \"ebm\" is a number, expected a string");
}

TEST_F(CorruptModel, ModelDescription) {
  info([](nlohmann::json& m) { m["format_version"] = 2; }, "unsupported format_version 2");
  info([](nlohmann::json& m) { m.erase("format_version"); }, "missing field \"format_version\"");
  info([](nlohmann::json& m) { m["architecture"]["activation"] = "swish"; }, "activation: unknown name 'swish'");
  info([](nlohmann::json& m) { m["architecture"]["activation"] = 3; }, "\"architecture.activation\" is number 3");
  info([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 3, 2}; }, "last entry (the energy) must be 1");
  info([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 0, 1}; }, "\"architecture.widths\" is number 0");
  info([](nlohmann::json& m) { m["architecture"]["widths"] = {1}; }, "needs at least input and output widths");
  info([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 1.5, 1}; }, "expected an integer >= 1");
  info(
      [](nlohmann::json& m) {
        m["architecture"]["widths"] = {2, 4, 1};
      },
      "tensor '0.weight' has shape [3, 2], expected [4, 2]");
  info(
      [](nlohmann::json& m) {
        m["architecture"]["widths"] = {2, 3, 3, 1};
      },
      "tensor '2.weight' has shape [1, 3], expected [3, 3]");
  info([](nlohmann::json& m) { m["architecture"]["depth"] = 2; }, "unknown field \"architecture.depth\"");
  info(
      [](nlohmann::json& m) {
        m["standardization"]["scale"] = {1.0, -2.0};
      },
      "standardization.scale[1] is -2.0, expected a finite value > 0");
  info([](nlohmann::json& m) { m["standardization"]["mean"] = {1.0}; },
       "standardization has 1 means and 2 scales, expected 2 (the input width)");
  info(
      [](nlohmann::json& m) {
        m["standardization"]["mean"] = {1.0, "x"};
      },
      "\"standardization.mean\" has entry string");
  info([](nlohmann::json& m) { m["standardization"] = "none"; }, "\"standardization\" is string \"none\"");
  info([](nlohmann::json& m) { m["step"] = -3; }, "\"step\" is number -3, expected an integer >= 0");
  info([](nlohmann::json& m) { m["step"] = 1.5; }, "\"step\" is number 1.5");
  info([](nlohmann::json& m) { m["objective"] = nullptr; }, "\"objective\" is null");
  info([](nlohmann::json& m) { m["extra"]["lr"] = 0.1; }, "\"extra.lr\" is number 0.1, expected a string");
  info([](nlohmann::json& m) { m["seed"] = 1; }, "unknown field \"seed\"");
  info([](nlohmann::json& m) { m["extra"]["deep"] = {{"a", {1}}}; }, "ebm metadata: nests deeper than 3 levels");
  // JSON cannot hold inf; a literal beyond double range is refused as it is read.
  header(
      [](ojson& h) {
        std::string s = h["__metadata__"]["ebm"].get<std::string>();
        const std::string from = "\"mean\":[0.5";
        s.replace(s.find(from), from.size(), "\"mean\":[1e999");
        h["__metadata__"]["ebm"] = s;
      },
      "ebm metadata: not valid JSON: number overflow parsing '1e999'");
}

TEST_F(CorruptModel, MissingFileIsAnIoError) {
  const std::string missing = dir_.file("absent.safetensors");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::load_model<float>(missing); },
                                        {"read_safetensors", missing, "No such file or directory"}));
}

}  // namespace
