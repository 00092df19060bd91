#pragma once
// Model files: safetensors (io/safetensors.hpp) holding a network's named tensors (names as
// nn::Network's parameter_specs(): "0.weight", "0.bias", "3.body.0.weight", "embed.weight", ...;
// a 1 x n parameter as a 1-D tensor [n], others 2-D), F32 for float networks, F64 for double.
// An MLP's tensors are named as the state_dict() of torch.nn.Sequential(Linear, Act, ...).
// The header's "__metadata__" holds
//
//   "format": "ebm-model"
//   "ebm":    a JSON string {"format_version": 2,
//                            "architecture": the network's description (docs/networks.md),
//                            "standardization": {"mean": [D], "scale": [D]} or null,
//                            "energy_scale": 1.0, "noise_levels": [...] (optional),
//                            "objective": "...", "step": 1000, "extra": {"key": "string", ...}}
//
// Version 1 files ({"architecture": {"widths": [...], "activation": "..."}}, an MLP, with an
// optional extra "temperature" t meaning energy_scale 1 / t) are read as well. Other
// "__metadata__" keys are ignored on load. A checkpoint holds the same tensors under a prefix
// next to tensors of its own: append_network_tensors / network_from_tensors.
#include <cstdint>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/safetensors.hpp>
#include <ebm/nn/network.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ebm::io {

struct ModelInfo {
  /// The network's description (nn::Network::architecture()); save_model writes the saved
  /// network's own, whatever is here.
  std::string architecture;
  // Standardisation of the data the model was trained on, x_std = (x - mean) / scale, applied
  // before the network; both empty if none, else both of length D with scale > 0.
  std::vector<double> data_mean, data_scale;
  /// The network's output times energy_scale is the energy of the (standardised) data: 1 / sigma
  /// for an unconditional network trained on a denoising ladder, else 1. Finite, > 0.
  double energy_scale = 1;
  /// The denoising ladder a noise-conditional network was trained on, largest first (what
  /// `ebm sample --sampler ncsn` anneals over); empty otherwise. Finite, > 0, decreasing.
  std::vector<double> noise_levels;
  std::string objective;  // e.g. "ssm"; free text
  std::int64_t step = 0;  // optimiser steps taken, >= 0
  std::map<std::string, std::string> extra;
};

template <class T>
struct LoadedModel {
  nn::Network<T> network;
  ModelInfo info;
};

/// Writes the network and info atomically. Throws InvalidArgument for inconsistent info or a
/// negative step, NumericalError naming the tensor for a non-finite parameter (the file would
/// not load), IoError when the file cannot be written.
template <class T>
void save_model(const std::string& path, const nn::Network<T>& network, const ModelInfo& info);
/// The same for an Mlp, saved as the equivalent network (nn::Network loads it).
template <class T>
void save_model(const std::string& path, const Mlp<T>& mlp, const ModelInfo& info);

/// Reads a model file written by save_model (version 1 or 2), from a float or double file
/// whatever T (values are converted). IoError if it cannot be read; FormatError naming path and
/// the problem for a malformed file, missing or garbled metadata, a bad architecture, missing,
/// unexpected or misshapen tensors, non-finite weights (or F64 values beyond float range for
/// T = float), and bad standardisation. A training checkpoint is read as the model it holds
/// (io/checkpoint.hpp, model_from_checkpoint).
template <class T>
LoadedModel<T> load_model(const std::string& path);

/// Adds the network's tensors (names prefix + parameter name) to file.
template <class T>
void append_network_tensors(TensorFile& file, const nn::Network<T>& network, std::string_view prefix = "");

/// The network described by `architecture` with its parameters from file's tensors under
/// prefix. Checks each is present, F32 or F64, of the right shape and finite (after conversion
/// to T), and, when `exclusive`, that the file holds no other tensor under the prefix; throws
/// FormatError "<file>: tensor '<name>' ..." otherwise.
template <class T>
nn::Network<T> network_from_tensors(const TensorFile& file, const std::string& architecture, std::string_view prefix,
                                    std::string_view file_name, bool exclusive);

/// The "ebm" metadata string for info, and back; for checkpoint files that store a model's
/// description alongside other state. to_json throws InvalidArgument on inconsistent info;
/// from_json throws FormatError "<file_name>: ..." on anything malformed (the architecture
/// included, checked without allocating its parameters).
std::string model_info_to_json(const ModelInfo& info);
ModelInfo model_info_from_json(std::string_view text, std::string_view file_name);

extern template void save_model<float>(const std::string&, const nn::Network<float>&, const ModelInfo&);
extern template void save_model<double>(const std::string&, const nn::Network<double>&, const ModelInfo&);
extern template void save_model<float>(const std::string&, const Mlp<float>&, const ModelInfo&);
extern template void save_model<double>(const std::string&, const Mlp<double>&, const ModelInfo&);
extern template LoadedModel<float> load_model<float>(const std::string&);
extern template LoadedModel<double> load_model<double>(const std::string&);
extern template void append_network_tensors<float>(TensorFile&, const nn::Network<float>&, std::string_view);
extern template void append_network_tensors<double>(TensorFile&, const nn::Network<double>&, std::string_view);
extern template nn::Network<float> network_from_tensors<float>(const TensorFile&, const std::string&, std::string_view,
                                                               std::string_view, bool);
extern template nn::Network<double> network_from_tensors<double>(const TensorFile&, const std::string&, std::string_view,
                                                                 std::string_view, bool);

}  // namespace ebm::io
