// The Python module `ebm._ebm`: a thin shell over the facade (include/ebm/facade), as the CLI
// is. Arrays cross as NumPy arrays (rows are points); results leave without a copy. Long work
// runs with the GIL released; Ctrl-C is seen between steps. The pure-Python layer
// (python/ebm/__init__.py) adds keyword defaults' documentation, to_torch and the data helpers.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/toy.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/diag/metrics.hpp>
#include <ebm/facade/density.hpp>
#include <ebm/facade/energy.hpp>
#include <ebm/facade/report.hpp>
#include <ebm/facade/sample.hpp>
#include <ebm/facade/train.hpp>
#include <ebm/io/model_file.hpp>

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace py = pybind11;

namespace ebm::python {
namespace {

// ----- arrays -----

// A NumPy array as a row-major matrix of T: [N, D] (a 1-D array of length `dim` is one point).
// Integer, unsigned, boolean and float16 arrays are converted; anything else is refused.
template <class T>
Mat<T> matrix_from(const py::handle& object, const char* name, Index dim = -1) {
  py::array a = py::array::ensure(object);
  if (!a) throw py::type_error(std::string(name) + ": expected an array-like of numbers, got " + std::string(py::str(py::type::of(object))));
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw py::type_error(std::string(name) + ": expected real numbers, got an array of dtype " + std::string(py::str(a.dtype())));
  if (a.ndim() == 1 && dim > 0 && a.shape(0) == dim) a = a.attr("reshape")(1, dim);
  if (a.ndim() != 2)
    throw py::value_error(std::string(name) + ": expected a 2-D array [N, D] (one point per row), got " +
                          std::to_string(a.ndim()) + " dimensions");
  if (dim > 0 && a.shape(1) != dim)
    throw py::value_error(std::string(name) + ": has " + std::to_string(a.shape(1)) + " columns but the energy has D = " +
                          std::to_string(dim));
  auto typed = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!typed) throw py::type_error(std::string(name) + ": cannot convert to " + (sizeof(T) == 4 ? "float32" : "float64"));
  Mat<T> m(typed.shape(0), typed.shape(1));
  if (m.size() > 0) std::memcpy(m.data(), typed.data(), sizeof(T) * static_cast<std::size_t>(m.size()));
  return m;
}

// Calls f(rows, n, d) on the points of `object` ([N, D], or one point of length dim): a float
// array of type T in C order is read in place, anything else converted first (matrix_from).
template <class T, class F>
void with_rows(const py::handle& object, const char* name, Index dim, F&& f) {
  if (py::isinstance<py::array_t<T, py::array::c_style>>(object)) {
    const auto a = py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(object);
    if (a.ndim() == 2 && a.shape(1) == dim) return f(a.data(), static_cast<Index>(a.shape(0)), dim);
    if (a.ndim() == 1 && a.shape(0) == dim) return f(a.data(), Index{1}, dim);
  }
  const Mat<T> m = matrix_from<T>(object, name, dim);
  f(m.data(), m.rows(), m.cols());
}

// Moves an Eigen object into a NumPy array that owns it (no copy).
template <class M>
py::array to_numpy(M&& m, std::vector<py::ssize_t> shape) {
  using Plain = std::decay_t<M>;
  using T = typename Plain::Scalar;
  auto* owned = new Plain(std::forward<M>(m));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Plain*>(p); });
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = sizeof(T);
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array_t<T>(shape, strides, owned->data(), free_when_done);
}
template <class T>
py::array to_numpy(Mat<T>&& m) {
  const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())};
  return to_numpy(std::move(m), shape);
}
template <class T>
py::array to_numpy(Vec<T>&& v) {
  const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(v.size())};
  return to_numpy(std::move(v), shape);
}

py::object json_object(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

unsigned long main_thread_id = 0;  // set when the module is imported

// Raises KeyboardInterrupt (or whatever a signal handler raised) in the calling C++ code, from a
// progress callback that runs with the GIL released. Python runs signal handlers in the main
// thread only, so calls from other threads never check; and the GIL is taken at most every
// 20 ms, so a run does not wait on busy Python threads at every step. Made with the GIL held.
class SignalCheck {
 public:
  SignalCheck() : main_(PyThread_get_thread_ident() == main_thread_id), last_(std::chrono::steady_clock::now()) {}
  void operator()() {
    if (!main_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(20)) return;
    last_ = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

 private:
  bool main_;
  std::chrono::steady_clock::time_point last_;
};

bool wants_double(const std::string& dtype) {
  if (dtype == "float64" || dtype == "double") return true;
  if (dtype == "float32" || dtype == "float") return false;
  throw py::value_error("dtype: expected float32 or float64, got '" + dtype + "'");
}

// ----- energies written in Python -----

// A closed-form energy calling Python: `energy(x) -> [N]` with `score(x) -> [N, D]`, or one
// callable returning (energies, scores). Samplers ask for energies and scores at the same
// points one after the other, so the last joint result is kept and reused for equal points.
template <class T>
struct CallableEnergy {
  struct State {
    py::object energy, score;  // score is None when `energy` returns both
    Index dim = 0;
    Mat<T> last_x;
    Vec<T> last_energies;
    Mat<T> last_scores;
    bool has_last = false;
  };
  std::shared_ptr<State> state;

  Index dim() const { return state->dim; }
  void energy(const Mat<T>& x, Vec<T>& out) const {
    if (!state->score.is_none()) {
      py::gil_scoped_acquire gil;
      out = vector_result(state->energy(to_numpy(Mat<T>(x))), x.rows(), "energy");
      return;
    }
    joint(x);
    out = state->last_energies;
  }
  void score(const Mat<T>& x, Mat<T>& out) const {
    if (!state->score.is_none()) {
      py::gil_scoped_acquire gil;
      out = matrix_result(state->score(to_numpy(Mat<T>(x))), x.rows(), "score");
      return;
    }
    joint(x);
    out = state->last_scores;
  }

 private:
  void joint(const Mat<T>& x) const {
    State& s = *state;
    if (s.has_last && s.last_x.rows() == x.rows() && s.last_x.cols() == x.cols() && s.last_x == x) return;
    py::gil_scoped_acquire gil;
    py::object r = s.energy(to_numpy(Mat<T>(x)));
    py::tuple pair;
    if (py::isinstance<py::tuple>(r) && py::len(r) == 2) pair = r;
    else throw InvalidArgument("energy: a callable given without score= must return (energies [N], scores [N, D])");
    s.last_energies = vector_result(pair[0], x.rows(), "energy");
    s.last_scores = matrix_result(pair[1], x.rows(), "score");
    s.last_x = x;
    s.has_last = true;
  }
  Vec<T> vector_result(const py::handle& r, Index n, const char* what) const {
    py::array a = py::array::ensure(r);
    if (!a || a.size() != n)
      throw InvalidArgument(std::string(what) + ": the Python callable must return " + std::to_string(n) + " energies for " +
                            std::to_string(n) + " points");
    const Mat<T> m = matrix_from<T>(a.attr("reshape")(n, 1), what);
    return m.col(0);
  }
  Mat<T> matrix_result(const py::handle& r, Index n, const char* what) const {
    py::array a = py::array::ensure(r);
    if (!a || a.ndim() != 2 || a.shape(0) != n || a.shape(1) != state->dim)
      throw InvalidArgument(std::string(what) + ": the Python callable must return scores of shape [" + std::to_string(n) + ", " +
                            std::to_string(state->dim) + "]");
    return matrix_from<T>(a, what);
  }
};

// ----- the Energy class: a loaded energy in float32 or float64 -----

class PyEnergy {
 public:
  using Variant = std::variant<facade::LoadedEnergy<float>, facade::LoadedEnergy<double>>;
  explicit PyEnergy(Variant e) : e_(std::move(e)) {}

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), e_);
  }
  bool is_double() const { return e_.index() == 1; }
  /// The energy in precision T (a model in the other precision is converted).
  template <class T>
  facade::LoadedEnergy<T> as() const {
    return visit([]<class S>(const facade::LoadedEnergy<S>& e) {
      if (!std::is_same_v<S, T> && !e.is_model)
        throw py::type_error(e.source + ": this energy exists in one precision only; create it with the dtype needed");
      return facade::in_precision<T>(e);
    });
  }
  Index dim() const {
    return visit([](const auto& e) { return e.dim(); });
  }
  std::string dtype() const { return is_double() ? "float64" : "float32"; }
  std::string source() const {
    return visit([](const auto& e) { return e.source; });
  }
  bool is_model() const {
    return visit([](const auto& e) { return e.is_model; });
  }
  bool conditional() const {
    return visit([](const auto& e) { return e.conditional(); });
  }
  io::ModelInfo info() const {
    return visit([](const auto& e) { return e.info; });
  }
  std::string architecture() const {
    return visit([](const auto& e) { return e.network ? e.network->architecture() : std::string(); });
  }

  py::object evaluate(const py::handle& x, bool energies, bool scores) const {
    return visit([&]<class T>(const facade::LoadedEnergy<T>& e) -> py::object {
      Vec<T> en;
      Mat<T> sc;
      with_rows<T>(x, "x", e.dim(), [&](const T* rows, Index n, Index d) {
        py::gil_scoped_release release;
        e.evaluate_rows(rows, n, d, en, scores ? &sc : nullptr);
      });
      if (energies && scores) return py::make_tuple(to_numpy(std::move(en)), to_numpy(std::move(sc)));
      if (energies) return to_numpy(std::move(en));
      return to_numpy(std::move(sc));
    });
  }

  void save(const std::filesystem::path& path) const {
    visit([&](const auto& e) {
      if (!e.is_model) throw py::type_error("save: only models (loaded or trained) can be saved, not " + e.source);
      py::gil_scoped_release release;
      io::save_model(path.string(), *e.network, e.info);
    });
  }

  std::string repr() const {
    std::string s = "<ebm.Energy D=" + std::to_string(dim()) + " " + dtype() + " from " + source();
    if (is_model()) s += std::string(", ") + (conditional() ? "noise-conditional " : "") + "model";
    return s + ">";
  }

 private:
  Variant e_;
};

template <class T>
PyEnergy loaded(facade::LoadedEnergy<T> e) {
  return PyEnergy(PyEnergy::Variant(std::in_place_type<facade::LoadedEnergy<T>>, std::move(e)));
}

PyEnergy load(const std::filesystem::path& path, const std::string& dtype) {
  const bool as_double = wants_double(dtype);
  py::gil_scoped_release release;
  if (as_double) return loaded(facade::load_model<double>(path.string()));
  return loaded(facade::load_model<float>(path.string()));
}

PyEnergy from_json(const std::string& text, const std::string& source, const std::string& dtype) {
  if (wants_double(dtype)) return loaded(facade::energy_from_json_text<double>(text, source));
  return loaded(facade::energy_from_json_text<float>(text, source));
}

PyEnergy from_callable(py::object energy, Index dim, py::object score, const std::string& dtype) {
  if (dim < 1) throw py::value_error("dim: must be >= 1, got " + std::to_string(dim));
  if (!PyCallable_Check(energy.ptr())) throw py::type_error("energy: expected a callable");
  if (!score.is_none() && !PyCallable_Check(score.ptr())) throw py::type_error("score: expected a callable or None");
  auto make = [&]<class T>(T) {
    auto state = std::make_shared<typename CallableEnergy<T>::State>();
    state->energy = energy;
    state->score = score;
    state->dim = dim;
    return loaded(facade::wrap_energy<T>(AnyEnergy<T>(CallableEnergy<T>{state}, "python"), "(python callable)"));
  };
  return wants_double(dtype) ? make(double{}) : make(float{});
}

// ----- sampling -----

py::dict sample(const PyEnergy& energy, facade::SampleRequest r) {
  r.progress = [check = std::make_shared<SignalCheck>()](std::int64_t, std::int64_t) { (*check)(); };
  return energy.visit([&]<class T>(const facade::LoadedEnergy<T>& e) {
    facade::Sampled<T> s;
    {
      py::gil_scoped_release release;
      s = facade::sample<T>(e, r);
    }
    SampleResult<T>& res = s.result;
    const Index kept = static_cast<Index>(res.chains_kept.size()), draws = res.draws_per_chain, d = e.dim();
    py::dict out;
    out["draws"] = to_numpy(std::move(res.samples), {static_cast<py::ssize_t>(kept), static_cast<py::ssize_t>(draws),
                                                     static_cast<py::ssize_t>(d)});
    std::vector<std::int64_t> steps;
    for (Index i = 0; i < draws; ++i) steps.push_back(s.step_of(i));
    out["chains"] = res.chains_kept;
    out["steps"] = steps;
    out["final_state"] = to_numpy(std::move(res.final_state));
    out["step_size"] = to_numpy(std::move(res.step_size));
    out["acceptance"] = res.accepted.empty() ? py::object(py::none()) : py::object(py::float_(res.acceptance_rate()));
    out["failures"] = res.failures;
    out["gradient_evaluations"] = res.gradient_evaluations;
    out["warmup_gradient_evaluations"] = res.warmup_gradient_evaluations;
    out["notes"] = res.notes;
    out["seconds"] = res.seconds;
    out["sampler"] = s.sampler;
    out["diagnostics"] = s.diagnostics ? json_object(facade::mcmc_summary_json(*s.diagnostics)) : py::object(py::none());
    out["summary"] = s.diagnostics ? s.diagnostics->summary() : std::string();
    return out;
  });
}

py::object diagnostics(const py::handle& draws_object, std::vector<std::string> names) {
  py::array draws = py::array::ensure(draws_object);
  if (!draws || (draws.ndim() != 3 && draws.ndim() != 2))
    throw py::value_error("draws: expected an array [chains, draws, D] (or [draws, D] for one chain)");
  if (draws.ndim() == 2) draws = draws.attr("reshape")(1, draws.shape(0), draws.shape(1));
  const Index chains = draws.shape(0), per_chain = draws.shape(1), d = draws.shape(2);
  const MatD stacked = matrix_from<double>(draws.attr("reshape")(chains * per_chain, d), "draws");
  if (per_chain < kMinDrawsPerChain)
    throw py::value_error("draws: diagnostics need >= " + std::to_string(kMinDrawsPerChain) + " draws per chain, got " +
                          std::to_string(per_chain));
  McmcSummaryOptions o;
  o.names = std::move(names);
  McmcSummary s;
  {
    py::gil_scoped_release release;
    s = summarize(unstack_chains(stacked, per_chain), o);
  }
  py::dict out = json_object(facade::mcmc_summary_json(s));
  out["summary"] = s.summary();
  return out;
}

// ----- training -----

struct TrainCall {
  facade::TrainRequest request;
  std::string dtype = "float32";
  py::object callback = py::none();
};

py::tuple train(const py::handle& data, TrainCall call) {
  facade::TrainRequest& r = call.request;
  py::list log;
  bool stop = false;
  std::string stop_message;
  const bool can_checkpoint = !r.checkpoint.empty() || !r.interrupt_checkpoint.empty();
  r.on_step = [&](const TrainProgress& p) {
    py::gil_scoped_acquire gil;
    py::dict entry;
    entry["step"] = p.step;
    entry["loss"] = p.loss;
    entry["lr"] = p.lr;
    entry["grad_norm"] = p.grad_norm;
    if (p.has_held_out) entry["held_out"] = p.held_out;
    if (r.objective == "cd" || r.objective == "pcd") {
      entry["energy_data"] = p.energy_data;
      entry["energy_negatives"] = p.energy_negatives;
    }
    entry["seconds"] = p.seconds;
    log.append(entry);
    // Ctrl-C raises KeyboardInterrupt in whatever Python code runs next: the callback, or the
    // signal check. With a checkpoint file, the run stops at this step and saves it first.
    try {
      if (!call.callback.is_none()) call.callback(entry);
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    } catch (py::error_already_set& e) {
      if (!can_checkpoint || !e.matches(PyExc_KeyboardInterrupt)) throw;
      stop = true;
    }
  };
  if (can_checkpoint) r.should_stop = [&stop] { return stop; };
  auto run = [&]<class T>(T) {
    const Mat<T> x = matrix_from<T>(data, "data");
    std::optional<facade::Trained<T>> trained;
    {
      py::gil_scoped_release release;
      trained.emplace(facade::train<T>(x, r));
    }
    if (trained->interrupted_at) {
      stop_message = "interrupted at step " + std::to_string(*trained->interrupted_at) + ", checkpoint written to " +
                     trained->interrupt_checkpoint + "; continue with ebm.train(..., resume='" + trained->interrupt_checkpoint + "')";
      PyErr_SetString(PyExc_KeyboardInterrupt, stop_message.c_str());
      throw py::error_already_set();
    }
    PyEnergy model = loaded(facade::model_energy<T>(std::move(trained->network), std::move(trained->info), "(trained)"));
    return py::make_tuple(py::cast(std::move(model)), log);
  };
  return wants_double(call.dtype) ? run(double{}) : run(float{});
}

// ----- log p, log Z, metrics -----

facade::LogZRequest log_z_request(const std::string& method, std::vector<std::pair<double, double>> box, int grid_points,
                                  std::int64_t ais_chains, int ais_temperatures, std::uint64_t seed) {
  facade::LogZRequest r;
  r.method = method;
  r.box = std::move(box);
  r.grid_points = grid_points;
  r.ais_chains = ais_chains;
  r.ais_temperatures = ais_temperatures;
  r.seed = seed;
  r.progress = [check = std::make_shared<SignalCheck>()](int, int) { (*check)(); };
  return r;
}

py::dict log_z(const PyEnergy& energy, const py::handle& points, const std::string& method,
               std::vector<std::pair<double, double>> box, int grid_points, std::int64_t ais_chains, int ais_temperatures,
               std::uint64_t seed) {
  const facade::LoadedEnergy<double> e = energy.as<double>();
  const MatD x = matrix_from<double>(points, "points", e.dim());
  const facade::LogZRequest r = log_z_request(method, std::move(box), grid_points, ais_chains, ais_temperatures, seed);
  LogZResult z;
  {
    py::gil_scoped_release release;
    z = facade::log_z(e, x, r);
  }
  return json_object(facade::log_z_json(z));
}

py::dict log_p(const PyEnergy& energy, const py::handle& points, const py::object& ref, const std::optional<std::string>& normalize,
               int nodes, std::vector<std::pair<double, double>> box, int grid_points, std::int64_t ais_chains,
               int ais_temperatures, std::uint64_t seed) {
  const facade::LoadedEnergy<double> e = energy.as<double>();
  const MatD x = matrix_from<double>(points, "points", e.dim());
  const MatD x0 = ref.is_none() ? MatD(MatD::Zero(1, e.dim())) : matrix_from<double>(ref, "ref", e.dim());
  if (x0.rows() != 1) throw py::value_error("ref: expected one point, got " + std::to_string(x0.rows()));
  std::optional<facade::LogZRequest> z;
  if (normalize) z = log_z_request(*normalize, std::move(box), grid_points, ais_chains, ais_temperatures, seed);
  facade::LogP r;
  {
    py::gil_scoped_release release;
    r = facade::log_p(e, x, x0, nodes, z);
  }
  py::dict out;
  out["log_p"] = to_numpy(std::move(r.log_p));
  out["quadrature_error"] = to_numpy(std::move(r.quadrature_error));
  out["path_difference"] = to_numpy(std::move(r.path_difference));
  out["log_z"] = r.log_z ? json_object(facade::log_z_json(*r.log_z)) : py::object(py::none());
  out["evaluations"] = r.evaluations;
  out["seconds"] = r.seconds;
  return out;
}

py::dict mmd(const py::handle& x, const py::handle& y, double bandwidth, bool unbiased) {
  const MatD a = matrix_from<double>(x, "x"), b = matrix_from<double>(y, "y");
  if (a.cols() != b.cols()) throw py::value_error("y: has " + std::to_string(b.cols()) + " columns, x has " + std::to_string(a.cols()));
  MmdOptions o;
  o.bandwidth = bandwidth;
  o.unbiased = unbiased;
  MmdResult r;
  {
    py::gil_scoped_release release;
    r = ebm::mmd(a, b, o);
  }
  py::dict out;
  out["mmd2"] = r.mmd2;
  out["bandwidth"] = r.bandwidth;
  return out;
}

py::dict kl_tv(const py::handle& samples, const py::handle& reference, std::vector<std::pair<double, double>> box, int bins) {
  const MatD a = matrix_from<double>(samples, "samples"), b = matrix_from<double>(reference, "reference");
  if (a.cols() != b.cols())
    throw py::value_error("reference: has " + std::to_string(b.cols()) + " columns, samples have " + std::to_string(a.cols()));
  GridHistogramOptions o;
  if (box.size() == 1) box.assign(static_cast<std::size_t>(a.cols()), box.front());
  for (const auto& [lo, hi] : box) {
    o.lower.push_back(lo);
    o.upper.push_back(hi);
  }
  o.bins = {bins};
  const HistogramDivergences h = histogram_divergences(a, b, o);
  py::dict out;
  out["kl"] = h.kl;
  out["kl_reverse"] = h.kl_reverse;
  out["tv"] = h.tv;
  out["samples_outside"] = h.samples_outside;
  out["reference_outside"] = h.reference_outside;
  return out;
}

py::dict fisher(const PyEnergy& model, const PyEnergy& truth, const py::handle& points) {
  const facade::LoadedEnergy<double> m = model.as<double>(), t = truth.as<double>();
  const MatD x = matrix_from<double>(points, "points", m.dim());
  if (t.dim() != m.dim()) throw py::value_error("truth: D = " + std::to_string(t.dim()) + ", the model has " + std::to_string(m.dim()));
  Vec<double> unused;
  MatD sm, st;
  {
    py::gil_scoped_release release;
    m.evaluate(x, unused, &sm);
    t.evaluate(x, unused, &st);
  }
  const FisherResult r = fisher_divergence<double>(sm, st);
  py::dict out;
  out["value"] = r.value;
  out["standard_error"] = r.standard_error;
  return out;
}

// ----- data -----

py::array make_dataset(const std::string& name, Index n, std::uint64_t seed) {
  if (n < 1) throw py::value_error("n: must be >= 1, got " + std::to_string(n));
  return to_numpy(make_toy<double>(parse_toy_dataset(name), n, seed));
}

py::tuple read_table_file(const std::filesystem::path& path) {
  Table<double> t;
  {
    py::gil_scoped_release release;
    t = read_table<double>(path.string());
  }
  return py::make_tuple(to_numpy(std::move(t.values)), t.columns);
}

void write_table_file(const std::filesystem::path& file, const py::handle& values, std::vector<std::string> columns) {
  const std::string path = file.string();
  const MatD m = matrix_from<double>(values, "values");
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j)))
        throw NumericalError(path + ": not written: row " + std::to_string(i) + ", column " + std::to_string(j) + " is not finite");
  py::gil_scoped_release release;
  write_matrix<double>(path, m, columns);
}

}  // namespace
}  // namespace ebm::python

PYBIND11_MODULE(_ebm, m) {
  using namespace ebm;
  using namespace ebm::python;
  m.doc() = "ebm's C++ core; use the ebm package";
  main_thread_id = PyThread_get_thread_ident();

  // ebm.Error and its subclasses, each also a standard Python exception.
  auto make_error = [&](const char* name, PyObject* bases) {
    PyObject* type = PyErr_NewException((std::string("ebm.") + name).c_str(), bases, nullptr);
    m.attr(name) = py::handle(type);
    return type;
  };
  static PyObject* error = make_error("Error", PyExc_Exception);
  static PyObject* invalid = make_error("InvalidArgument", py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)).release().ptr());
  static PyObject* format = make_error("FormatError", py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)).release().ptr());
  static PyObject* io_error = make_error("IoError", py::make_tuple(py::handle(error), py::handle(PyExc_OSError)).release().ptr());
  static PyObject* numerical = make_error("NumericalError", py::make_tuple(py::handle(error), py::handle(PyExc_ArithmeticError)).release().ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid, e.what());
    } catch (const FormatError& e) {
      PyErr_SetString(format, e.what());
    } catch (const IoError& e) {
      PyErr_SetString(io_error, e.what());
    } catch (const NumericalError& e) {
      PyErr_SetString(numerical, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error, e.what());
    }
  });

  py::class_<PyEnergy>(m, "Energy")
      .def_property_readonly("dim", &PyEnergy::dim)
      .def_property_readonly("dtype", &PyEnergy::dtype)
      .def_property_readonly("source", &PyEnergy::source)
      .def_property_readonly("is_model", &PyEnergy::is_model)
      .def_property_readonly("conditional", &PyEnergy::conditional)
      .def_property_readonly("architecture", &PyEnergy::architecture)
      .def_property_readonly("standardization",
                             [](const PyEnergy& e) -> py::object {
                               const io::ModelInfo info = e.info();
                               if (info.data_mean.empty()) return py::none();
                               return py::make_tuple(info.data_mean, info.data_scale);
                             })
      .def_property_readonly("energy_scale", [](const PyEnergy& e) { return e.info().energy_scale; })
      .def_property_readonly("noise_levels", [](const PyEnergy& e) { return e.info().noise_levels; })
      .def_property_readonly("objective", [](const PyEnergy& e) { return e.info().objective; })
      .def_property_readonly("step", [](const PyEnergy& e) { return e.info().step; })
      .def("energy", [](const PyEnergy& e, const py::handle& x) { return e.evaluate(x, true, false); }, py::arg("x"))
      .def("score", [](const PyEnergy& e, const py::handle& x) { return e.evaluate(x, false, true); }, py::arg("x"))
      .def("energy_and_score", [](const PyEnergy& e, const py::handle& x) { return e.evaluate(x, true, true); }, py::arg("x"))
      .def("save", &PyEnergy::save, py::arg("path"))
      .def("astype",
           [](const PyEnergy& e, const std::string& dtype) {
             return wants_double(dtype) ? loaded(e.as<double>()) : loaded(e.as<float>());
           },
           py::arg("dtype"))
      .def("__repr__", &PyEnergy::repr);

  m.def("load", &ebm::python::load, py::arg("path"), py::arg("dtype") = "float32");
  m.def("_from_json", &ebm::python::from_json, py::arg("text"), py::arg("source"), py::arg("dtype"));
  m.def("_from_callable", &ebm::python::from_callable, py::arg("energy"), py::arg("dim"), py::arg("score"), py::arg("dtype"));

  const facade::SampleRequest sd;
  m.def(
      "sample",
      [](const PyEnergy& energy, const std::string& sampler, std::int64_t chains, std::int64_t steps, std::uint64_t seed,
         std::optional<std::int64_t> burn_in, std::int64_t thin, double init_scale, std::optional<double> step_size,
         std::optional<std::int64_t> levels, double max_temperature, const std::string& metric, std::optional<double> target_accept,
         std::int64_t max_depth, double path_length, double friction, std::int64_t replicas, bool adapt_ladder,
         const std::string& within, bool denoise, bool diagnostics) {
        facade::SampleRequest r;
        r.sampler = sampler;
        r.chains = chains;
        r.steps = steps;
        r.seed = seed;
        r.burn_in = burn_in;
        r.thin = thin;
        r.init_scale = init_scale;
        r.step_size = step_size;
        r.levels = levels;
        r.max_temperature = max_temperature;
        r.metric = metric;
        r.target_accept = target_accept;
        r.max_depth = max_depth;
        r.path_length = path_length;
        r.friction = friction;
        r.replicas = replicas;
        r.adapt_ladder = adapt_ladder;
        r.within = within;
        r.denoise = denoise;
        r.diagnostics = diagnostics;
        return ebm::python::sample(energy, r);
      },
      py::arg("energy"), py::kw_only(), py::arg("sampler") = sd.sampler, py::arg("chains") = sd.chains,
      py::arg("steps") = sd.steps, py::arg("seed") = sd.seed, py::arg("burn_in") = sd.burn_in, py::arg("thin") = sd.thin,
      py::arg("init_scale") = sd.init_scale, py::arg("step_size") = sd.step_size, py::arg("levels") = sd.levels,
      py::arg("max_temperature") = sd.max_temperature, py::arg("metric") = sd.metric,
      py::arg("target_accept") = sd.target_accept, py::arg("max_depth") = sd.max_depth,
      py::arg("path_length") = sd.path_length, py::arg("friction") = sd.friction, py::arg("replicas") = sd.replicas,
      py::arg("adapt_ladder") = sd.adapt_ladder, py::arg("within") = sd.within, py::arg("denoise") = sd.denoise,
      py::arg("diagnostics") = sd.diagnostics);
  m.def("sampler_names", &facade::sampler_names);
  m.def("diagnostics", &ebm::python::diagnostics, py::arg("draws"), py::arg("names") = std::vector<std::string>{});

  const facade::TrainRequest td;
  m.def(
      "train",
      [](const py::handle& data, const std::string& objective, const std::string& model, std::optional<std::string> architecture,
         std::optional<std::int64_t> steps, std::int64_t batch, double lr, std::uint64_t seed, double held_out, std::optional<std::string> checkpoint,
         std::int64_t checkpoint_every, std::optional<std::string> resume, py::object callback, std::optional<std::string> schedule,
         const std::string& optimizer, double weight_decay, double clip, double ema, bool standardize, std::int64_t eval_every,
         std::int64_t patience, double sigma, double sigma_max, std::int64_t noise_levels, std::int64_t projections,
         std::int64_t langevin_steps, std::optional<double> langevin_step_size, std::int64_t buffer_size, std::optional<double> energy_penalty,
         double restart_fraction, const std::string& on_divergence, double divergence_threshold, bool flip,
         std::optional<std::int64_t> stop_at, std::int64_t block_rows, const std::string& dtype) {
        TrainCall c;
        facade::TrainRequest& r = c.request;
        r.objective = objective;
        r.model = model;
        r.architecture = std::move(architecture);
        r.steps = steps;
        r.batch = batch;
        r.lr = lr;
        r.seed = seed;
        r.held_out = held_out;
        r.checkpoint = checkpoint.value_or("");
        r.checkpoint_every = checkpoint_every;
        r.resume = resume.value_or("");
        r.schedule = std::move(schedule);
        r.optimizer = optimizer;
        r.weight_decay = weight_decay;
        r.clip = clip;
        r.ema = ema;
        r.standardize = standardize;
        r.eval_every = eval_every;
        r.patience = patience;
        r.sigma = sigma;
        r.sigma_max = sigma_max;
        r.noise_levels = noise_levels;
        r.projections = projections;
        r.langevin_steps = langevin_steps;
        r.langevin_step_size = langevin_step_size;
        r.buffer_size = buffer_size;
        r.energy_penalty = energy_penalty;
        r.restart_fraction = restart_fraction;
        r.on_divergence = on_divergence;
        r.divergence_threshold = divergence_threshold;
        r.flip = flip;
        r.stop_at = stop_at;
        r.block_rows = block_rows;
        c.dtype = dtype;
        c.callback = std::move(callback);
        return ebm::python::train(data, std::move(c));
      },
      py::arg("data"), py::kw_only(), py::arg("objective") = td.objective, py::arg("model") = td.model,
      py::arg("architecture") = py::none(), py::arg("steps") = td.steps, py::arg("batch") = td.batch, py::arg("lr") = td.lr,
      py::arg("seed") = td.seed, py::arg("held_out") = td.held_out, py::arg("checkpoint") = py::none(),
      py::arg("checkpoint_every") = td.checkpoint_every, py::arg("resume") = py::none(), py::arg("callback") = py::none(),
      py::arg("schedule") = td.schedule, py::arg("optimizer") = td.optimizer, py::arg("weight_decay") = td.weight_decay,
      py::arg("clip") = td.clip, py::arg("ema") = td.ema, py::arg("standardize") = td.standardize,
      py::arg("eval_every") = td.eval_every, py::arg("patience") = td.patience, py::arg("sigma") = td.sigma,
      py::arg("sigma_max") = td.sigma_max, py::arg("noise_levels") = td.noise_levels, py::arg("projections") = td.projections,
      py::arg("langevin_steps") = td.langevin_steps, py::arg("langevin_step_size") = td.langevin_step_size,
      py::arg("buffer_size") = td.buffer_size, py::arg("energy_penalty") = td.energy_penalty,
      py::arg("restart_fraction") = td.restart_fraction, py::arg("on_divergence") = td.on_divergence,
      py::arg("divergence_threshold") = td.divergence_threshold, py::arg("flip") = td.flip, py::arg("stop_at") = td.stop_at,
      py::arg("block_rows") = td.block_rows, py::arg("dtype") = "float32");
  m.def("saved_run_config", [](const std::filesystem::path& p) { return facade::saved_run_config(p.string()); },
        py::arg("checkpoint"));

  const facade::LogZRequest zd;
  m.def("log_z", &ebm::python::log_z, py::arg("energy"), py::arg("points"), py::kw_only(), py::arg("method") = zd.method,
        py::arg("box") = zd.box, py::arg("grid_points") = zd.grid_points, py::arg("ais_chains") = zd.ais_chains,
        py::arg("ais_temperatures") = zd.ais_temperatures, py::arg("seed") = zd.seed);
  m.def("logp", &ebm::python::log_p, py::arg("energy"), py::arg("points"), py::kw_only(), py::arg("ref") = py::none(),
        py::arg("normalize") = py::none(), py::arg("nodes") = LineIntegralOptions{}.nodes, py::arg("box") = zd.box,
        py::arg("grid_points") = zd.grid_points, py::arg("ais_chains") = zd.ais_chains,
        py::arg("ais_temperatures") = zd.ais_temperatures, py::arg("seed") = zd.seed);
  m.def("mmd", &ebm::python::mmd, py::arg("x"), py::arg("y"), py::kw_only(), py::arg("bandwidth") = MmdOptions{}.bandwidth,
        py::arg("unbiased") = MmdOptions{}.unbiased);
  m.def("kl_tv", &ebm::python::kl_tv, py::arg("samples"), py::arg("reference"), py::kw_only(), py::arg("box"), py::arg("bins") = 50);
  m.def("fisher_divergence", &ebm::python::fisher, py::arg("model"), py::arg("truth"), py::arg("points"));

  m.def("dataset_names", [] {
    std::vector<std::string> names;
    for (std::string_view n : toy_dataset_names()) names.emplace_back(n);
    return names;
  });
  m.def("make_dataset", &ebm::python::make_dataset, py::arg("name"), py::arg("n"), py::kw_only(), py::arg("seed") = 0);
  m.def("read_table", &ebm::python::read_table_file, py::arg("path"));
  m.def("write_table", &ebm::python::write_table_file, py::arg("path"), py::arg("values"), py::arg("columns") = std::vector<std::string>{});
  m.def("threads", &num_threads);
  m.def("set_threads", [](int n) {
    if (n < 1) throw py::value_error("threads: must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, py::arg("n"));
}
