#include <ebm/facade/energy.hpp>

#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/json.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/energy/standardized.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <type_traits>
#include <vector>

namespace ebm::facade {
namespace {

constexpr std::uint64_t kInitCounter = std::uint64_t{1} << 63;  // as the samplers' own initial draws

template <class T>
RowVec<T> row_of(const std::vector<double>& v) {
  RowVec<T> r(static_cast<Index>(v.size()));
  for (Index j = 0; j < r.cols(); ++j) r(j) = static_cast<T>(v[static_cast<std::size_t>(j)]);
  return r;
}

template <class T, class E>
AnyEnergy<T> with_temperature(E e, T temperature, const std::string& name) {
  if (temperature == T(1)) return AnyEnergy<T>(std::move(e), name);
  return AnyEnergy<T>(Tempered<E, T>(std::move(e), temperature), name);
}

// The energy on raw coordinates: standardised as trained, divided by the temperature.
template <class T, class E>
AnyEnergy<T> on_raw_coordinates(const LoadedEnergy<T>& out, E e) {
  if (!out.standardized()) return with_temperature<T>(std::move(e), out.temperature, "model");
  return with_temperature<T>(Standardized<E, T>(std::move(e), out.mean(), out.scale()), out.temperature, "model");
}

MlpOptions parse_mlp_spec(const std::string& text, Index dim) {
  const std::string usage = "model: expected mlp[:WIDTHxWIDTH...][:ACTIVATION] (e.g. mlp:128x128:softplus), got '" + text + "'";
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = std::min(text.find(':', start), text.size());
    parts.push_back(text.substr(start, end - start));
    if (end >= text.size()) break;
    start = end + 1;
  }
  if (parts.empty() || parts[0] != "mlp" || parts.size() > 3) throw InvalidArgument(usage);
  MlpOptions o;
  o.widths = {dim};
  std::vector<Index> hidden = {128, 128};
  if (parts.size() >= 2) {
    hidden.clear();
    const std::string& w = parts[1];
    for (std::size_t s = 0;;) {
      const std::size_t e = std::min(w.find('x', s), w.size());
      const std::string token = w.substr(s, e - s);
      long long v = 0;
      const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
      if (token.empty() || ec != std::errc() || ptr != token.data() + token.size() || v < 1 || v > 1000000)
        throw InvalidArgument(usage + " (bad width '" + token + "')");
      hidden.push_back(static_cast<Index>(v));
      if (e >= w.size()) break;
      s = e + 1;
    }
  }
  for (Index h : hidden) o.widths.push_back(h);
  o.widths.push_back(1);
  if (parts.size() == 3) {
    try {
      o.activation = parse_activation(parts[2]);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("model: " + std::string(e.what()));
    }
  }
  return o;
}

}  // namespace

template <class T>
RowVec<T> LoadedEnergy<T>::mean() const {
  return row_of<T>(info.data_mean);
}
template <class T>
RowVec<T> LoadedEnergy<T>::scale() const {
  return row_of<T>(info.data_scale);
}

template <class T>
void LoadedEnergy<T>::evaluate(const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) const {
  const std::lock_guard<std::mutex> lock(evaluation_->mutex);
  energy->evaluate(evaluation_->evaluator, x, energies, scores);
}

template <class T>
void LoadedEnergy<T>::evaluate_rows(const T* x, Index n, Index d, Vec<T>& energies, Mat<T>* scores) const {
  const std::lock_guard<std::mutex> lock(evaluation_->mutex);
  energy->evaluate_rows(evaluation_->evaluator, x, n, d, &energies, scores);
}

template <class T>
NoiseConditionalScore<T> LoadedEnergy<T>::noise_conditional_score() const {
  if (!conditional()) throw InvalidArgument(source + ": not a noise-conditional model");
  auto evaluator = std::make_shared<EnergyEvaluator<T>>();
  const std::shared_ptr<const nn::Network<T>> net = network;
  const bool standardized_ = standardized();
  const RowVec<T> m = mean(), s = scale();
  return [net, evaluator, standardized_, m, s](const Mat<T>& x, T sigma, Mat<T>& scores) {
    const nn::AtNoiseLevel<T> level{net, sigma};
    if (standardized_) evaluator->evaluate(Standardized<nn::AtNoiseLevel<T>, T>(level, m, s), x, nullptr, &scores);
    else evaluator->evaluate(level, x, nullptr, &scores);
  };
}

template <class T>
LoadedEnergy<T> load_model(const std::string& path) {
  io::LoadedModel<T> loaded = io::load_model<T>(path);
  return model_energy<T>(std::move(loaded.network), std::move(loaded.info), path);
}

template <class T>
LoadedEnergy<T> model_energy(nn::Network<T> network, io::ModelInfo info, const std::string& source) {
  LoadedEnergy<T> out;
  out.source = source;
  out.is_model = true;
  out.info = std::move(info);
  out.temperature = static_cast<T>(1 / out.info.energy_scale);
  out.network = std::make_shared<const nn::Network<T>>(std::move(network));
  if (out.network->conditional()) {
    if (out.info.noise_levels.empty())
      throw FormatError(source + ": a noise-conditional network without \"noise_levels\" in its metadata");
    out.energy.emplace(on_raw_coordinates(out, nn::AtNoiseLevel<T>{out.network, static_cast<T>(out.info.noise_levels.back())}));
  } else {
    out.energy.emplace(on_raw_coordinates(out, *out.network));
  }
  return out;
}

template <class U, class T>
LoadedEnergy<U> in_precision(const LoadedEnergy<T>& e) {
  if constexpr (std::is_same_v<U, T>) {
    return e;
  } else {
    if (!e.is_model) throw InvalidArgument(e.source + ": this energy exists in one precision only; create it in the one needed");
    nn::Network<U> net = nn::Network<U>::from_json(e.network->architecture(), 0, e.source);
    const std::vector<Mat<T>>& values = e.network->parameter_values();
    net.edit_parameters([&](std::vector<Mat<U>*>& p) {
      for (std::size_t i = 0; i < p.size(); ++i) *p[i] = values[i].template cast<U>();
    });
    return model_energy<U>(std::move(net), e.info, e.source);
  }
}

template <class T>
LoadedEnergy<T> load_energy_json(const std::string& path) {
  try {
    return wrap_energy<T>(energy_from_json_file<T>(path), path);
  } catch (const InvalidArgument& e) {
    throw FormatError(e.what());  // a bad description is bad file content; the message names the file
  }
}

template <class T>
LoadedEnergy<T> energy_from_json_text(const std::string& text, const std::string& source) {
  return wrap_energy<T>(energy_from_json<T>(text), source);
}

template <class T>
LoadedEnergy<T> wrap_energy(AnyEnergy<T> energy, const std::string& source) {
  LoadedEnergy<T> out;
  out.source = source;
  out.energy.emplace(std::move(energy));
  return out;
}

template <class T>
Initialization<T> data_initialization(const LoadedEnergy<T>& e, Index chains, double init_scale, std::uint64_t seed) {
  if (!(init_scale > 0 && std::isfinite(init_scale)))
    throw InvalidArgument("init_scale: must be > 0, got " + std::to_string(init_scale));
  Initialization<T> init;
  if (!e.standardized()) {
    init.kind = Initialization<T>::Kind::Gaussian;
    init.scale = static_cast<T>(init_scale);
    return init;
  }
  const Index d = e.dim();
  init.kind = Initialization<T>::Kind::Points;
  init.points.resize(chains, d);
  const RowVec<T> mean = e.mean(), scale = e.scale();
  for (Index c = 0; c < chains; ++c) {
    CounterRng(seed, static_cast<std::uint64_t>(c))
        .normal<T>(kInitCounter, std::span<T>(init.points.row(c).data(), static_cast<std::size_t>(d)));
    init.points.row(c) = (init.points.row(c).array() * scale.array() * static_cast<T>(init_scale) + mean.array()).matrix();
  }
  return init;
}

template <class T>
void denoise(const LoadedEnergy<T>& e, T sigma, Mat<T>& x) {
  if (x.rows() == 0) return;
  Mat<T> s;
  e.noise_conditional_score()(x, sigma, s);
  RowVec<T> variance = RowVec<T>::Constant(x.cols(), sigma * sigma);
  if (e.standardized()) variance = (variance.array() * e.scale().array().square()).matrix();
  x += (s.array().rowwise() * variance.array()).matrix();
}

bool architecture_is_file(const std::string& spec) {
  return spec.rfind("mlp", 0) != 0 || std::filesystem::exists(spec);
}

std::string architecture_text(const std::string& spec, Index dim) {
  if (!architecture_is_file(spec)) {
    const MlpOptions o = parse_mlp_spec(spec, dim);
    return nn::mlp_architecture(o.widths, activation_name(o.activation));
  }
  std::ifstream in(spec, std::ios::binary);
  if (!in)
    throw IoError("model: cannot read '" + spec + "' (" + std::strerror(errno) + "); give mlp:WIDTHx... or an architecture file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

#define EBM_FACADE_INSTANTIATE(T)                                                                           \
  template struct LoadedEnergy<T>;                                                                          \
  template LoadedEnergy<T> load_model<T>(const std::string&);                                               \
  template LoadedEnergy<T> model_energy<T>(nn::Network<T>, io::ModelInfo, const std::string&);              \
  template LoadedEnergy<T> load_energy_json<T>(const std::string&);                                         \
  template LoadedEnergy<T> energy_from_json_text<T>(const std::string&, const std::string&);               \
  template LoadedEnergy<T> wrap_energy<T>(AnyEnergy<T>, const std::string&);                                \
  template Initialization<T> data_initialization<T>(const LoadedEnergy<T>&, Index, double, std::uint64_t); \
  template void denoise<T>(const LoadedEnergy<T>&, T, Mat<T>&);
EBM_FACADE_INSTANTIATE(float)
EBM_FACADE_INSTANTIATE(double)
#undef EBM_FACADE_INSTANTIATE
template LoadedEnergy<float> in_precision<float, float>(const LoadedEnergy<float>&);
template LoadedEnergy<float> in_precision<float, double>(const LoadedEnergy<double>&);
template LoadedEnergy<double> in_precision<double, float>(const LoadedEnergy<float>&);
template LoadedEnergy<double> in_precision<double, double>(const LoadedEnergy<double>&);

}  // namespace ebm::facade
