#include <cmath>
#include <cstring>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/io/model_file.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "json_preview.hpp"

namespace ebm::io {
namespace {

using json = nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr const char* kFormat = "ebm-model";

std::string preview(const json& v) { return detail::json_preview(v); }

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
  // At most three levels (object, architecture, widths); deeper nesting is refused as it is read.
  int depth = 0;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json&) {
    using E = json::parse_event_t;
    if ((event == E::object_start || event == E::array_start) && ++depth > 3) fail("nests deeper than 3 levels");
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
  only(j, {"format_version", "architecture", "standardization", "objective", "step", "extra"}, "");

  const json& version = field(j, "format_version", "format_version");
  if (!version.is_number_integer() || version.get<std::int64_t>() != kFormatVersion)
    fail("unsupported format_version " + preview(version) + " (this ebm reads " + std::to_string(kFormatVersion) + ")");

  ModelInfo info;
  const json& arch = field(j, "architecture", "architecture");
  if (!arch.is_object()) fail("\"architecture\" is " + describe(arch) + ", expected an object");
  only(arch, {"widths", "activation"}, "architecture");
  const json& widths = field(arch, "widths", "architecture.widths");
  if (!widths.is_array()) fail("\"architecture.widths\" is " + describe(widths) + ", expected a list of integers");
  info.architecture.widths.clear();
  for (const json& w : widths) info.architecture.widths.push_back(integer(w, "architecture.widths", 1));
  const json& act = field(arch, "activation", "architecture.activation");
  if (!act.is_string()) fail("\"architecture.activation\" is " + describe(act) + ", expected a string");
  try {
    info.architecture.activation = parse_activation(act.get<std::string>());
    info.architecture.validate();
  } catch (const InvalidArgument& e) {
    fail(e.what());
  }
  const auto dim = static_cast<std::size_t>(info.architecture.widths.front());

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

  const json& extra = field(j, "extra", "extra");
  if (!extra.is_object()) fail("\"extra\" is " + describe(extra) + ", expected an object of strings");
  for (const auto& [key, value] : extra.items()) {
    if (!value.is_string()) fail("\"extra." + key + "\" is " + describe(value) + ", expected a string");
    info.extra[key] = value.get<std::string>();
  }
  return info;
}

void validate_info(const ModelInfo& info, std::string_view where) {
  const auto dim = static_cast<std::size_t>(info.architecture.widths.empty() ? 0 : info.architecture.widths.front());
  require(info.step >= 0, where, [&] { return "step is " + std::to_string(info.step) + ", must be >= 0"; });
  if (info.data_mean.empty() && info.data_scale.empty()) return;
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
MlpOptions architecture_of(const Mlp<T>& mlp) {
  MlpOptions options;
  options.widths = {mlp.dim()};
  for (Index l = 0; l < mlp.layers(); ++l) options.widths.push_back(mlp.weight(l).rows());
  options.activation = mlp.activation();
  options.seed = 0;
  return options;
}

std::vector<std::string> mlp_tensor_names(const MlpOptions& architecture, std::string_view prefix) {
  std::vector<std::string> names;
  for (std::size_t l = 0; l + 1 < architecture.widths.size(); ++l) {
    names.push_back(std::string(prefix) + std::to_string(2 * l) + ".weight");
    names.push_back(std::string(prefix) + std::to_string(2 * l) + ".bias");
  }
  return names;
}

template <class T>
void append_mlp_tensors(TensorFile& file, const Mlp<T>& mlp, std::string_view prefix) {
  const std::vector<std::string> names = mlp_tensor_names(architecture_of(mlp), prefix);
  for (Index l = 0; l < mlp.layers(); ++l) {
    const auto k = static_cast<std::size_t>(2 * l);
    file.tensors.push_back(tensor_from(names[k], mlp.weight(l)));
    file.tensors.push_back(tensor_from_row(names[k + 1], mlp.bias(l)));
  }
}

template <class T>
Mlp<T> mlp_from_tensors(const TensorFile& file, const MlpOptions& architecture, std::string_view prefix,
                        std::string_view file_name) {
  architecture.validate();
  const std::vector<std::string> names = mlp_tensor_names(architecture, prefix);
  // Every tensor is checked (and so its size bounded by the file's) before the Mlp is built:
  // widths from a hostile header must not decide an allocation.
  std::vector<Mat<T>> params;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::size_t l = k / 2;
    const Index in = architecture.widths[l], out = architecture.widths[l + 1];
    params.push_back(finite_parameter<T>(file.at(names[k], file_name), out, in, k % 2 == 1, file_name));
  }
  MlpOptions options = architecture;
  options.seed = 0;
  Mlp<T> mlp(options);
  mlp.edit_parameters([&](const std::vector<Mat<T>*>& p) {
    for (std::size_t k = 0; k < p.size(); ++k) *p[k] = std::move(params[k]);
  });
  return mlp;
}

std::string model_info_to_json(const ModelInfo& info) {
  info.architecture.validate();
  validate_info(info, "model_info_to_json");
  json widths = json::array();
  for (Index w : info.architecture.widths) widths.push_back(static_cast<std::int64_t>(w));
  json j = {{"format_version", kFormatVersion},
            {"architecture",
             {{"widths", widths}, {"activation", std::string(activation_name(info.architecture.activation))}}},
            {"standardization", nullptr},
            {"objective", info.objective},
            {"step", info.step},
            {"extra", json::object()}};
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
void save_model(const std::string& path, const Mlp<T>& mlp, const ModelInfo& info) {
  ModelInfo written = info;
  written.architecture = architecture_of(mlp);
  validate_info(written, "save_model: " + path);
  TensorFile file;
  file.metadata["format"] = kFormat;
  file.metadata["ebm"] = model_info_to_json(written);
  append_mlp_tensors(file, mlp, "");
  const std::vector<std::string> names = mlp_tensor_names(written.architecture);
  for (Index l = 0; l < mlp.layers(); ++l) {
    const auto k = static_cast<std::size_t>(2 * l);
    require_finite(mlp.weight(l), "save_model: " + path, "tensor '" + names[k] + "'");
    require_finite(mlp.bias(l), "save_model: " + path, "tensor '" + names[k + 1] + "'");
  }
  write_safetensors(path, file);
}

template <class T>
LoadedModel<T> load_model(const std::string& path) {
  const std::string where = "load_model: " + path;
  const TensorFile file = read_safetensors(path);
  const auto format = file.metadata.find("format");
  if (format == file.metadata.end())
    throw FormatError(where + ": not an ebm model file (no \"format\" in __metadata__)");
  if (format->second != kFormat)
    throw FormatError(where + ": not an ebm model file (__metadata__ \"format\" is \"" + format->second +
                      "\", expected \"" + kFormat + "\")");
  const auto text = file.metadata.find("ebm");
  if (text == file.metadata.end()) throw FormatError(where + ": no \"ebm\" entry in __metadata__");
  ModelInfo info = model_info_from_json(text->second, where);

  const std::vector<std::string> names = mlp_tensor_names(info.architecture);
  const std::set<std::string> expected(names.begin(), names.end());
  for (const Tensor& t : file.tensors)
    if (!expected.count(t.name))
      throw FormatError(where + ": unexpected tensor '" + t.name + "' (the architecture has " +
                        std::to_string(names.size()) + " tensors, 0.weight to " + names.back() + ")");
  Mlp<T> mlp = mlp_from_tensors<T>(file, info.architecture, "", where);
  return {std::move(mlp), std::move(info)};
}

template MlpOptions architecture_of<float>(const Mlp<float>&);
template MlpOptions architecture_of<double>(const Mlp<double>&);
template void save_model<float>(const std::string&, const Mlp<float>&, const ModelInfo&);
template void save_model<double>(const std::string&, const Mlp<double>&, const ModelInfo&);
template LoadedModel<float> load_model<float>(const std::string&);
template LoadedModel<double> load_model<double>(const std::string&);
template void append_mlp_tensors<float>(TensorFile&, const Mlp<float>&, std::string_view);
template void append_mlp_tensors<double>(TensorFile&, const Mlp<double>&, std::string_view);
template Mlp<float> mlp_from_tensors<float>(const TensorFile&, const MlpOptions&, std::string_view, std::string_view);
template Mlp<double> mlp_from_tensors<double>(const TensorFile&, const MlpOptions&, std::string_view, std::string_view);

}  // namespace ebm::io
