// Model files and checkpoints of the example architectures (examples/models/*.json: an MLP, a
// convolutional energy and a noise-conditional U-Net-like NCSN): bit-exact round trips of the
// parameters, energies and architecture in both precisions and across them; a training run
// resumed from a checkpoint continues bit for bit; and a FormatError naming the file and the
// problem for corrupt files, a hostile architecture declaring a huge layer included (refused
// against the tensors before anything is allocated).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ebm/core/error.hpp>
#include <ebm/io/checkpoint.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/objectives.hpp>
#include <ebm/train/optimizer.hpp>
#include <ebm/train/trainer.hpp>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

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
using json = nlohmann::json;

std::string example(const std::string& name) {
  const std::string path = std::string(EBM_TEST_DIR) + "/../examples/models/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

io::ModelInfo info_for(const nn::Network<float>& net) {
  io::ModelInfo info;
  info.objective = net.conditional() ? "dsm" : "ssm";
  info.step = 321;
  if (net.conditional()) info.noise_levels = {1.0, std::sqrt(0.1), 0.1};
  else info.energy_scale = 1.0 / 0.3;
  info.extra = {{"source", "test"}};
  return info;
}

class ExampleNetwork : public ::testing::TestWithParam<std::string> {
 protected:
  std::string text() const { return example(GetParam()); }
};

std::string test_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string s = p.param.substr(0, p.param.find('.'));
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleNetwork, ::testing::Values("mlp.json", "conv_28x28.json", "ncsn_28x28.json"),
                         test_name);

// Whether parameter `name` of the network described by `arch` (canonical) is a vector, stored
// 1-D as torch stores it: a bias or a group norm's weight. Weights are 2-D even with one row
// (the last linear layer's [1, in], a one-channel convolution's [1, k k C]).
bool is_vector(const json& arch, const std::string& name) {
  if (name.ends_with(".bias")) return true;
  if (name.starts_with("embed.")) return false;
  std::vector<std::string> parts;
  std::stringstream s(name);
  for (std::string part; std::getline(s, part, '.');) parts.push_back(part);
  const json* list = &arch.at("layers");
  const json* layer = nullptr;
  for (std::size_t k = 0; k + 1 < parts.size(); ++k) {  // "3.weight", "13.body.2.weight"
    if (parts[k] == "body") list = &layer->at("body");
    else layer = &list->at(std::stoul(parts[k]));
  }
  return layer->at("type") == "group_norm";
}

// Saves net, loads it as T, and checks everything that must come back bit for bit.
template <class T>
void expect_round_trip(const nn::Network<T>& net, const io::ModelInfo& info, const TempDir& dir) {
  const std::string path = dir.file(std::string("net-") + (std::is_same_v<T, float> ? "f" : "d"));
  io::save_model(path, net, info);
  const io::LoadedModel<T> back = io::load_model<T>(path);
  EXPECT_TRUE(same_parameters(back.network, net));
  EXPECT_EQ(back.network.architecture(), net.architecture());
  EXPECT_EQ(back.info.architecture, net.architecture());
  EXPECT_EQ(back.network.conditional(), net.conditional());
  EXPECT_EQ(back.network.dim(), net.dim());
  EXPECT_EQ(back.network.input_shape().str(), net.input_shape().str());
  EXPECT_EQ(back.network.dense_chain().has_value(), net.dense_chain().has_value());
  EXPECT_EQ(back.info.noise_levels, info.noise_levels);
  EXPECT_EQ(back.info.energy_scale, info.energy_scale);
  EXPECT_EQ(back.info.extra, info.extra);
  const Mat<T> x = points<T>(5, net.dim(), 19);
  const Mat<T> e = energies(net, x);
  ASSERT_EQ(e.rows(), 5);
  ASSERT_EQ(e.cols(), 1);
  EXPECT_TRUE(e.allFinite());
  EXPECT_TRUE(same_bits(energies(back.network, x), e));

  // The file: one tensor per parameter, the torch-like shape (1-D for a 1 x n parameter), the
  // precision's dtype; the architecture is the canonical description.
  const io::TensorFile file = io::read_safetensors(path);
  EXPECT_EQ(file.tensors.size(), net.parameter_specs().size());
  const json architecture = json::parse(net.architecture());
  std::size_t matrices = 0;
  for (const auto& spec : net.parameter_specs()) {
    const io::Tensor* t = file.find(spec.name);
    ASSERT_NE(t, nullptr) << spec.name;
    const std::vector<std::int64_t> shape = is_vector(architecture, spec.name)
                                                ? std::vector<std::int64_t>{spec.cols}
                                                : std::vector<std::int64_t>{spec.rows, spec.cols};
    EXPECT_EQ(t->shape, shape) << spec.name;
    EXPECT_EQ(spec.file_shape(), std::vector<Index>(shape.begin(), shape.end())) << spec.name;
    if (!is_vector(architecture, spec.name)) ++matrices;
    EXPECT_EQ(t->dtype, (std::is_same_v<T, float> ? io::DType::F32 : io::DType::F64)) << spec.name;
  }
  EXPECT_GT(matrices, 0u);
  EXPECT_EQ(json::parse(file.metadata.at("ebm")).at("architecture"), architecture);
  // Saving what was loaded gives the same bytes.
  io::save_model(path + ".again", back.network, back.info);
  EXPECT_EQ(slurp(path + ".again"), slurp(path));
}

TEST_P(ExampleNetwork, FloatFilesRoundTripBitForBit) {
  const nn::Network<float> net = nn::Network<float>::from_json(text(), 17);
  std::printf("    %s: %zu parameters in %zu tensors, D = %lld%s\n", GetParam().c_str(), net.parameter_count(),
              net.parameter_specs().size(), static_cast<long long>(net.dim()), net.conditional() ? ", conditional" : "");
  const TempDir dir;
  expect_round_trip(net, info_for(net), dir);
  // The canonical description builds the same network (the same draws from the same seed).
  EXPECT_TRUE(same_parameters(nn::Network<float>::from_json(net.architecture(), 17), net));
}

TEST_P(ExampleNetwork, DoubleFilesRoundTripBitForBit) {
  const nn::Network<double> net = nn::Network<double>::from_json(text(), 23);
  const TempDir dir;
  expect_round_trip(net, info_for(nn::Network<float>::from_json(text(), 0)), dir);
}

TEST_P(ExampleNetwork, FilesConvertBetweenPrecisions) {
  const nn::Network<float> f = nn::Network<float>::from_json(text(), 5);
  const nn::Network<double> d = nn::Network<double>::from_json(text(), 6);
  const TempDir dir;
  io::save_model(dir.file("f"), f, {});
  io::save_model(dir.file("d"), d, {});
  // float -> double is exact: the same energies, up to the arithmetic's precision.
  const io::LoadedModel<double> fd = io::load_model<double>(dir.file("f"));
  EXPECT_TRUE(same_parameters(fd.network, f));
  const Mat<float> x = points<float>(4, f.dim(), 8);
  const Mat<double> e_fd = energies(fd.network, Mat<double>(x.cast<double>()));
  const Mat<float> e_f = energies(f, x);
  for (Index i = 0; i < x.rows(); ++i) EXPECT_NEAR(e_fd(i, 0), double(e_f(i, 0)), 1e-3 * (1 + std::abs(e_f(i, 0))));
  // double -> float rounds to nearest.
  const io::LoadedModel<float> df = io::load_model<float>(dir.file("d"));
  EXPECT_TRUE(same_parameters(df.network, d));
  // float -> double -> float comes back to the same bits and the same file.
  io::save_model(dir.file("fd"), fd.network, fd.info);
  EXPECT_EQ(io::read_safetensors(dir.file("fd")).tensors.front().dtype, io::DType::F64);
  const io::LoadedModel<float> fdf = io::load_model<float>(dir.file("fd"));
  EXPECT_TRUE(same_parameters(fdf.network, f));
  io::save_model(dir.file("fdf"), fdf.network, fdf.info);
  EXPECT_EQ(slurp(dir.file("fdf")), slurp(dir.file("f")));
}

// ---- checkpoints ---------------------------------------------------------------------------

template <class T>
void expect_same_state(const ebm::TrainerState<T>& a, const ebm::TrainerState<T>& b) {
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.optimizer.steps, b.optimizer.steps);
  ASSERT_EQ(a.optimizer.buffers.size(), b.optimizer.buffers.size());
  for (std::size_t i = 0; i < a.optimizer.buffers.size(); ++i)
    EXPECT_TRUE(same_bits(a.optimizer.buffers[i], b.optimizer.buffers[i])) << "optimizer buffer " << i;
  EXPECT_EQ(a.ema.updates, b.ema.updates);
  ASSERT_EQ(a.ema.shadow.size(), b.ema.shadow.size());
  for (std::size_t i = 0; i < a.ema.shadow.size(); ++i)
    EXPECT_TRUE(same_bits(a.ema.shadow[i], b.ema.shadow[i])) << "ema " << i;
  EXPECT_EQ(a.early_stopping.best, b.early_stopping.best);
  EXPECT_EQ(a.early_stopping.best_step, b.early_stopping.best_step);
  EXPECT_EQ(a.early_stopping.evaluations, b.early_stopping.evaluations);
  EXPECT_EQ(a.early_stopping.bad_evaluations, b.early_stopping.bad_evaluations);
  EXPECT_EQ(a.early_stopping.stopped, b.early_stopping.stopped);
  EXPECT_TRUE(same_bits(a.replay_buffer, b.replay_buffer));
}

// N steps in one run against N/2 steps, a checkpoint, a load and N/2 more: the final model files
// must be the same bytes.
template <class T>
void expect_resume_is_bit_identical(const std::string& architecture, const ebm::ObjectiveOptions& objective,
                                    const ebm::TrainerOptions& t, Index rows) {
  const nn::Network<T> init = nn::Network<T>::from_json(architecture, 31);
  const Mat<T> data = points<T>(rows, init.dim(), 41);
  const Mat<T> held_out = points<T>(4, init.dim(), 43);
  const TempDir dir;
  io::ModelInfo info;
  info.objective = std::string(ebm::objective_name(objective.kind));
  if (objective.kind == ebm::ObjectiveKind::DenoisingSm && objective.noise_levels > 1) info.noise_levels = objective.noise_ladder();
  if (!init.conditional()) info.energy_scale = objective.data_energy_scale();
  const std::string config = R"({"test": "resume", "steps": )" + std::to_string(t.steps) + "}";

  nn::Network<T> whole = init;
  {
    ebm::ModelOf<T, nn::Network<T>> model(whole);
    ebm::Trainer<T> trainer(model, objective, t);
    const ebm::TrainResult r = trainer.run(data, &held_out);
    ASSERT_EQ(trainer.step(), t.steps);
    std::printf("    %lld steps in %.2f s, last loss %g\n", static_cast<long long>(t.steps), r.seconds, r.losses.back());
    info.step = trainer.step();
    io::save_model(dir.file("whole"), whole, info);
  }
  const std::string ckpt_path = dir.file("half.ckpt");
  ebm::TrainerState<T> half_state;
  {
    nn::Network<T> first = init;
    ebm::ModelOf<T, nn::Network<T>> model(first);
    ebm::Trainer<T> trainer(model, objective, t);
    trainer.run(data, &held_out, {}, t.steps / 2);
    ASSERT_EQ(trainer.step(), t.steps / 2);
    info.step = trainer.step();
    half_state = trainer.state();
    io::save_checkpoint(ckpt_path, first, info, half_state, config);
    // What was saved comes back.
    const io::Checkpoint<T> ckpt = io::load_checkpoint<T>(ckpt_path);
    EXPECT_TRUE(same_parameters(ckpt.network, first));
    EXPECT_EQ(ckpt.config_json, config);
    EXPECT_EQ(ckpt.info.step, t.steps / 2);
    EXPECT_EQ(ckpt.info.noise_levels, info.noise_levels);
    EXPECT_EQ(ckpt.info.energy_scale, info.energy_scale);
    EXPECT_EQ(ckpt.info.objective, info.objective);
    expect_same_state(ckpt.state, half_state);
    // And saving it again writes the same bytes.
    io::save_checkpoint(ckpt_path + ".again", ckpt.network, ckpt.info, ckpt.state, ckpt.config_json);
    EXPECT_EQ(slurp(ckpt_path + ".again"), slurp(ckpt_path));
  }
  {
    io::Checkpoint<T> ckpt = io::load_checkpoint<T>(ckpt_path);
    ebm::ModelOf<T, nn::Network<T>> model(ckpt.network);
    ebm::Trainer<T> trainer(model, objective, t);
    trainer.load_state(std::move(ckpt.state));
    trainer.run(data, &held_out);
    ASSERT_EQ(trainer.step(), t.steps);
    info.step = trainer.step();
    io::save_model(dir.file("resumed"), ckpt.network, info);
  }
  const std::string a = slurp(dir.file("whole")), b = slurp(dir.file("resumed"));
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "model files differ after resuming";
  // The run did something: the trained parameters differ from the initial ones.
  double change = 0;
  for (std::size_t k = 0; k < init.parameter_values().size(); ++k)
    change = std::max(change, double((init.parameter_values()[k] - whole.parameter_values()[k]).cwiseAbs().maxCoeff()));
  EXPECT_GT(change, 1e-5);
  // The control: without the trainer's state (a fresh optimizer at the checkpoint) the run ends
  // elsewhere, so the comparison above can fail.
  {
    io::Checkpoint<T> ckpt = io::load_checkpoint<T>(ckpt_path);
    ebm::ModelOf<T, nn::Network<T>> model(ckpt.network);
    ebm::Trainer<T> trainer(model, objective, t);
    trainer.run(data, &held_out, {}, t.steps / 2);  // steps 0 .. N/2 again, from the half-trained model
    info.step = trainer.step();
    io::save_model(dir.file("lost"), ckpt.network, info);
    EXPECT_NE(slurp(dir.file("lost")), a);
  }
}

ebm::TrainerOptions small_run(std::int64_t steps) {
  ebm::TrainerOptions t;
  t.steps = steps;
  t.batch_size = 4;
  t.seed = 12;
  t.adam.lr = 1e-3;
  t.schedule = ebm::parse_lr_schedule("cosine");
  t.clip_norm = 5;
  t.ema_decay = 0.9;
  t.eval_every = 2;
  return t;
}

TEST(NetworkCheckpoint, ConvNetworkResumesBitForBit) {
  ebm::ObjectiveOptions objective;
  objective.kind = ebm::ObjectiveKind::DenoisingSm;
  objective.sigma = 0.5;
  expect_resume_is_bit_identical<float>(example("conv_28x28.json"), objective, small_run(6), 12);
}

TEST(NetworkCheckpoint, NoiseConditionalNetworkResumesBitForBit) {
  ebm::ObjectiveOptions objective;
  objective.kind = ebm::ObjectiveKind::DenoisingSm;
  objective.noise_levels = 3;
  objective.sigma = 0.1;
  objective.sigma_max = 1.0;
  expect_resume_is_bit_identical<float>(example("ncsn_28x28.json"), objective, small_run(4), 8);
}

TEST(NetworkCheckpoint, MlpWithAReplayBufferResumesBitForBit) {
  ebm::ObjectiveOptions objective;
  objective.kind = ebm::ObjectiveKind::Pcd;
  objective.buffer_size = 16;
  objective.langevin_steps = 5;
  ebm::TrainerOptions t = small_run(6);
  t.batch_size = 8;
  expect_resume_is_bit_identical<double>(example("mlp.json"), objective, t, 32);
}

// ---- corrupt files -------------------------------------------------------------------------

class CorruptNetworkFile : public ::testing::Test {
 protected:
  // A model file of the example `name` (float) at good_, its bytes returned.
  std::string save_example(const std::string& name) {
    const nn::Network<float> net = nn::Network<float>::from_json(example(name), 3);
    io::save_model(good_, net, info_for(net));
    return slurp(good_);
  }
  // Expects load_model (float and double) to throw FormatError naming the file and every fragment.
  void expect(std::initializer_list<std::string> fragments) {
    std::vector<std::string> all = {path_};
    all.insert(all.end(), fragments.begin(), fragments.end());
    for (int precision = 0; precision < 2; ++precision) {
      try {
        if (precision == 0) io::load_model<float>(path_);
        else io::load_model<double>(path_);
        ADD_FAILURE() << "loaded (" << (precision == 0 ? "float" : "double") << ")";
      } catch (const ebm::FormatError& e) {
        const std::string what = e.what();
        for (const std::string& f : all) EXPECT_NE(what.find(f), std::string::npos) << "\"" << what << "\" lacks \"" << f << "\"";
        if (precision == 0) std::printf("    %s\n", e.what());
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not a FormatError: " << e.what();
      }
    }
  }
  // The example's file with its "ebm" metadata changed.
  void info(const std::string& name, const std::function<void(json&)>& edit, std::initializer_list<std::string> fragments) {
    spit(path_, io_test::with_ebm_metadata(save_example(name), edit));
    expect(fragments);
  }
  // The example's file with its tensors changed.
  void tensors(const std::string& name, const std::function<void(io::TensorFile&)>& edit,
               std::initializer_list<std::string> fragments) {
    save_example(name);
    io::TensorFile f = io::read_safetensors(good_);
    edit(f);
    io::write_safetensors(path_, f);
    expect(fragments);
  }
  static io::Tensor& find(io::TensorFile& f, const std::string& name) {
    for (io::Tensor& t : f.tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }

  TempDir dir_;
  std::string good_ = dir_.file("good.safetensors");
  std::string path_ = dir_.file("bad.safetensors");
};

TEST_F(CorruptNetworkFile, TheBaseFilesLoad) {
  for (const char* name : {"mlp.json", "conv_28x28.json", "ncsn_28x28.json"}) {
    spit(path_, save_example(name));
    EXPECT_NO_THROW(io::load_model<float>(path_)) << name;
  }
}

TEST_F(CorruptNetworkFile, UnknownLayerTypeInTheStoredArchitecture) {
  info("conv_28x28.json", [](json& m) { m["architecture"]["layers"][1]["type"] = "swish"; },
       {"ebm metadata: architecture", "layers[1]", "layer type 'swish' is unknown (known: "});
  // Inside a residual block's body (layer 13 of the NCSN).
  info("ncsn_28x28.json", [](json& m) { m["architecture"]["layers"][13]["body"][1]["type"] = "batch_norm"; },
       {"ebm metadata: architecture", "body[1]", "layer type 'batch_norm' is unknown"});
  // A field of a known layer that it does not take.
  info("conv_28x28.json", [](json& m) { m["architecture"]["layers"][0]["groups"] = 2; },
       {"ebm metadata: architecture", "layers[0]", "unknown field 'groups'"});
  // FiLM without the condition it reads.
  info("ncsn_28x28.json",
       [](json& m) {
         m["architecture"].erase("condition");
         m["architecture"].erase("sigma_power");  // which would be refused first, needing the condition too
       },
       {"ebm metadata: architecture", "film needs the network's \"condition\""});
}

TEST_F(CorruptNetworkFile, MissingTensor) {
  tensors("conv_28x28.json", [](io::TensorFile& f) { std::erase_if(f.tensors, [](const io::Tensor& t) { return t.name == "4.bias"; }); },
          {"missing tensor '4.bias'"});
  tensors("ncsn_28x28.json",
          [](io::TensorFile& f) { std::erase_if(f.tensors, [](const io::Tensor& t) { return t.name == "embed.weight"; }); },
          {"missing tensor 'embed.weight'"});
  tensors("ncsn_28x28.json",
          [](io::TensorFile& f) { std::erase_if(f.tensors, [](const io::Tensor& t) { return t.name == "13.body.2.weight"; }); },
          {"missing tensor '13.body.2.weight'"});
}

TEST_F(CorruptNetworkFile, ExtraTensor) {
  const std::vector<float> one = {1};
  // On a parameterless layer (silu), past the last layer, and a conditioning embedding on an
  // unconditional network.
  for (const char* name : {"1.weight", "10.weight", "embed.weight"})
    tensors("conv_28x28.json", [&](io::TensorFile& f) { f.tensors.push_back(io::tensor_from_values<float>(name, one)); },
            {"unexpected tensor '" + std::string(name) + "'"});
  tensors("ncsn_28x28.json", [&](io::TensorFile& f) { f.tensors.push_back(io::tensor_from_values<float>("13.body.9.bias", one)); },
          {"unexpected tensor '13.body.9.bias'"});
}

TEST_F(CorruptNetworkFile, MisshapenTensor) {
  // conv 0: 16 x (3 x 3 x 1); a weight with the wrong number of columns (taps x channels).
  tensors("conv_28x28.json", [](io::TensorFile& f) { find(f, "0.weight") = io::tensor_from("0.weight", ebm::MatF(ebm::MatF::Zero(16, 8))); },
          {"tensor '0.weight' has shape [16, 8], expected [16, 9]"});
  // conv 2 reads 16 channels: 32 x 144.
  tensors("conv_28x28.json", [](io::TensorFile& f) { find(f, "2.weight") = io::tensor_from("2.weight", ebm::MatF(ebm::MatF::Zero(32, 16))); },
          {"tensor '2.weight' has shape [32, 16], expected [32, 144]"});
  // The same numbers in another layout.
  tensors("conv_28x28.json", [](io::TensorFile& f) { find(f, "0.weight").shape = {16, 3, 3}; },
          {"tensor '0.weight' has shape [16, 3, 3], expected [16, 9]"});
  tensors("conv_28x28.json", [](io::TensorFile& f) { find(f, "0.bias") = io::tensor_from_row("0.bias", ebm::MatF(ebm::MatF::Zero(1, 15))); },
          {"tensor '0.bias' has shape [15], expected [16]"});
  // A group norm's scale, and a FiLM layer's weight (2C x E).
  tensors("ncsn_28x28.json", [](io::TensorFile& f) { find(f, "1.weight") = io::tensor_from_row("1.weight", ebm::MatF(ebm::MatF::Ones(1, 32))); },
          {"tensor '1.weight' has shape [32], expected [16]"});
  tensors("ncsn_28x28.json", [](io::TensorFile& f) { find(f, "2.weight") = io::tensor_from("2.weight", ebm::MatF(ebm::MatF::Zero(32, 16))); },
          {"tensor '2.weight' has shape [32, 16], expected [32, 64]"});
}

TEST_F(CorruptNetworkFile, NonFiniteWeight) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // conv 2's weight is 32 x 144: element 150 is [1, 6].
  tensors("conv_28x28.json", [&](io::TensorFile& f) { std::memcpy(find(f, "2.weight").bytes.data() + 4 * 150, &nan, 4); },
          {"tensor '2.weight' has non-finite value nan at index [1, 6]"});
  tensors("ncsn_28x28.json", [&](io::TensorFile& f) { std::memcpy(find(f, "5.bias").bytes.data() + 4 * 3, &inf, 4); },
          {"tensor '5.bias' has non-finite value inf at index [3]"});
  tensors("ncsn_28x28.json", [&](io::TensorFile& f) { std::memcpy(find(f, "embed.weight").bytes.data(), &nan, 4); },
          {"tensor 'embed.weight' has non-finite value nan at index [0, 0]"});
}

TEST_F(CorruptNetworkFile, NoiseLevelsNotDecreasing) {
  for (const json& levels : {json{1.0, 1.0}, json{0.1, 1.0}, json{1.0, 0.5, 0.7}, json{1.0, 0.0}, json{1.0, -0.1}})
    info("ncsn_28x28.json", [&](json& m) { m["noise_levels"] = levels; },
         {"ebm metadata", "\"noise_levels\" must be positive and decreasing, got "});
}

TEST_F(CorruptNetworkFile, EnergyScaleNotPositive) {
  for (const double scale : {0.0, -1.0, -1e-300})
    info("conv_28x28.json", [&](json& m) { m["energy_scale"] = scale; },
         {"ebm metadata", "\"energy_scale\" is number", "expected a number > 0"});
}

// A description of a layer far larger than the file: the declared shapes are checked against
// the tensors (which are bounded by the file's size) before any parameter is allocated. Were
// they allocated first, the sizes below would end in std::bad_alloc (8 GB, then 0.5 TB), not in a
// FormatError.
TEST_F(CorruptNetworkFile, HostileArchitectureIsRefusedWithoutAllocating) {
  // mlp.json: 2 -> 128 -> 128 -> 1; the first layer declared 1e9 wide.
  info("mlp.json", [](json& m) { m["architecture"]["layers"][0]["out"] = 1000000000; },
       {"tensor '0.weight' has shape [128, 2], expected [1000000000, 2]"});
  info("mlp.json", [](json& m) { m["architecture"]["layers"][2]["out"] = 1000000000; },
       {"tensor '2.weight' has shape [128, 128], expected [1000000000, 128]"});
  // Declared shapes whose element count overflows 64 bits: [1e9 x 1e10].
  info("mlp.json",
       [](json& m) {
         m["architecture"]["input"] = {100000, 100000, 1};
         m["architecture"]["layers"][0]["out"] = 1000000000;
       },
       {"tensor '0.weight' has shape [128, 2], expected [1000000000, 10000000000]"});
  // A convolution 1e9 channels wide.
  info("conv_28x28.json", [](json& m) { m["architecture"]["layers"][0]["out"] = 1000000000; },
       {"tensor '0.weight' has shape [16, 9], expected [1000000000, 9]"});
  // The same through a checkpoint.
  const nn::Network<float> net = nn::Network<float>::from_json(example("mlp.json"), 1);
  io::save_checkpoint(good_, net, io::ModelInfo{}, ebm::TrainerState<float>{}, "{}");
  spit(path_, io_test::with_ebm_metadata(slurp(good_), [](json& m) { m["architecture"]["layers"][0]["out"] = 1000000000; }));
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_checkpoint<float>(path_); },
                                            {path_, "tensor 'model.0.weight' has shape [128, 2], expected [1000000000, 2]"}));
  // And the declared width is bounded at all: 1e10 is refused by the description's parser.
  info("mlp.json", [](json& m) { m["architecture"]["layers"][0]["out"] = 10000000000LL; },
       {"ebm metadata: architecture", "'out' must be an integer >= 1, got 10000000000"});
}

TEST_F(CorruptNetworkFile, CorruptCheckpoint) {
  const nn::Network<float> net = nn::Network<float>::from_json(example("conv_28x28.json"), 1);
  io::save_checkpoint(good_, net, io::ModelInfo{}, ebm::TrainerState<float>{}, "{}");
  const io::Checkpoint<float> ok = io::load_checkpoint<float>(good_);
  EXPECT_TRUE(same_parameters(ok.network, net));
  io::TensorFile f = io::read_safetensors(good_);
  std::erase_if(f.tensors, [](const io::Tensor& t) { return t.name == "model.2.bias"; });
  io::write_safetensors(path_, f);
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_checkpoint<float>(path_); }, {path_, "missing tensor 'model.2.bias'"}));
  f = io::read_safetensors(good_);
  const std::vector<float> one = {1};
  f.tensors.push_back(io::tensor_from_values<float>("model.embed.bias", one));
  io::write_safetensors(path_, f);
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_checkpoint<float>(path_); }, {path_, "unexpected tensor 'model.embed.bias'"}));
  spit(path_, io_test::with_ebm_metadata(slurp(good_), [](json& m) { m["architecture"]["layers"][1]["type"] = "swish"; }));
  EXPECT_TRUE(throws_with<ebm::FormatError>([&] { io::load_checkpoint<double>(path_); }, {path_, "layer type 'swish' is unknown"}));
  // A checkpoint loads as the model it holds.
  const auto as_model = io::load_model<float>(good_);
  const auto as_checkpoint = io::load_checkpoint<float>(good_);
  EXPECT_EQ(as_model.info.step, as_checkpoint.info.step);
  EXPECT_EQ(as_model.network.architecture(), as_checkpoint.network.architecture());
}

}  // namespace
