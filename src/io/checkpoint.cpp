#include <ebm/io/checkpoint.hpp>

#include <ebm/core/error.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/optimizer.hpp>

#include <array>
#include <limits>

namespace ebm::io {
namespace {

constexpr std::string_view kModelPrefix = "model.";

template <class T>
void append_buffers(TensorFile& file, const std::vector<Mat<T>>& buffers, const std::string& prefix) {
  for (std::size_t i = 0; i < buffers.size(); ++i) file.tensors.push_back(tensor_from(prefix + std::to_string(i), buffers[i]));
}

// Buffers "<prefix>0", "<prefix>1", ... until one is missing; each keeps its stored shape.
template <class T>
std::vector<Mat<T>> read_buffers(const TensorFile& file, const std::string& prefix, std::string_view path) {
  std::vector<Mat<T>> out;
  for (std::size_t i = 0;; ++i) {
    const Tensor* t = file.find(prefix + std::to_string(i));
    if (!t) return out;
    if (t->shape.size() != 2)
      throw FormatError(std::string(path) + ": tensor '" + t->name + "' must be 2-D, has " + std::to_string(t->shape.size()) +
                        " dimensions");
    out.push_back(to_matrix<T>(*t, static_cast<Index>(t->shape[0]), static_cast<Index>(t->shape[1]), path));
  }
}

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const nn::Network<T>& network, const ModelInfo& info, const TrainerState<T>& state,
                     std::string_view config_json) {
  TensorFile file;
  ModelInfo described = info;
  described.architecture = network.architecture();
  described.step = state.step;
  file.metadata["format"] = "ebm-checkpoint";
  file.metadata["ebm"] = model_info_to_json(described);
  file.metadata["config"] = std::string(config_json);
  append_network_tensors(file, network, kModelPrefix);
  const EarlyStoppingState& es = state.early_stopping;
  const std::array<std::int64_t, 7> counters{state.step,       state.optimizer.steps, state.ema.updates, es.best_step,
                                             es.evaluations,   es.bad_evaluations,    es.stopped ? 1 : 0};
  file.tensors.push_back(tensor_from_values<std::int64_t>("counters", counters));
  const std::array<double, 1> best{es.best};
  file.tensors.push_back(tensor_from_values<double>("best_held_out", best));
  append_buffers(file, state.optimizer.buffers, "optimizer.");
  append_buffers(file, state.ema.shadow, "ema.");
  if (state.replay_buffer.size() > 0) file.tensors.push_back(tensor_from("replay_buffer", state.replay_buffer));
  write_safetensors(path, file);
}

template <class T>
Checkpoint<T> load_checkpoint(const std::string& path) {
  const TensorFile file = read_safetensors(path);
  const auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != "ebm-checkpoint")
    throw FormatError(path + ": not an ebm checkpoint (metadata \"format\" is " +
                      (format == file.metadata.end() ? std::string("missing") : "'" + format->second + "'") + ")");
  const auto description = file.metadata.find("ebm");
  if (description == file.metadata.end()) throw FormatError(path + ": checkpoint has no \"ebm\" metadata");
  ModelInfo info = model_info_from_json(description->second, path);
  nn::Network<T> network = network_from_tensors<T>(file, info.architecture, kModelPrefix, path, true);

  const std::vector<std::int64_t> counters = to_values<std::int64_t>(file.at("counters", path), path);
  const std::vector<double> best = to_values<double>(file.at("best_held_out", path), path);
  if (counters.size() != 7 || best.size() != 1)
    throw FormatError(path + ": tensor 'counters' must hold 7 values and 'best_held_out' 1");
  TrainerState<T> state;
  state.step = counters[0];
  state.optimizer.steps = counters[1];
  state.ema.updates = counters[2];
  state.early_stopping.best_step = counters[3];
  state.early_stopping.evaluations = counters[4];
  state.early_stopping.bad_evaluations = counters[5];
  state.early_stopping.stopped = counters[6] != 0;
  state.early_stopping.best = best[0];
  if (state.step < 0 || state.step != info.step)
    throw FormatError(path + ": step " + std::to_string(state.step) + " disagrees with the model description's step " +
                      std::to_string(info.step));
  state.optimizer.buffers = read_buffers<T>(file, "optimizer.", path);
  state.ema.shadow = read_buffers<T>(file, "ema.", path);
  if (const Tensor* buffer = file.find("replay_buffer")) {
    if (buffer->shape.size() != 2) throw FormatError(path + ": tensor 'replay_buffer' must be 2-D");
    state.replay_buffer = to_matrix<T>(*buffer, static_cast<Index>(buffer->shape[0]), static_cast<Index>(buffer->shape[1]), path);
  }
  const auto config = file.metadata.find("config");
  return Checkpoint<T>{std::move(network), std::move(info), std::move(state), config == file.metadata.end() ? "" : config->second};
}

template <class T>
LoadedModel<T> model_from_checkpoint(const std::string& path) {
  Checkpoint<T> c = load_checkpoint<T>(path);
  if (c.state.ema.updates > 0) {
    Ema<T> ema(0.5);  // the decay plays no part in copying the shadow out
    ema.load_state(std::move(c.state.ema));
    ModelOf<T, nn::Network<T>> model(c.network);
    model.edit_parameters([&](const std::vector<Mat<T>*>& params) { ema.copy_to(params); });
  }
  return {std::move(c.network), std::move(c.info)};
}

template LoadedModel<float> model_from_checkpoint<float>(const std::string&);
template LoadedModel<double> model_from_checkpoint<double>(const std::string&);
template void save_checkpoint<float>(const std::string&, const nn::Network<float>&, const ModelInfo&, const TrainerState<float>&,
                                     std::string_view);
template void save_checkpoint<double>(const std::string&, const nn::Network<double>&, const ModelInfo&,
                                      const TrainerState<double>&, std::string_view);
template Checkpoint<float> load_checkpoint<float>(const std::string&);
template Checkpoint<double> load_checkpoint<double>(const std::string&);

}  // namespace ebm::io
