#include <ebm/core/error.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/json.hpp>

#include <nlohmann/json.hpp>

#include "../core/json_text.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace ebm {
namespace {

using json = nlohmann::json;

struct TypeSpec {
  const char* name;
  std::vector<std::string> fields;  // besides "type" and "temperature"
};

const std::vector<TypeSpec>& type_specs() {
  static const std::vector<TypeSpec> specs = {
      {"gaussian", {"mean", "cov"}},      {"gmm", {"weights", "means", "covs"}}, {"double_well", {"dim", "a", "c"}},
      {"rosenbrock", {"a", "b"}},         {"ring", {"radius", "width"}},         {"funnel", {"dim", "sigma"}},
  };
  return specs;
}

using ebm::detail::join;
std::string show(const json& v) { return ebm::detail::json_preview(v); }

std::string describe(const json& v) { return std::string(v.type_name()) + " " + show(v); }

// nlohmann's messages start with "[json.exception.parse_error.101] ": keep what follows.
std::string strip_id(const char* what) {
  const char* rest = std::strstr(what, "] ");
  return rest ? rest + 2 : what;
}

// Reads the fields of one object; errors are InvalidArgument("ctx: path ...").
template <class T>
class Fields {
 public:
  Fields(const json& obj, const std::string& ctx) : obj_(obj), ctx_(ctx) {}

  [[noreturn]] void fail(const std::string& what) const { throw InvalidArgument(ctx_ + ": " + what); }

  bool has(const std::string& key) const { return obj_.contains(key); }
  const json& get(const std::string& key) const {
    if (!obj_.contains(key)) fail("missing field '" + key + "'");
    return obj_.at(key);
  }

  T number(const json& v, const std::string& path) const {
    if (!v.is_number()) fail(path + " must be a number, got " + describe(v));
    const T t = static_cast<T>(v.get<double>());
    if (!std::isfinite(t)) fail(path + " is " + show(v) + ", not finite in " + (sizeof(T) == 4 ? "float" : "double"));
    return t;
  }
  T number(const std::string& key) const { return number(get(key), key); }

  Index integer(const std::string& key) const {
    const json& v = get(key);
    const double d = v.is_number() ? v.get<double>() : 0.5;
    // Integral doubles ("dim": 2.0) are accepted; 2^53 bounds what a double holds exactly.
    if (!v.is_number() || d != std::floor(d) || std::abs(d) > 9007199254740992.0)
      fail(key + " must be an integer, got " + describe(v));
    return static_cast<Index>(d);
  }

  std::vector<T> numbers(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path + " must be an array of numbers, got " + describe(v));
    std::vector<T> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(number(v[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }
  RowVec<T> row_vector(const std::string& key) const {
    const std::vector<T> x = numbers(get(key), key);
    return Eigen::Map<const RowVec<T>>(x.data(), static_cast<Index>(x.size()));
  }
  Vec<T> vector(const std::string& key) const { return row_vector(key).transpose(); }

  Mat<T> matrix(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path + " must be an array of rows, got " + describe(v));
    std::vector<std::vector<T>> rows;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string row = path + "[" + std::to_string(i) + "]";
      rows.push_back(numbers(v[i], row));
      if (rows.back().size() != rows.front().size())
        fail(row + " has " + std::to_string(rows.back().size()) + " entries, " + path + "[0] has " +
             std::to_string(rows.front().size()));
    }
    Mat<T> m(static_cast<Index>(rows.size()), rows.empty() ? 0 : static_cast<Index>(rows.front().size()));
    for (Index i = 0; i < m.rows(); ++i)
      for (Index j = 0; j < m.cols(); ++j) m(i, j) = rows[std::size_t(i)][std::size_t(j)];
    return m;
  }
  Mat<T> matrix(const std::string& key) const { return matrix(get(key), key); }

  std::vector<Mat<T>> matrices(const std::string& key) const {
    const json& v = get(key);
    if (!v.is_array()) fail(key + " must be an array of matrices, got " + describe(v));
    std::vector<Mat<T>> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(matrix(v[i], key + "[" + std::to_string(i) + "]"));
    return out;
  }

 private:
  const json& obj_;
  const std::string& ctx_;
};

// Constructor messages already name the class and the field (named as in the JSON); prefix the
// context so the error also says where it came from.
template <class T, class Make>
AnyEnergy<T> construct(const std::string& ctx, const std::string& type, std::optional<T> temperature, Make&& make) {
  try {
    auto e = make();
    if (temperature) return AnyEnergy<T>(Tempered<decltype(e)>(std::move(e), *temperature), type);
    return AnyEnergy<T>(std::move(e), type);
  } catch (const InvalidArgument& err) {
    throw InvalidArgument(ctx + ": " + err.what());
  }
}

template <class T>
AnyEnergy<T> build(const json& j, const std::string& ctx) {
  if (!j.is_object()) throw InvalidArgument(ctx + ": expected an object with a \"type\" field, got " + describe(j));
  const Fields<T> f(j, ctx);
  const json& type_value = f.get("type");
  if (!type_value.is_string()) f.fail("type must be a string, got " + describe(type_value));
  const std::string type = type_value.get<std::string>();
  const auto& specs = type_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(), [&](const TypeSpec& s) { return type == s.name; });
  if (spec == specs.end()) f.fail("type '" + type + "' is unknown (known: " + join(energy_json_types()) + ")");
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    if (key != "type" && key != "temperature" &&
        std::find(spec->fields.begin(), spec->fields.end(), key) == spec->fields.end())
      f.fail("unknown field '" + key + "' for type " + type + " (fields: " + join(spec->fields) + ", temperature)");
  }
  std::optional<T> temperature;
  if (f.has("temperature")) temperature = f.number("temperature");

  // Fields are read (and their JSON errors raised) before construction, outside construct().
  if (type == "gaussian") {
    auto mean = f.row_vector("mean");
    auto cov = f.matrix("cov");
    return construct(ctx, type, temperature, [&] { return Gaussian<T>(std::move(mean), std::move(cov)); });
  }
  if (type == "gmm") {
    auto weights = f.vector("weights");
    auto means = f.matrix("means");
    auto covs = f.matrices("covs");
    return construct(ctx, type, temperature,
                     [&] { return GaussianMixture<T>(std::move(weights), means, std::move(covs)); });
  }
  if (type == "double_well") {
    const Index dim = f.integer("dim");
    const T a = f.number("a"), c = f.number("c");
    return construct(ctx, type, temperature, [&] { return DoubleWell<T>(dim, a, c); });
  }
  if (type == "rosenbrock") {
    const T a = f.number("a"), b = f.number("b");
    return construct(ctx, type, temperature, [&] { return Rosenbrock<T>(a, b); });
  }
  if (type == "ring") {
    const T radius = f.number("radius"), width = f.number("width");
    return construct(ctx, type, temperature, [&] { return Ring<T>(radius, width); });
  }
  const Index dim = f.integer("dim");
  const T sigma = f.has("sigma") ? f.number("sigma") : T(3);
  return construct(ctx, type, temperature, [&] { return Funnel<T>(dim, sigma); });
}

// nlohmann reports a number that overflows a double (1e400) without saying where it is: a second
// pass with a SAX handler that tracks the path finds it.
class PathTracker : public nlohmann::json_sax<json> {
 public:
  explicit PathTracker(const std::string& ctx) : ctx_(ctx) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return push(false); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override { return push(true); }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string& token, const nlohmann::json::exception& ex) override {
    if (ex.id == 406) throw InvalidArgument(ctx_ + ": " + path() + " is " + token + ", not finite in double");
    throw FormatError(ctx_ + ": malformed JSON: " + strip_id(ex.what()));
  }

 private:
  struct Frame {
    bool array;
    std::size_t index = 0;
    std::string key;
  };
  bool value() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
    return true;
  }
  bool push(bool array) {
    stack_.push_back({array, 0, {}});
    return true;
  }
  bool pop() {
    stack_.pop_back();
    return value();
  }
  std::string path() const {
    std::string p;
    for (const Frame& f : stack_) p += f.array ? "[" + std::to_string(f.index) + "]" : (p.empty() ? "" : ".") + f.key;
    return p.empty() ? "the document" : p;
  }
  const std::string& ctx_;
  std::vector<Frame> stack_;
};

template <class T>
AnyEnergy<T> parse_and_build(const std::string& text, const std::string& ctx) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw FormatError(ctx + ": malformed JSON: " + strip_id(e.what()));
  } catch (const json::out_of_range&) {
    PathTracker tracker(ctx);
    json::sax_parse(text, &tracker);
    throw FormatError(ctx + ": malformed JSON: a number is out of range");
  }
  return build<T>(j, ctx);
}

}  // namespace

std::vector<std::string> energy_json_types() {
  std::vector<std::string> names;
  for (const auto& s : type_specs()) names.emplace_back(s.name);
  return names;
}

template <class T>
AnyEnergy<T> energy_from_json(const std::string& text) {
  return parse_and_build<T>(text, "ebm::energy_from_json");
}

template <class T>
AnyEnergy<T> energy_from_json_file(const std::string& path) {
  const std::string ctx = "ebm::energy_from_json_file: " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(ctx + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(ctx + ": read failed");
  return parse_and_build<T>(text.str(), ctx);
}

template AnyEnergy<float> energy_from_json<float>(const std::string&);
template AnyEnergy<double> energy_from_json<double>(const std::string&);
template AnyEnergy<float> energy_from_json_file<float>(const std::string&);
template AnyEnergy<double> energy_from_json_file<double>(const std::string&);

}  // namespace ebm
