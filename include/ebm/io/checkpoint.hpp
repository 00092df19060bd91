#pragma once
// Training checkpoints: a safetensors file holding the model (tensors "model.0.weight", ...),
// the trainer's state and the run's configuration, so that a run resumed from it continues bit
// for bit. Tensors besides the model's:
//   "counters"       I64 [7]: step, optimizer steps, EMA updates, early-stopping best step,
//                    evaluations, bad evaluations, stopped (0/1)
//   "best_held_out"  F64 [1]: early stopping's best loss (may be +inf)
//   "optimizer.<i>"  the optimizer's buffers in order (Adam: exp_avg, exp_avg_sq per parameter)
//   "ema.<i>"        the moving average of each parameter (when kept)
//   "replay_buffer"  PCD chains (when kept)
// "__metadata__": "format": "ebm-checkpoint", "ebm": the model description (as model files),
// "config": the caller's configuration text (JSON, opaque here).
#include <ebm/io/model_file.hpp>
#include <ebm/train/trainer.hpp>

#include <string>
#include <string_view>

namespace ebm::io {

template <class T>
struct Checkpoint {
  nn::Network<T> network;
  ModelInfo info;
  TrainerState<T> state;
  std::string config_json;
};

/// Writes atomically; throws InvalidArgument for an inconsistent state, IoError on failure.
template <class T>
void save_checkpoint(const std::string& path, const nn::Network<T>& network, const ModelInfo& info, const TrainerState<T>& state,
                     std::string_view config_json);
/// Throws IoError / FormatError naming the file and what is wrong.
template <class T>
Checkpoint<T> load_checkpoint(const std::string& path);

extern template void save_checkpoint<float>(const std::string&, const nn::Network<float>&, const ModelInfo&,
                                            const TrainerState<float>&, std::string_view);
extern template void save_checkpoint<double>(const std::string&, const nn::Network<double>&, const ModelInfo&,
                                             const TrainerState<double>&, std::string_view);
/// The model a checkpoint holds, as the model file written at its step would be: the EMA
/// average of the parameters when the run keeps one, else the parameters.
template <class T>
LoadedModel<T> model_from_checkpoint(const std::string& path);

extern template Checkpoint<float> load_checkpoint<float>(const std::string&);
extern template Checkpoint<double> load_checkpoint<double>(const std::string&);

}  // namespace ebm::io
