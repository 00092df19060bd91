#include <cmath>
#include <cstring>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/io/checkpoint.hpp>
#include <ebm/io/model_file.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../core/json_text.hpp"

namespace ebm::io {
namespace {

using json = nlohmann::json;

constexpr int kFormatVersion = 2;
constexpr const char* kFormat = "ebm-model";

std::string preview(const json& v) { return ebm::detail::json_preview(v); }

std::string describe(const json& v) {
  if (v.is_null()) return "null";
  return std::string(v.type_name()) + " " + preview(v);
}

// Reads the "ebm" metadata object; every error is FormatError("<file>: ebm metadata: ...").
class InfoReader {
 public:
  explicit InfoReader(std::string_view file) : where_(std::string(file) + ": ebm metadata: ") {}

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(where_ + what); }

  const json& field(const json& obj, const char* key, const std::string& path) const {
    if (!obj.contains(key)) fail("missing field \"" + path + "\"");
    return obj[key];
  }

  void only(const json& obj, std::initializer_list<const char*> keys, const std::string& path) const {
    for (const auto& [key, unused] : obj.items()) {
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) fail("unknown field \"" + (path.empty() ? "" : path + ".") + key + "\"");
    }
  }

  std::int64_t integer(const json& v, const std::string& path, std::int64_t min) const {
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT64_MAX)) ||
        v.get<std::int64_t>() < min)
      fail("\"" + path + "\" is " + describe(v) + ", expected an integer >= " + std::to_string(min));
    return v.get<std::int64_t>();
  }

  std::vector<double> numbers(const json& v, const std::string& path) const {
    if (!v.is_array()) fail("\"" + path + "\" is " + describe(v) + ", expected a list of numbers");
    std::vector<double> out;
    for (const json& x : v) {
      if (!x.is_number()) fail("\"" + path + "\" has entry " + describe(x) + ", expected a number");
      out.push_back(x.get<double>());
    }
    return out;
  }

  ModelInfo read(std::string_view text) const;

 private:
  std::string where_;
};

ModelInfo InfoReader::read(std::string_view text) const {
  // Nesting is bounded (a network description nests layers in residual bodies); deeper input is
  // refused as it is read.
  int depth = 0;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json&) {
    using E = json::parse_event_t;
    if ((event == E::object_start || event == E::array_start) && ++depth > 32) fail("nests deeper than 32 levels");
    if (event == E::object_end || event == E::array_end) --depth;
    return true;
  };
  json j;
  try {
    j = json::parse(text, callback);
  } catch (const json::exception& e) {
    const char* rest = std::strstr(e.what(), "] ");
    fail(std::string("not valid JSON: ") + (rest ? rest + 2 : e.what()));
  }
  if (!j.is_object()) fail("is " + describe(j) + ", expected an object");
  const json& version = field(j, "format_version", "format_version");
  if (!version.is_number_integer() || (version.get<std::int64_t>() != 1 && version.get<std::int64_t>() != kFormatVersion))
    fail("unsupported format_version " + preview(version) + " (this ebm reads 1 and " + std::to_string(kFormatVersion) + ")");
  const bool v1 = version.get<std::int64_t>() == 1;
  if (v1) only(j, {"format_version", "architecture", "standardization", "objective", "step", "extra"}, "");
  else
    only(j, {"format_version", "architecture", "standardization", "energy_scale", "noise_levels", "objective", "step", "extra"}, "");

  ModelInfo info;
  const json& arch = field(j, "architecture", "architecture");
  if (!arch.is_object()) fail("\"architecture\" is " + describe(arch) + ", expected an object");
  json description = arch;
  if (v1) {  // {"widths": [...], "activation": "..."}: an MLP
    only(arch, {"widths", "activation"}, "architecture");
    const json& widths = field(arch, "widths", "architecture.widths");
    if (!widths.is_array()) fail("\"architecture.widths\" is " + describe(widths) + ", expected a list of integers");
    const json& act = field(arch, "activation", "architecture.activation");
    if (!act.is_string()) fail("\"architecture.activation\" is " + describe(act) + ", expected a string");
    description = {{"type", "mlp"}, {"widths", widths}, {"activation", act}};
  }
  nn::ArchitectureSummary summary;
  try {
    summary = nn::inspect_architecture(description.dump(), "architecture");
  } catch (const InvalidArgument& e) {
    fail(e.what());
  }
  info.architecture = summary.canonical;
  const auto dim = static_cast<std::size_t>(summary.dim);

  const json& stdz = field(j, "standardization", "standardization");
  if (!stdz.is_null()) {
    if (!stdz.is_object()) fail("\"standardization\" is " + describe(stdz) + ", expected an object or null");
    only(stdz, {"mean", "scale"}, "standardization");
    info.data_mean = numbers(field(stdz, "mean", "standardization.mean"), "standardization.mean");
    info.data_scale = numbers(field(stdz, "scale", "standardization.scale"), "standardization.scale");
    if (info.data_mean.size() != dim || info.data_scale.size() != dim)
      fail("standardization has " + std::to_string(info.data_mean.size()) + " means and " +
           std::to_string(info.data_scale.size()) + " scales, expected " + std::to_string(dim) + " (the input width)");
    for (std::size_t k = 0; k < dim; ++k) {
      // JSON has no inf or NaN and nlohmann rejects 1e999; checked all the same.
      if (!std::isfinite(info.data_mean[k])) fail("standardization.mean[" + std::to_string(k) + "] is not finite");
      if (!(std::isfinite(info.data_scale[k]) && info.data_scale[k] > 0))
        fail("standardization.scale[" + std::to_string(k) + "] is " + json(info.data_scale[k]).dump() +
             ", expected a finite value > 0");
    }
  }

  const json& objective = field(j, "objective", "objective");
  if (!objective.is_string()) fail("\"objective\" is " + describe(objective) + ", expected a string");
  info.objective = objective.get<std::string>();
  info.step = integer(field(j, "step", "step"), "step", 0);
  if (j.contains("energy_scale")) {
    const json& v = j.at("energy_scale");
    if (!v.is_number() || !(v.get<double>() > 0)) fail("\"energy_scale\" is " + describe(v) + ", expected a number > 0");
    info.energy_scale = v.get<double>();
  }
  if (j.contains("noise_levels")) {
    info.noise_levels = numbers(j.at("noise_levels"), "noise_levels");
    for (std::size_t k = 0; k < info.noise_levels.size(); ++k)
      if (!(info.noise_levels[k] > 0) || (k > 0 && !(info.noise_levels[k] < info.noise_levels[k - 1])))
        fail("\"noise_levels\" must be positive and decreasing, got " + preview(j.at("noise_levels")));
  }

  const json& extra = field(j, "extra", "extra");
  if (!extra.is_object()) fail("\"extra\" is " + describe(extra) + ", expected an object of strings");
  for (const auto& [key, value] : extra.items()) {
    if (!value.is_string()) fail("\"extra." + key + "\" is " + describe(value) + ", expected a string");
    info.extra[key] = value.get<std::string>();
  }
  if (v1) {  // version 1 kept a ladder's temperature as text
    if (const auto t = info.extra.find("temperature"); t != info.extra.end()) {
      char* end = nullptr;
      const double v = std::strtod(t->second.c_str(), &end);
      if (end == t->second.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0)
        fail("\"extra.temperature\" must be a positive number, got '" + t->second + "'");
      info.energy_scale = 1 / v;
      info.extra.erase(t);
    }
  }
  return info;
}

// Checks info and returns what its architecture declares.
nn::ArchitectureSummary validate_info(const ModelInfo& info, std::string_view where) {
  nn::ArchitectureSummary summary = nn::inspect_architecture(info.architecture, std::string(where) + ": architecture");
  const auto dim = static_cast<std::size_t>(summary.dim);
  require(info.step >= 0, where, [&] { return "step is " + std::to_string(info.step) + ", must be >= 0"; });
  require(std::isfinite(info.energy_scale) && info.energy_scale > 0, where,
          [&] {
            std::ostringstream s;
            s << "energy_scale is " << info.energy_scale << ", must be finite and > 0";
            return s.str();
          });
  for (std::size_t k = 0; k < info.noise_levels.size(); ++k)
    require(std::isfinite(info.noise_levels[k]) && info.noise_levels[k] > 0 &&
                (k == 0 || info.noise_levels[k] < info.noise_levels[k - 1]),
            where, "noise_levels must be finite, > 0 and decreasing");
  if (info.data_mean.empty() && info.data_scale.empty()) return summary;
  require(info.data_mean.size() == dim && info.data_scale.size() == dim, where, [&] {
    return "data_mean has " + std::to_string(info.data_mean.size()) + " entries and data_scale " +
           std::to_string(info.data_scale.size()) + ", expected both " + std::to_string(dim) +
           " (the input width) or both empty";
  });
  for (std::size_t k = 0; k < dim; ++k) {
    require(std::isfinite(info.data_mean[k]), where,
            [&] { return "data_mean[" + std::to_string(k) + "] is not finite"; });
    require(std::isfinite(info.data_scale[k]) && info.data_scale[k] > 0, where, [&] {
      std::ostringstream s;
      s << "data_scale[" << k << "] is " << info.data_scale[k] << ", must be finite and > 0";
      return s.str();
    });
  }
  return summary;
}

// The first non-finite entry of m, as FormatError naming the tensor.
template <class T>
void require_finite_tensor(const Mat<T>& m, bool one_d, std::string_view file, const std::string& name,
                           const char* after) {
  for (Index k = 0; k < m.size(); ++k) {
    if (!std::isfinite(m.data()[k])) {
      std::ostringstream s;
      s << file << ": tensor '" << name << "' has non-finite value " << m.data()[k] << after << " at index "
        << (one_d ? "[" + std::to_string(k) + "]"
                  : "[" + std::to_string(k / m.cols()) + ", " + std::to_string(k % m.cols()) + "]");
      throw FormatError(s.str());
    }
  }
}

// A weight or bias as T: finite in the file, and still finite after conversion.
template <class T>
Mat<T> finite_parameter(const Tensor& t, Index rows, Index cols, bool is_bias, std::string_view file) {
  const MatD stored = is_bias ? to_row<double>(t, rows, file) : to_matrix<double>(t, rows, cols, file);
  require_finite_tensor(stored, is_bias, file, t.name, "");
  Mat<T> m = stored.template cast<T>();
  if constexpr (!std::is_same_v<T, double>)
    require_finite_tensor(m, is_bias, file, t.name, " after conversion to float32");
  return m;
}

}  // namespace

template <class T>
void append_network_tensors(TensorFile& file, const nn::Network<T>& network, std::string_view prefix) {
  const auto& specs = network.parameter_specs();
  const auto& values = network.parameter_values();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const std::string name = std::string(prefix) + specs[k].name;
    file.tensors.push_back(specs[k].vector ? tensor_from_row(name, values[k]) : tensor_from(name, values[k]));
  }
}

template <class T>
nn::Network<T> network_from_tensors(const TensorFile& file, const std::string& architecture, std::string_view prefix,
                                    std::string_view file_name, bool exclusive) {
  nn::ArchitectureSummary summary;
  try {
    summary = nn::inspect_architecture(architecture, std::string(file_name) + ": architecture");
  } catch (const InvalidArgument& e) {
    throw FormatError(e.what());
  }
  std::set<std::string> expected;
  for (const auto& spec : summary.parameters) expected.insert(std::string(prefix) + spec.name);
  if (exclusive)
    for (const Tensor& t : file.tensors)
      if (t.name.starts_with(prefix) && !expected.count(t.name))
        throw FormatError(std::string(file_name) + ": unexpected tensor '" + t.name + "' (the architecture has " +
                          std::to_string(expected.size()) + " tensors)");
  // Every tensor is checked (and so its size bounded by the file's) before the network is
  // built: sizes from a hostile header must not decide an allocation.
  std::vector<Mat<T>> params;
  for (const auto& spec : summary.parameters)
    params.push_back(finite_parameter<T>(file.at(std::string(prefix) + spec.name, file_name),
                                         spec.vector ? spec.cols : spec.rows, spec.cols, spec.vector, file_name));
  nn::Network<T> network = nn::Network<T>::from_json(summary.canonical, 0);
  network.edit_parameters([&](const std::vector<Mat<T>*>& p) {
    for (std::size_t k = 0; k < p.size(); ++k) *p[k] = std::move(params[k]);
  });
  return network;
}

std::string model_info_to_json(const ModelInfo& info) {
  const nn::ArchitectureSummary summary = validate_info(info, "model_info_to_json");
  json j = {{"format_version", kFormatVersion},
            {"architecture", json::parse(summary.canonical)},
            {"standardization", nullptr},
            {"energy_scale", info.energy_scale},
            {"objective", info.objective},
            {"step", info.step},
            {"extra", json::object()}};
  if (!info.noise_levels.empty()) j["noise_levels"] = info.noise_levels;
  if (!info.data_mean.empty()) j["standardization"] = {{"mean", info.data_mean}, {"scale", info.data_scale}};
  for (const auto& [key, value] : info.extra) j["extra"][key] = value;
  try {
    return j.dump();  // doubles are written with the shortest text that reads back to the same bits
  } catch (const json::exception&) {
    throw InvalidArgument("model_info_to_json: objective or an extra key or value is not valid UTF-8");
  }
}

ModelInfo model_info_from_json(std::string_view text, std::string_view file_name) {
  return InfoReader(file_name).read(text);
}

template <class T>
void save_model(const std::string& path, const nn::Network<T>& network, const ModelInfo& info) {
  ModelInfo written = info;
  written.architecture = network.architecture();
  validate_info(written, "save_model: " + path);
  TensorFile file;
  file.metadata["format"] = kFormat;
  file.metadata["ebm"] = model_info_to_json(written);
  const auto& specs = network.parameter_specs();
  for (std::size_t k = 0; k < specs.size(); ++k)
    require_finite(network.parameter_values()[k], "save_model: " + path, "tensor '" + specs[k].name + "'");
  append_network_tensors(file, network, "");
  write_safetensors(path, file);
}

template <class T>
void save_model(const std::string& path, const Mlp<T>& mlp, const ModelInfo& info) {
  save_model(path, to_network(mlp), info);
}

template <class T>
LoadedModel<T> load_model(const std::string& path) {
  const std::string where = "load_model: " + path;
  const TensorFile file = read_safetensors(path);
  const auto format = file.metadata.find("format");
  if (format != file.metadata.end() && format->second == "ebm-checkpoint") return model_from_checkpoint<T>(path);
  if (format == file.metadata.end())
    throw FormatError(where + ": not an ebm model file (no \"format\" in __metadata__)");
  if (format->second != kFormat)
    throw FormatError(where + ": not an ebm model file (__metadata__ \"format\" is \"" + format->second +
                      "\", expected \"" + kFormat + "\")");
  const auto text = file.metadata.find("ebm");
  if (text == file.metadata.end()) throw FormatError(where + ": no \"ebm\" entry in __metadata__");
  ModelInfo info = model_info_from_json(text->second, where);
  nn::Network<T> network = network_from_tensors<T>(file, info.architecture, "", where, true);
  return {std::move(network), std::move(info)};
}

#define EBM_INSTANTIATE(T)                                                                                     \
  template void save_model<T>(const std::string&, const nn::Network<T>&, const ModelInfo&);                   \
  template void save_model<T>(const std::string&, const Mlp<T>&, const ModelInfo&);                           \
  template LoadedModel<T> load_model<T>(const std::string&);                                                  \
  template void append_network_tensors<T>(TensorFile&, const nn::Network<T>&, std::string_view);              \
  template nn::Network<T> network_from_tensors<T>(const TensorFile&, const std::string&, std::string_view,     \
                                                  std::string_view, bool);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm::io
