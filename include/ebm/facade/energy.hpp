#pragma once
// How a file becomes an energy on raw data: the policy every front end (the `ebm` command,
// Python, a C++ program) shares. A model file or checkpoint is wrapped in its standardisation
// and energy scale; a noise-conditional network is taken at its smallest noise level; an
// analytic energy comes from its JSON description. Chains start where the data were.
#include <ebm/energy/energy.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/sample/run.hpp>
#include <ebm/sample/samplers.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace ebm::facade {

/// An energy on raw coordinates, with what it was loaded from.
template <class T>
struct LoadedEnergy {
  std::string source;                  // the file, or "(json)" for a description given as text
  bool is_model = false;               // a model file or checkpoint (else an analytic energy)
  std::optional<AnyEnergy<T>> energy;  // E on raw x: N x D -> N (a conditional network: at its smallest sigma)
  std::shared_ptr<const nn::Network<T>> network;  // the bare network (models only)
  io::ModelInfo info;                  // models only
  T temperature = T(1);                // the model's energy is network / temperature (1 / info.energy_scale)

  Index dim() const { return energy->dim(); }
  bool conditional() const { return network && network->conditional(); }
  /// The model's standardisation statistics (1 x D each), when it was trained on standardised data.
  bool standardized() const { return !info.data_mean.empty(); }
  RowVec<T> mean() const;
  RowVec<T> scale() const;
  /// Energies (N) and, when `scores` is not null, scores (N x D) at raw points x (N x D).
  /// Thread-safe: calls from several threads take turns (each call is parallel inside); throws
  /// InvalidArgument for a wrong D.
  void evaluate(const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) const;
  /// The same at n x d points stored row by row from x, read where they are (a model's network).
  void evaluate_rows(const T* x, Index n, Index d, Vec<T>& energies, Mat<T>* scores) const;
  /// s(x, sigma) on raw coordinates of a conditional model (InvalidArgument otherwise).
  NoiseConditionalScore<T> noise_conditional_score() const;

 private:
  struct Evaluation {
    std::mutex mutex;
    EnergyEvaluator<T> evaluator;
  };
  std::shared_ptr<Evaluation> evaluation_ = std::make_shared<Evaluation>();
};

/// A model file (io::save_model) or a training checkpoint (io::save_checkpoint), values converted
/// to T. IoError / FormatError naming the file, as io::load_model.
template <class T>
LoadedEnergy<T> load_model(const std::string& path);
/// A network held in memory (just trained, say) with its metadata, as load_model would give it
/// from the file io::save_model writes. FormatError for a conditional network without noise levels.
template <class T>
LoadedEnergy<T> model_energy(nn::Network<T> network, io::ModelInfo info, const std::string& source);
/// The same model in precision U (parameters converted; metadata and source kept). InvalidArgument
/// for an energy that is not a model (an analytic or user-written one exists in one precision).
template <class U, class T>
LoadedEnergy<U> in_precision(const LoadedEnergy<T>& e);
/// An analytic energy described in a JSON file (energy/json.hpp); FormatError naming the file.
template <class T>
LoadedEnergy<T> load_energy_json(const std::string& path);
/// The same from JSON text; `source` names it in errors.
template <class T>
LoadedEnergy<T> energy_from_json_text(const std::string& text, const std::string& source = "(json)");
/// An energy built by the caller (a C++ struct, a Python callable), `dim` columns, no metadata.
template <class T>
LoadedEnergy<T> wrap_energy(AnyEnergy<T> energy, const std::string& source);

/// Initial chain states: N(centre, (init_scale * spread)^2) per coordinate, where centre and
/// spread are the model's standardisation (0 and 1 otherwise), so chains start where the data
/// were. Chain c's draws are keyed by (seed, c), as every sampler keys its own: the same chain
/// starts at the same point whatever the number of chains. init_scale > 0.
template <class T>
Initialization<T> data_initialization(const LoadedEnergy<T>& e, Index chains, double init_scale, std::uint64_t seed);

/// Tweedie's formula E[x | x~] = x~ + sigma^2 s(x~, sigma) in the coordinates the model was
/// trained in (so raw coordinate j moves by sigma^2 scale_j^2 s_j). x: N x D, in place.
template <class T>
void denoise(const LoadedEnergy<T>& e, T sigma, Mat<T>& x);

/// "mlp:128x128:softplus" -> the MLP's architecture JSON for inputs of dimension dim; any other
/// text is a path to an architecture file (docs/networks.md), whose content is returned.
/// InvalidArgument for a bad spec ("model: expected mlp[:WIDTHx...]..."), IoError for a file
/// that cannot be read.
std::string architecture_text(const std::string& spec, Index dim);
/// True when architecture_text reads `spec` as a file.
bool architecture_is_file(const std::string& spec);

}  // namespace ebm::facade
