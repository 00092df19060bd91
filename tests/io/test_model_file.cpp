// Model files (here of MLP networks; other architectures in test_network_files.cpp): bit-exact
// round trips in both precisions and across them, the metadata (format version 2, and version 1
// files as earlier versions wrote them), the checkpoint helpers, atomic replacement, and a clean
// FormatError or IoError naming the file and the problem for every corruption we could think of,
// including every truncation of a valid file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>

#include "io/io_test_util.hpp"
#include "io/model_test_util.hpp"

namespace {

namespace io = ebm::io;
namespace nn = ebm::nn;
using ebm::Index;
using ebm::Mat;
using io_test::energies;
using io_test::points;
using io_test::same_bits;
using io_test::same_parameters;
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

// The MLP network D -> ... -> 1 (an ebm::Mlp's initialisation, as the network equivalent to it).
template <class T>
nn::Network<T> mlp_network(std::vector<Index> widths, ebm::Activation a, std::uint64_t seed) {
  return ebm::to_network(ebm::Mlp<T>(options(std::move(widths), a, seed)));
}

io::ModelInfo sample_info() {
  io::ModelInfo info;
  info.data_mean = {0.1, -2.5, 1.0 / 3.0};
  info.data_scale = {1.0, std::sqrt(2.0), 2e5};
  info.energy_scale = 1.0 / 0.07;  // not a short decimal: must come back bit for bit
  info.noise_levels = {5.0, std::sqrt(0.5), 0.07};
  info.objective = "dsm";
  info.step = 12345678901LL;
  info.extra = {{"sigma", "0.1"}, {"note", "caf\xc3\xa9 \"x\""}};
  return info;
}

template <class T>
class ModelRoundTrip : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ModelRoundTrip, Precisions);

TYPED_TEST(ModelRoundTrip, ParametersEnergiesAndInfoComeBackBitForBit) {
  using T = TypeParam;
  const nn::Network<T> net = mlp_network<T>({3, 8, 5, 1}, ebm::Activation::Silu, 7);
  const TempDir dir;
  const std::string path = dir.file("m.safetensors");
  io::ModelInfo info = sample_info();
  info.architecture = nn::mlp_architecture({2, 4, 1}, "relu");  // ignored: the network's own is written
  io::save_model(path, net, info);

  const io::LoadedModel<T> back = io::load_model<T>(path);
  EXPECT_TRUE(same_parameters(back.network, net));
  const Mat<T> x = points<T>(50, 3, 11);
  EXPECT_TRUE(same_bits(energies(back.network, x), energies(net, x)));
  EXPECT_EQ(back.info.architecture, net.architecture());
  EXPECT_EQ(back.network.architecture(), net.architecture());
  // Still the MLP it was: the DenseChain capability, and the Mlp of the same layers.
  ASSERT_TRUE(back.network.dense_chain().has_value());
  const ebm::Mlp<T> mlp = ebm::to_mlp(back.network);
  EXPECT_EQ(mlp.layers(), 3);
  EXPECT_EQ(mlp.weight(1).rows(), 5);
  EXPECT_EQ(mlp.activation(), ebm::Activation::Silu);
  EXPECT_EQ(back.info.data_mean, info.data_mean);  // exact: JSON doubles are written to round-trip
  EXPECT_EQ(back.info.data_scale, info.data_scale);
  EXPECT_EQ(back.info.energy_scale, info.energy_scale);
  EXPECT_EQ(back.info.noise_levels, info.noise_levels);
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
  // The last weight has one row and stays 2-D, as torch.nn.Linear(5, 1).weight.
  EXPECT_EQ(file.at("4.weight", path).shape, (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(file.at("4.bias", path).shape, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(file.metadata.at("format"), "ebm-model");
  const auto meta = nlohmann::json::parse(file.metadata.at("ebm"));
  EXPECT_EQ(meta["format_version"], 2);
  // The architecture is the network's canonical description, as a JSON object.
  EXPECT_EQ(meta["architecture"], nlohmann::json::parse(net.architecture()));
  EXPECT_EQ(meta["architecture"]["input"], 3);
  EXPECT_EQ(meta["architecture"]["layers"][1]["type"], "silu");
  EXPECT_EQ(meta["architecture"]["layers"][2]["out"], 5);
  EXPECT_EQ(meta["standardization"]["scale"][1].get<double>(), std::sqrt(2.0));
  EXPECT_EQ(meta["energy_scale"].get<double>(), 1.0 / 0.07);
  EXPECT_EQ(meta["noise_levels"][1].get<double>(), std::sqrt(0.5));

  // Loading and saving again gives the same bytes.
  io::save_model(dir.file("again"), back.network, back.info);
  EXPECT_EQ(slurp(dir.file("again")), slurp(path));
}

TYPED_TEST(ModelRoundTrip, NoStandardizationIsNull) {
  using T = TypeParam;
  const nn::Network<T> net = mlp_network<T>({2, 3, 1}, ebm::Activation::Tanh, 1);
  const TempDir dir;
  io::save_model(dir.file("m"), net, io::ModelInfo{});
  const auto meta = nlohmann::json::parse(io::read_safetensors(dir.file("m")).metadata.at("ebm"));
  EXPECT_TRUE(meta["standardization"].is_null());
  EXPECT_EQ(meta["energy_scale"].get<double>(), 1.0);
  EXPECT_FALSE(meta.contains("noise_levels"));  // written only when there is a ladder
  const io::LoadedModel<T> back = io::load_model<T>(dir.file("m"));
  EXPECT_TRUE(back.info.data_mean.empty() && back.info.data_scale.empty());
  EXPECT_EQ(back.info.energy_scale, 1.0);
  EXPECT_TRUE(back.info.noise_levels.empty());
  EXPECT_EQ(back.info.step, 0);
}

TYPED_TEST(ModelRoundTrip, TheMlpOverloadWritesTheEquivalentNetwork) {
  using T = TypeParam;
  const ebm::Mlp<T> mlp(options({3, 6, 4, 1}, ebm::Activation::Elu, 5));
  const TempDir dir;
  const io::ModelInfo info = sample_info();
  io::save_model(dir.file("mlp"), mlp, info);
  io::save_model(dir.file("net"), ebm::to_network(mlp), info);
  EXPECT_EQ(slurp(dir.file("mlp")), slurp(dir.file("net")));
  const io::LoadedModel<T> back = io::load_model<T>(dir.file("mlp"));
  const ebm::Mlp<T> again = ebm::to_mlp(back.network);
  ASSERT_EQ(again.layers(), mlp.layers());
  for (Index l = 0; l < mlp.layers(); ++l) {
    EXPECT_TRUE(same_bits(again.weight(l), mlp.weight(l))) << "layer " << l;
    EXPECT_TRUE(same_bits(again.bias(l), mlp.bias(l))) << "layer " << l;
  }
  EXPECT_EQ(again.activation(), ebm::Activation::Elu);
  // The network's energy is the Mlp's, bit for bit.
  const Mat<T> x = points<T>(20, 3, 4);
  ebm::ad::Tape<T> tape;
  const Mat<T> e_mlp = mlp.energy(tape, x);
  EXPECT_TRUE(same_bits(energies(back.network, x), e_mlp));
}

TEST(ModelFile, FloatFileLoadsIntoDoubleAndBack) {
  const nn::Network<float> f = mlp_network<float>({3, 6, 1}, ebm::Activation::Softplus, 2);
  const nn::Network<double> d = mlp_network<double>({3, 6, 1}, ebm::Activation::Gelu, 3);
  const TempDir dir;
  io::save_model(dir.file("f"), f, {});
  io::save_model(dir.file("d"), d, {});
  const auto fd = io::load_model<double>(dir.file("f"));
  const auto df = io::load_model<float>(dir.file("d"));
  EXPECT_TRUE(same_parameters(fd.network, f));  // float -> double is exact
  EXPECT_TRUE(same_parameters(df.network, d));  // rounded to nearest
  EXPECT_EQ(ebm::to_mlp(df.network).activation(), ebm::Activation::Gelu);
  // float -> double -> float comes back to the same bits, and so the same file.
  io::save_model(dir.file("fd"), fd.network, fd.info);
  const auto fdf = io::load_model<float>(dir.file("fd"));
  EXPECT_TRUE(same_parameters(fdf.network, f));
  io::save_model(dir.file("fdf"), fdf.network, fdf.info);
  EXPECT_EQ(slurp(dir.file("fdf")), slurp(dir.file("f")));
}

TEST(ModelFile, SaveRefusesWhatCouldNotBeLoaded) {
  const TempDir dir;
  const std::string path = dir.file("m");
  nn::Network<double> net = mlp_network<double>({2, 3, 1}, ebm::Activation::Softplus, 1);
  io::ModelInfo info;
  info.data_mean = {0, 0};
  info.data_scale = {1, 0};
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); },
                                                {"save_model", path, "data_scale[1] is 0, must be finite and > 0"}));
  info.data_scale = {1};
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); },
                                                {"save_model", path, "data_mean has 2 entries and data_scale 1"}));
  info = {};
  info.data_mean = {0, 0, 0};  // the network's input is 2
  info.data_scale = {1, 1, 1};
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); },
                                                {"data_mean has 3 entries", "expected both 2 (the input width)"}));
  info = {};
  info.data_mean = {0, NAN};
  info.data_scale = {1, 1};
  EXPECT_TRUE(
      throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); }, {"data_mean[1] is not finite"}));
  info = {};
  info.step = -1;
  EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); }, {"step is -1"}));
  for (const double scale : {0.0, -2.0, double(INFINITY), double(NAN)}) {
    info = {};
    info.energy_scale = scale;
    EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); },
                                                  {"save_model", path, "energy_scale is", "must be finite and > 0"}));
  }
  for (const std::vector<double>& levels : std::vector<std::vector<double>>{
           {1.0, 1.0}, {0.1, 1.0}, {1.0, 0.0}, {1.0, -0.5}, {double(INFINITY), 1.0}, {1.0, double(NAN)}}) {
    info = {};
    info.noise_levels = levels;
    EXPECT_TRUE(throws_with<ebm::InvalidArgument>([&] { io::save_model(path, net, info); },
                                                  {"save_model", path, "noise_levels must be finite, > 0 and decreasing"}));
  }
  net.edit_parameters([](const std::vector<Mat<double>*>& p) { (*p[2])(0, 2) = INFINITY; });  // 2.weight
  EXPECT_TRUE(throws_with<ebm::NumericalError>([&] { io::save_model(path, net, {}); },
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
  const nn::Network<double> big = mlp_network<double>({4, 32, 32, 1}, ebm::Activation::Softplus, 1);
  const nn::Network<float> small = mlp_network<float>({2, 3, 1}, ebm::Activation::Tanh, 2);

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
  EXPECT_TRUE(same_parameters(io::load_model<float>(path).network, small));

  // A save that fails leaves the old file as it was.
  const std::string before = slurp(path);
  nn::Network<float> broken = small;
  broken.edit_parameters([](const std::vector<Mat<float>*>& p) { (*p[1])(0, 0) = NAN; });  // 0.bias
  EXPECT_THROW(io::save_model(path, broken, {}), ebm::NumericalError);
  EXPECT_EQ(slurp(path), before);
  io::ModelInfo bad;
  bad.energy_scale = 0;  // inconsistent info: refused before anything is written
  EXPECT_THROW(io::save_model(path, small, bad), ebm::InvalidArgument);
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
  const nn::Network<float> net = mlp_network<float>({2, 5, 1}, ebm::Activation::Elu, 4);
  io::TensorFile file;
  io::append_network_tensors(file, net, "model.");
  std::vector<std::string> names;
  for (const io::Tensor& t : file.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}));
  const std::vector<std::uint64_t> counter = {3, std::numeric_limits<std::uint64_t>::max()};
  file.tensors.push_back(io::tensor_from_values<std::uint64_t>("rng", counter));
  const io::ModelInfo info = sample_info();
  io::ModelInfo with_arch = info;
  with_arch.architecture = net.architecture();
  with_arch.data_mean = {1, 2};
  with_arch.data_scale = {3, 4};
  file.metadata["model"] = io::model_info_to_json(with_arch);
  const TempDir dir;
  const std::string path = dir.file("ckpt");
  io::write_safetensors(path, file);

  const io::TensorFile back = io::read_safetensors(path);
  const io::ModelInfo info_back = io::model_info_from_json(back.metadata.at("model"), path);
  EXPECT_EQ(info_back.architecture, net.architecture());
  const nn::Network<double> restored = io::network_from_tensors<double>(back, info_back.architecture, "model.", path, true);
  EXPECT_TRUE(same_parameters(restored, net));
  EXPECT_EQ(io::to_values<std::uint64_t>(back.at("rng", path), path), counter);
  EXPECT_EQ(info_back.data_scale, with_arch.data_scale);
  EXPECT_EQ(info_back.energy_scale, info.energy_scale);
  EXPECT_EQ(info_back.noise_levels, info.noise_levels);
  EXPECT_EQ(info_back.extra, info.extra);
  // Not under that prefix: missing (without `exclusive`, the other tensors are not looked at).
  EXPECT_TRUE(throws_with<ebm::FormatError>(
      [&] { io::network_from_tensors<float>(back, info_back.architecture, "", path, false); },
      {path, "missing tensor '0.weight'"}));
  // `exclusive` refuses another tensor under the prefix, and only then.
  io::TensorFile more = back;
  const std::vector<float> one = {1};
  more.tensors.push_back(io::tensor_from_values<float>("model.4.weight", one));
  EXPECT_TRUE(throws_with<ebm::FormatError>(
      [&] { io::network_from_tensors<float>(more, info_back.architecture, "model.", path, true); },
      {path, "unexpected tensor 'model.4.weight'"}));
  EXPECT_TRUE(same_parameters(io::network_from_tensors<float>(more, info_back.architecture, "model.", path, false), net));
  // A bad architecture is a FormatError naming the file.
  EXPECT_TRUE(throws_with<ebm::FormatError>(
      [&] { io::network_from_tensors<float>(back, "{\"input\": 2}", "model.", path, true); },
      {path, "architecture", "missing field 'layers'"}));
  // model_info_to_json needs a valid architecture (save_model fills in the network's own).
  EXPECT_THROW(io::model_info_to_json(info), ebm::InvalidArgument);
  // Not a model file: no "format" metadata.
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_model<float>(path); },
                                            {"load_model", path, "not an ebm model file"}));
}

// ---- corrupt files ---------------------------------------------------------------------------

class CorruptModel : public ::testing::Test {
 protected:
  void SetUp() override {
    // Small on purpose: every prefix of it is tried.
    io::save_model(good_, nn::Network<float>::from_json(nn::mlp_architecture({2, 3, 1}, "softplus"), 9), sample2());
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
  // The base file's metadata as format version 1 wrote it: the same MLP as {"widths",
  // "activation"}, no energy_scale or noise_levels.
  static void to_version_1(nlohmann::json& m) {
    m["format_version"] = 1;
    m["architecture"] = {{"widths", {2, 3, 1}}, {"activation", "softplus"}};
    m.erase("energy_scale");
    m.erase("noise_levels");
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
    spit(path_, io_test::join_file(h, data));
  }
  void header(const std::function<void(ojson&)>& edit, const std::string& fragment) {
    write_header(edit, data_);
    expect(fragment);
  }
  // The valid file with its "ebm" metadata object changed by edit.
  void write_info(const std::function<void(nlohmann::json&)>& edit) {
    spit(path_, io_test::with_ebm_metadata(bytes_, edit));
  }
  void info(const std::function<void(nlohmann::json&)>& edit, const std::string& fragment) {
    write_info(edit);
    expect(fragment);
  }
  // The same on the version 1 form of the metadata.
  void info_v1(const std::function<void(nlohmann::json&)>& edit, const std::string& fragment) {
    info(
        [&](nlohmann::json& m) {
          to_version_1(m);
          edit(m);
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

TEST_F(CorruptModel, VersionOneFilesStillLoad) {
  const io::LoadedModel<float> v2 = io::load_model<float>(good_);
  write_info(to_version_1);
  const auto meta = nlohmann::json::parse(io::read_safetensors(path_).metadata.at("ebm"));
  ASSERT_EQ(meta["format_version"], 1);
  ASSERT_FALSE(meta.contains("energy_scale"));
  const io::LoadedModel<float> v1 = io::load_model<float>(path_);
  EXPECT_TRUE(same_parameters(v1.network, v2.network));  // the same canonical architecture too
  EXPECT_EQ(v1.info.architecture, v2.info.architecture);
  const Mat<float> x = points<float>(10, 2, 3);
  EXPECT_TRUE(same_bits(energies(v1.network, x), energies(v2.network, x)));
  EXPECT_EQ(v1.info.data_mean, v2.info.data_mean);
  EXPECT_EQ(v1.info.data_scale, v2.info.data_scale);
  EXPECT_EQ(v1.info.energy_scale, 1.0);
  EXPECT_TRUE(v1.info.noise_levels.empty());
  EXPECT_EQ(v1.info.objective, "ssm");
  EXPECT_EQ(v1.info.step, 10);
  EXPECT_TRUE(same_parameters(io::load_model<double>(path_).network, v2.network));

  // Version 1's extra "temperature" t is energy_scale 1 / t, and leaves extra.
  write_info([](nlohmann::json& m) {
    to_version_1(m);
    m["extra"] = {{"temperature", "0.25"}, {"sigma", "0.1"}};
  });
  io::LoadedModel<double> warm = io::load_model<double>(path_);
  EXPECT_EQ(warm.info.energy_scale, 4.0);
  EXPECT_EQ(warm.info.extra, (std::map<std::string, std::string>{{"sigma", "0.1"}}));
  write_info([](nlohmann::json& m) {
    to_version_1(m);
    m["extra"] = {{"temperature", "3"}};
  });
  EXPECT_EQ(io::load_model<float>(path_).info.energy_scale, 1.0 / 3.0);

  // Saving a version 1 model writes version 2 with the energy scale.
  io::save_model(dir_.file("upgraded"), warm.network, warm.info);
  const auto up = nlohmann::json::parse(io::read_safetensors(dir_.file("upgraded")).metadata.at("ebm"));
  EXPECT_EQ(up["format_version"], 2);
  EXPECT_EQ(up["energy_scale"].get<double>(), 4.0);
  EXPECT_FALSE(up["extra"].contains("temperature"));
  EXPECT_EQ(io::load_model<double>(dir_.file("upgraded")).info.energy_scale, 4.0);

  // In version 2 "temperature" is text like any other extra, and energy_scale is its own field.
  write_info([](nlohmann::json& m) { m["extra"] = {{"temperature", "0.25"}}; });
  const io::LoadedModel<float> plain = io::load_model<float>(path_);
  EXPECT_EQ(plain.info.energy_scale, 1.0);
  EXPECT_EQ(plain.info.extra.at("temperature"), "0.25");
  // Version 2 also accepts the "mlp" sugar in a file (canonical on load).
  write_info([](nlohmann::json& m) { m["architecture"] = nlohmann::json::parse(nn::mlp_architecture({2, 3, 1}, "softplus")); });
  EXPECT_EQ(io::load_model<float>(path_).info.architecture, v2.info.architecture);
}

// Files written by hand in the documented layouts, of versions 1 and 2: an MLP 2 -> 3 -> 1 with
// tanh, tensors in torch's shapes (weights [out, in] even with one row, biases [out]).
std::string hand_written_file(const std::string& ebm_json, io::DType dtype) {
  const std::vector<double> w0 = {0.5, -1, 0.25, 2, -0.75, 0.125}, b0 = {0.125, -0.25, 0.375}, w2 = {1.5, -0.5, 2}, b2 = {-0.25};
  const std::size_t size = dtype == io::DType::F32 ? 4 : 8;
  std::string data;
  ojson header;
  const auto add = [&](const char* name, const std::vector<double>& v, std::vector<int> shape) {
    header[name] = {{"dtype", dtype == io::DType::F32 ? "F32" : "F64"}, {"shape", shape},
                    {"data_offsets", {data.size(), data.size() + v.size() * size}}};
    for (const double x : v) {
      const float f = static_cast<float>(x);
      data.append(size == 4 ? reinterpret_cast<const char*>(&f) : reinterpret_cast<const char*>(&x), size);
    }
  };
  add("0.weight", w0, {3, 2});
  add("0.bias", b0, {3});
  add("2.weight", w2, {1, 3});
  add("2.bias", b2, {1});
  header["__metadata__"] = {{"format", "ebm-model"}, {"ebm", ebm_json}, {"written_by", "hand"}};
  return io_test::join_file(header, data);
}

// E(x) of that MLP at x = (0.375, -0.75), in double (every number exact in float too).
double hand_written_energy() {
  const double x[2] = {0.375, -0.75};
  const double w0[3][2] = {{0.5, -1}, {0.25, 2}, {-0.75, 0.125}}, b0[3] = {0.125, -0.25, 0.375}, w2[3] = {1.5, -0.5, 2};
  double e = -0.25;
  for (int i = 0; i < 3; ++i) e += w2[i] * std::tanh(w0[i][0] * x[0] + w0[i][1] * x[1] + b0[i]);
  return e;
}

template <class T>
void expect_hand_written_model(const io::LoadedModel<T>& m, double tolerance) {
  EXPECT_EQ(m.info.architecture, nn::Network<float>::from_json(nn::mlp_architecture({2, 3, 1}, "tanh"), 0).architecture());
  ASSERT_EQ(m.network.parameter_values().size(), 4u);
  EXPECT_EQ(m.network.parameter_values()[0](2, 1), T(0.125));
  EXPECT_EQ(m.network.parameter_values()[1](0, 2), T(0.375));
  EXPECT_EQ(m.network.parameter_values()[2](0, 0), T(1.5));  // the [1, 3] weight
  EXPECT_EQ(m.network.parameter_values()[3](0, 0), T(-0.25));
  Mat<T> x(1, 2);
  x << T(0.375), T(-0.75);
  EXPECT_NEAR(double(energies(m.network, x)(0, 0)), hand_written_energy(), tolerance);
  EXPECT_EQ(m.info.data_mean, (std::vector<double>{1, 2}));
  EXPECT_EQ(m.info.data_scale, (std::vector<double>{0.5, 4}));
  EXPECT_EQ(m.info.energy_scale, 2.0);
  EXPECT_TRUE(m.info.noise_levels.empty());
  EXPECT_EQ(m.info.objective, "sm");
  EXPECT_EQ(m.info.step, 7);
  EXPECT_EQ(m.info.extra, (std::map<std::string, std::string>{{"note", "by hand"}}));
}

TEST(ModelFile, HandWrittenFilesOfBothVersionsLoad) {
  const std::string v1 =
      R"({"format_version": 1, "architecture": {"widths": [2, 3, 1], "activation": "tanh"},)"
      R"( "standardization": {"mean": [1, 2], "scale": [0.5, 4]}, "objective": "sm", "step": 7,)"
      R"( "extra": {"temperature": "0.5", "note": "by hand"}})";
  const std::string v2 =
      R"({"format_version": 2, "architecture": {"input": 2, "layers": [{"type": "linear", "out": 3},)"
      R"( {"type": "tanh"}, {"type": "linear", "out": 1}]}, "standardization": {"mean": [1, 2], "scale": [0.5, 4]},)"
      R"( "energy_scale": 2, "objective": "sm", "step": 7, "extra": {"note": "by hand"}})";
  const TempDir dir;
  for (const io::DType dtype : {io::DType::F32, io::DType::F64}) {
    for (const std::string* text : {&v1, &v2}) {
      const std::string path = dir.file("hand");
      spit(path, hand_written_file(*text, dtype));
      SCOPED_TRACE(std::string(text == &v1 ? "version 1" : "version 2") + (dtype == io::DType::F32 ? ", F32" : ", F64"));
      const io::LoadedModel<float> f = io::load_model<float>(path);
      const io::LoadedModel<double> d = io::load_model<double>(path);
      expect_hand_written_model(f, 1e-6);
      expect_hand_written_model(d, 1e-12);
      // Saved again (as version 2), it comes back the same, in the same layout.
      io::save_model(dir.file("again"), d.network, d.info);
      const io::TensorFile again = io::read_safetensors(dir.file("again"));
      EXPECT_EQ(again.at("2.weight", "again").shape, (std::vector<std::int64_t>{1, 3}));
      EXPECT_EQ(again.at("0.bias", "again").shape, (std::vector<std::int64_t>{3}));
      expect_hand_written_model(io::load_model<double>(dir.file("again")), 1e-12);
    }
  }
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
  // A parameterless layer (the activation, layer 1) has no tensors.
  tensors(
      [](io::TensorFile& f) {
        const std::vector<float> v = {1};
        f.tensors.push_back(io::tensor_from_values<float>("1.weight", v));
      },
      "unexpected tensor '1.weight'");
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
  EXPECT_EQ(io::load_model<double>(path_).network.parameter_values()[0](1, 1), 1e300);
  EXPECT_TRUE(throws_with<ebm::FormatError>(
      [&] { io::load_model<float>(path_); },
      {path_, "tensor '0.weight' has non-finite value inf after conversion to float32 at index [1, 1]"}));
}

TEST_F(CorruptModel, Metadata) {
  tensors([](io::TensorFile& f) { f.metadata.clear(); }, "not an ebm model file (no \"format\" in __metadata__)");
  tensors([](io::TensorFile& f) { f.metadata["format"] = "pt"; },
          "__metadata__ \"format\" is \"pt\", expected \"ebm-model\"");
  // Labelled a checkpoint, it is read as one, and a model file lacks a checkpoint's tensors.
  tensors([](io::TensorFile& f) { f.metadata["format"] = "ebm-checkpoint"; }, "missing tensor 'model.0.weight'");
  tensors([](io::TensorFile& f) { f.metadata.erase("ebm"); }, "no \"ebm\" entry in __metadata__");
  tensors([](io::TensorFile& f) { f.metadata["ebm"] = "{\"format_version\": 2,"; }, "ebm metadata: not valid JSON");
  tensors([](io::TensorFile& f) { f.metadata["ebm"] = "[1]"; }, "ebm metadata: is array [1], expected an object");
  header([](ojson& h) { h["__metadata__"]["ebm"] = 5; },
         "__metadata__ value of \"ebm\" is a number, expected a string");
}

TEST_F(CorruptModel, ModelDescription) {
  // Version 2 is now the current version (it was the first unsupported one when version 1 was).
  info([](nlohmann::json& m) { m["format_version"] = 3; }, "unsupported format_version 3 (this ebm reads 1 and 2)");
  info([](nlohmann::json& m) { m["format_version"] = 0; }, "unsupported format_version 0");
  info([](nlohmann::json& m) { m["format_version"] = "2"; }, "unsupported format_version \"2\"");
  info([](nlohmann::json& m) { m.erase("format_version"); }, "missing field \"format_version\"");
  info([](nlohmann::json& m) { m.erase("architecture"); }, "missing field \"architecture\"");
  info([](nlohmann::json& m) { m["architecture"] = "mlp"; }, "\"architecture\" is string \"mlp\", expected an object");
  info([](nlohmann::json& m) { m["standardization"]["scale"] = {1.0, -2.0}; },
       "standardization.scale[1] is -2.0, expected a finite value > 0");
  info([](nlohmann::json& m) { m["standardization"]["mean"] = {1.0}; },
       "standardization has 1 means and 2 scales, expected 2 (the input width)");
  info(
      [](nlohmann::json& m) {
        m["standardization"]["mean"] = {1.0, "x"};
      },
      "\"standardization.mean\" has entry string");
  info([](nlohmann::json& m) { m["standardization"] = "none"; }, "\"standardization\" is string \"none\"");
  info([](nlohmann::json& m) { m.erase("standardization"); }, "missing field \"standardization\"");
  info([](nlohmann::json& m) { m["step"] = -3; }, "\"step\" is number -3, expected an integer >= 0");
  info([](nlohmann::json& m) { m["step"] = 1.5; }, "\"step\" is number 1.5");
  info([](nlohmann::json& m) { m["objective"] = nullptr; }, "\"objective\" is null");
  info([](nlohmann::json& m) { m["extra"]["lr"] = 0.1; }, "\"extra.lr\" is number 0.1, expected a string");
  info([](nlohmann::json& m) { m["seed"] = 1; }, "unknown field \"seed\"");
  // The nesting bound was 3 levels when the architecture was a flat MLP; a network nests layers
  // in residual bodies, so the bound is now 32 levels, and 3-level extras fail on their type.
  info([](nlohmann::json& m) { m["extra"]["deep"] = {{"a", {1}}}; }, "\"extra.deep\" is object");
  info(
      [](nlohmann::json& m) {
        nlohmann::json deep = 1;
        for (int k = 0; k < 40; ++k) deep = nlohmann::json::array({deep});
        m["extra"]["deep"] = deep;
      },
      "ebm metadata: nests deeper than 32 levels");
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

// The energy scale and the noise ladder (format version 2).
TEST_F(CorruptModel, EnergyScaleAndNoiseLevels) {
  info([](nlohmann::json& m) { m["energy_scale"] = 0; }, "\"energy_scale\" is number 0, expected a number > 0");
  info([](nlohmann::json& m) { m["energy_scale"] = -0.5; }, "\"energy_scale\" is number -0.5, expected a number > 0");
  info([](nlohmann::json& m) { m["energy_scale"] = "2"; }, "\"energy_scale\" is string \"2\", expected a number > 0");
  info([](nlohmann::json& m) { m["energy_scale"] = nullptr; }, "\"energy_scale\" is null, expected a number > 0");
  info([](nlohmann::json& m) { m["noise_levels"] = {1.0, 1.0}; }, "\"noise_levels\" must be positive and decreasing");
  info([](nlohmann::json& m) { m["noise_levels"] = {0.1, 1.0}; }, "\"noise_levels\" must be positive and decreasing");
  info([](nlohmann::json& m) { m["noise_levels"] = {1.0, 0.0}; }, "\"noise_levels\" must be positive and decreasing");
  info([](nlohmann::json& m) { m["noise_levels"] = {-1.0}; }, "\"noise_levels\" must be positive and decreasing");
  info([](nlohmann::json& m) { m["noise_levels"] = "1"; }, "\"noise_levels\" is string \"1\", expected a list of numbers");
  info([](nlohmann::json& m) { m["noise_levels"] = {1.0, "x"}; }, "\"noise_levels\" has entry string");
  // Valid ones load; a missing energy_scale is 1 and an empty ladder is none.
  write_info([](nlohmann::json& m) {
    m["energy_scale"] = 0.125;
    m["noise_levels"] = {3.0, 0.3, 0.03};
  });
  const io::LoadedModel<float> back = io::load_model<float>(path_);
  EXPECT_EQ(back.info.energy_scale, 0.125);
  EXPECT_EQ(back.info.noise_levels, (std::vector<double>{3.0, 0.3, 0.03}));
  write_info([](nlohmann::json& m) {
    m.erase("energy_scale");
    m["noise_levels"] = nlohmann::json::array();
  });
  EXPECT_EQ(io::load_model<double>(path_).info.energy_scale, 1.0);
  EXPECT_TRUE(io::load_model<double>(path_).info.noise_levels.empty());
}

// Version 1's architecture, {"widths": [...], "activation": "..."}: its errors. Where the
// check moved to the network parser (nn::inspect_architecture of the equivalent "mlp"), the
// message is now the parser's, still naming the field and value.
TEST_F(CorruptModel, VersionOneArchitecture) {
  info_v1([](nlohmann::json& m) { m["architecture"]["activation"] = "swish"; }, "unknown activation 'swish'");
  info_v1([](nlohmann::json& m) { m["architecture"]["activation"] = 3; }, "\"architecture.activation\" is number 3");
  info_v1([](nlohmann::json& m) { m["architecture"].erase("activation"); }, "missing field \"architecture.activation\"");
  info_v1([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 3, 2}; },
          "the last of 'widths' (the energy) must be 1, got 2");
  info_v1([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 0, 1}; },
          "'widths' entry 1 must be an integer >= 1, got 0");
  info_v1([](nlohmann::json& m) { m["architecture"]["widths"] = {1}; },
          "'widths' needs at least the input and output widths");
  info_v1([](nlohmann::json& m) { m["architecture"]["widths"] = {2, 1.5, 1}; },
          "'widths' entry 1 must be an integer >= 1, got 1.5");
  info_v1([](nlohmann::json& m) { m["architecture"]["widths"] = "2,3,1"; },
          "\"architecture.widths\" is string \"2,3,1\", expected a list of integers");
  info_v1(
      [](nlohmann::json& m) {
        m["architecture"]["widths"] = {2, 4, 1};
      },
      "tensor '0.weight' has shape [3, 2], expected [4, 2]");
  info_v1(
      [](nlohmann::json& m) {
        m["architecture"]["widths"] = {2, 3, 3, 1};
      },
      "tensor '2.weight' has shape [1, 3], expected [3, 3]");
  info_v1([](nlohmann::json& m) { m["architecture"]["depth"] = 2; }, "unknown field \"architecture.depth\"");
  // A version 2 description is not a version 1 architecture, nor are version 2's fields.
  info_v1([](nlohmann::json& m) { m["architecture"] = {{"input", 2}, {"layers", nlohmann::json::array()}}; },
          "unknown field \"architecture.input\"");
  info_v1([](nlohmann::json& m) { m["energy_scale"] = 1.0; }, "unknown field \"energy_scale\"");
  info_v1([](nlohmann::json& m) { m["noise_levels"] = {1.0}; }, "unknown field \"noise_levels\"");
  // The temperature must be a positive number.
  for (const char* t : {"0", "-1", "abc", "2x", "", "inf", "nan"})
    info_v1([&](nlohmann::json& m) { m["extra"]["temperature"] = t; },
            "\"extra.temperature\" must be a positive number, got '" + std::string(t) + "'");
  // The checks shared with version 2 hold for version 1 too.
  info_v1([](nlohmann::json& m) { m["standardization"]["mean"] = {1.0}; },
          "standardization has 1 means and 2 scales, expected 2 (the input width)");
  info_v1([](nlohmann::json& m) { m["step"] = -3; }, "\"step\" is number -3, expected an integer >= 0");
}

// The version 2 equivalents: the network description ({"input": 2, "layers": [linear 3,
// softplus, linear 1]}), checked by the network parser before any tensor is read.
TEST_F(CorruptModel, VersionTwoArchitecture) {
  using nlohmann::json;
  const auto layers = [](json& m) -> json& { return m["architecture"]["layers"]; };
  info([&](json& m) { layers(m)[1]["type"] = "swish"; }, "architecture: layers[1]: layer type 'swish' is unknown (known: ");
  info([&](json& m) { layers(m)[1]["type"] = 3; }, "'type' must be a string, got 3");
  info([&](json& m) { layers(m)[1].erase("type"); }, "missing field 'type'");
  info([&](json& m) { layers(m)[2]["out"] = 2; }, "the last layer gives 2 numbers per sample; a scalar energy needs 1");
  info([&](json& m) { layers(m)[0]["out"] = 0; }, "'out' must be an integer >= 1, got 0");
  info([&](json& m) { layers(m)[0]["out"] = 1.5; }, "'out' must be an integer >= 1, got 1.5");
  info([&](json& m) { layers(m)[0].erase("out"); }, "missing field 'out'");
  info([&](json& m) { m["architecture"].erase("layers"); }, "missing field 'layers'");
  info([&](json& m) { m["architecture"]["input"] = 0; }, "'input' must be the dimension D or [height, width, channels]");
  info([&](json& m) { layers(m)[0]["out"] = 4; }, "tensor '0.weight' has shape [3, 2], expected [4, 2]");
  info(
      [&](json& m) {
        // [linear 3, softplus, linear 3, softplus, linear 1]
        layers(m).insert(layers(m).begin() + 2, json{{"type", "softplus"}});
        layers(m).insert(layers(m).begin() + 2, json{{"type", "linear"}, {"out", 3}});
      },
      "tensor '2.weight' has shape [1, 3], expected [3, 3]");
  info([&](json& m) { m["architecture"]["depth"] = 2; }, "unknown field 'depth'");
  info([&](json& m) { layers(m)[0]["bias"] = false; }, "layers[0]: unknown field 'bias' (fields: out)");
  info([&](json& m) { layers(m)[1]["alpha"] = 1; }, "layers[1]: only elu takes \"alpha\"");
  // The input width decides the standardisation's length.
  info([&](json& m) { m["architecture"]["input"] = 3; }, "standardization has 2 means and 2 scales, expected 3");
  // A conditional network needs tensors the file does not hold.
  info([&](json& m) { m["architecture"]["condition"] = json::object(); }, "missing tensor 'embed.weight'");
}

TEST_F(CorruptModel, MissingFileIsAnIoError) {
  const std::string missing = dir_.file("absent.safetensors");
  EXPECT_TRUE(throws_with<ebm::IoError>([&] { io::load_model<float>(missing); },
                                        {"read_safetensors", missing, "No such file or directory"}));
}

}  // namespace
