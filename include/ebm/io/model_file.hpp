#pragma once
// MLP model files: safetensors (io/safetensors.hpp) that PyTorch loads directly. The tensors are
// named as the state_dict() of torch.nn.Sequential(Linear, Act, Linear, Act, ..., Linear):
// "0.weight" [H1, D], "0.bias" [H1], "2.weight" [H2, H1], "2.bias" [H2], ... (activations take the
// odd indices), F32 for Mlp<float>, F64 for Mlp<double>. The header's "__metadata__" holds
//
//   "format": "ebm-model"
//   "ebm":    a JSON string {"format_version": 1,
//                            "architecture": {"widths": [D, H1, ..., 1], "activation": "softplus"},
//                            "standardization": {"mean": [D], "scale": [D]} or null,
//                            "objective": "...", "step": 1000, "extra": {"key": "string", ...}}
//
// Other "__metadata__" keys are ignored on load. A checkpoint holds the same MLP tensors under a
// prefix next to tensors of its own: append_mlp_tensors / mlp_from_tensors.
#include <cstdint>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/safetensors.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ebm::io {

struct ModelInfo {
  MlpOptions architecture;  // widths and activation; seed is not stored (the weights are)
  // Standardisation of the data the model was trained on, x_std = (x - mean) / scale, applied
  // before the network; both empty if none, else both of length D with scale > 0.
  std::vector<double> data_mean, data_scale;
  std::string objective;  // e.g. "ssm"; free text
  std::int64_t step = 0;  // optimiser steps taken, >= 0
  std::map<std::string, std::string> extra;
};

template <class T>
struct LoadedModel {
  Mlp<T> mlp;
  ModelInfo info;
};

/// widths and activation of mlp (seed 0).
template <class T>
MlpOptions architecture_of(const Mlp<T>& mlp);

/// Writes mlp and info atomically. The architecture written is mlp's own (info.architecture
/// is ignored). Throws InvalidArgument for inconsistent standardisation or a negative step,
/// NumericalError naming the tensor for a non-finite parameter (the file would not load),
/// IoError when the file cannot be written.
template <class T>
void save_model(const std::string& path, const Mlp<T>& mlp, const ModelInfo& info);

/// Reads a model file written by save_model, from a float or double file whatever T (values
/// are converted). IoError if it cannot be read; FormatError naming path and the problem for a
/// malformed file, missing or garbled metadata, a bad architecture, missing, unexpected or
/// misshapen tensors, non-finite weights (or F64 values beyond float range for T = float), and
/// bad standardisation.
template <class T>
LoadedModel<T> load_model(const std::string& path);

/// The tensor names of an MLP with these widths: prefix + "0.weight", prefix + "0.bias", ...
std::vector<std::string> mlp_tensor_names(const MlpOptions& architecture, std::string_view prefix = "");

/// Adds mlp's tensors (names as mlp_tensor_names) to file.
template <class T>
void append_mlp_tensors(TensorFile& file, const Mlp<T>& mlp, std::string_view prefix = "");

/// The MLP with architecture's widths and activation from file's tensors under prefix. Checks
/// that each is present, F32 or F64, of the right shape and finite (after conversion to T);
/// throws FormatError "<file>: tensor '<name>' ..." otherwise. Other tensors are not looked at.
template <class T>
Mlp<T> mlp_from_tensors(const TensorFile& file, const MlpOptions& architecture, std::string_view prefix,
                        std::string_view file_name);

/// The "ebm" metadata string for info, and back; for checkpoint files that store a model's
/// description alongside other state. to_json throws InvalidArgument on inconsistent info;
/// from_json throws FormatError "<file_name>: ..." on anything malformed.
std::string model_info_to_json(const ModelInfo& info);
ModelInfo model_info_from_json(std::string_view text, std::string_view file_name);

extern template MlpOptions architecture_of<float>(const Mlp<float>&);
extern template MlpOptions architecture_of<double>(const Mlp<double>&);
extern template void save_model<float>(const std::string&, const Mlp<float>&, const ModelInfo&);
extern template void save_model<double>(const std::string&, const Mlp<double>&, const ModelInfo&);
extern template LoadedModel<float> load_model<float>(const std::string&);
extern template LoadedModel<double> load_model<double>(const std::string&);
extern template void append_mlp_tensors<float>(TensorFile&, const Mlp<float>&, std::string_view);
extern template void append_mlp_tensors<double>(TensorFile&, const Mlp<double>&, std::string_view);
extern template Mlp<float> mlp_from_tensors<float>(const TensorFile&, const MlpOptions&, std::string_view,
                                                   std::string_view);
extern template Mlp<double> mlp_from_tensors<double>(const TensorFile&, const MlpOptions&, std::string_view,
                                                     std::string_view);

}  // namespace ebm::io
