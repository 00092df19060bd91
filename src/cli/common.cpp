#include "common.hpp"

#include <ebm/core/atomic_file.hpp>
#include <ebm/facade/report.hpp>
#include <ebm/data/csv.hpp>
#include <ebm/data/matrix_file.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <unistd.h>

namespace ebm::cli {
namespace {

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

CLI::Option* find_option(CLI::App* app, const std::string& name) {
  for (CLI::App* a = app; a != nullptr; a = a->get_parent())
    if (CLI::Option* o = a->get_option_no_throw("--" + name)) return o;
  return nullptr;
}

std::string json_scalar_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return v.dump();
  throw std::invalid_argument("must be a string, a number, a boolean or an array of these, got " + v.dump());
}

}  // namespace

std::string command_path(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent()) names.push_back(a->get_name());
  std::string out;
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += (out.empty() ? "" : " ") + *it;
  return out;
}

bool option_given(const CLI::App* app, const std::string& name) {
  CLI::Option* o = find_option(const_cast<CLI::App*>(app), name);
  return o != nullptr && o->count() > 0;
}

void require_applicable(const CLI::App* app, const std::string& choice_option, const std::string& choice,
                        const Applicability& table) {
  for (const auto& [option, values] : table) {
    if (!option_given(app, option) || std::find(values.begin(), values.end(), choice) != values.end()) continue;
    std::string list;
    for (std::size_t i = 0; i < values.size(); ++i) list += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + values[i];
    throw UsageError("--" + option + ": applies only with --" + choice_option + " " + list + ", not " + choice);
  }
}

void apply_json_options(CLI::App* app, const nlohmann::json& object, const std::string& source,
                        const std::vector<std::string>& skip) {
  if (!object.is_object()) throw UsageError(source + ": expected a JSON object of option names and values");
  for (const auto& [raw_key, value] : object.items()) {
    const std::string key = raw_key.rfind("--", 0) == 0 ? raw_key.substr(2) : raw_key;
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    if (key == "config") throw UsageError(source + ": key \"config\": a config file cannot name another one");
    CLI::Option* opt = key.empty() ? nullptr : find_option(app, key);
    if (opt == nullptr || opt->get_positional())
      throw UsageError(source + ": unknown key \"" + raw_key + "\" (not an option of " + command_path(app) + ")");
    if (opt->count() > 0) continue;  // the command line (or an earlier source) wins
    std::vector<std::string> values;
    try {
      const bool flag = opt->get_items_expected_max() == 0;
      if (value.is_array()) {
        for (const auto& v : value) values.push_back(json_scalar_text(v));
      } else if (flag) {
        if (!value.is_boolean()) throw std::invalid_argument("must be true or false, got " + value.dump());
        values.push_back(opt->get_flag_value(key, value.get<bool>() ? "true" : "false"));
      } else {
        values.push_back(json_scalar_text(value));
      }
      opt->add_result(values);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      throw UsageError(source + ": key \"" + raw_key + "\": " + e.what());
    } catch (const std::invalid_argument& e) {
      throw UsageError(source + ": key \"" + raw_key + "\": " + e.what());
    }
  }
}

void apply_config_file(CLI::App* app, const Globals& globals) {
  if (globals.config.empty()) return;
  std::ifstream in(globals.config);
  if (!in) throw IoError(globals.config + ": cannot open (" + std::strerror(errno) + ")");
  std::error_code ec;
  if (std::filesystem::is_directory(globals.config, ec)) throw IoError(globals.config + ": is a directory");
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(globals.config + ": not valid JSON (" + e.what() + ")");
  }
  apply_json_options(app, object, globals.config);
}

// ----- checks -----

void require_positive(const std::string& flag, double value) {
  if (!(std::isfinite(value) && value > 0)) throw UsageError(flag + ": must be > 0, got " + number_text(value));
}
void require_nonnegative(const std::string& flag, double value) {
  if (!(std::isfinite(value) && value >= 0)) throw UsageError(flag + ": must be >= 0, got " + number_text(value));
}
void require_at_least(const std::string& flag, std::int64_t value, std::int64_t minimum) {
  if (value < minimum) throw UsageError(flag + ": must be >= " + std::to_string(minimum) + ", got " + std::to_string(value));
}
void require_in_unit_interval(const std::string& flag, double value, bool open_right) {
  const bool ok = value >= 0 && (open_right ? value < 1 : value <= 1);
  if (!ok) throw UsageError(flag + ": must be in [0, 1" + (open_right ? ")" : "]") + ", got " + number_text(value));
}
void require_given(const std::string& flag, const std::string& value) {
  if (value.empty()) throw UsageError(flag + " is required");
}

void check_output_path(const std::string& flag, const std::string& path, bool matrix) {
  require_given(flag, path);
  if (matrix && path == "-") return;  // CSV on standard output
  if (matrix) {
    try {
      (void)matrix_format(path, true);
    } catch (const InvalidArgument&) {
      throw UsageError(flag + ": " + path + ": cannot write this format (use .csv, .tsv or .npy)");
    }
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) throw IoError(path + ": is a directory");
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(dir, ec)) throw IoError(path + ": directory '" + dir.string() + "' does not exist");
}

std::vector<double> parse_numbers(const std::string& flag, const std::string& text) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    std::string part = text.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    double v = 0;
    const char* first = part.data();
    const char* last = part.data() + part.size();
    if (!part.empty() && *first == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (part.empty() || ec != std::errc() || ptr != last || !std::isfinite(v))
      throw UsageError(flag + ": expected comma-separated numbers, got '" + text + "' (bad part '" + part + "')");
    out.push_back(v);
    if (end >= text.size()) break;
    start = end + 1;
  }
  return out;
}

// ----- models and energies -----

void add_energy_options(CLI::App* sub, std::string& model, std::string& energy) {
  sub->add_option("--model", model, "Model file written by `ebm train` (.safetensors), or a checkpoint");
  sub->add_option("--energy", energy, "Analytic energy described in JSON (see docs/cli.md)");
}

template <class T>
LoadedEnergy<T> load_energy(const std::string& model, const std::string& energy) {
  if (model.empty() == energy.empty())
    throw UsageError(model.empty() ? "one of --model or --energy is required" : "--model and --energy exclude each other");
  return energy.empty() ? facade::load_model<T>(model) : facade::load_energy_json<T>(energy);
}

UsageError flag_error(const InvalidArgument& e) {
  const std::string message = e.what();
  std::size_t n = 0;
  while (n < message.size() && (std::islower(static_cast<unsigned char>(message[n])) || message[n] == '_')) ++n;
  if (n == 0 || n >= message.size() || message[n] != ':') return UsageError(message);
  std::string flag = "--" + message.substr(0, n);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return UsageError(flag + message.substr(n));
}

// ----- point files -----

std::vector<std::string> coordinate_names(Index dim, const std::string& prefix) {
  std::vector<std::string> names;
  for (Index j = 0; j < dim; ++j) names.push_back(prefix + std::to_string(j));
  return names;
}

template <class T>
Mat<T> read_points(const std::string& path, Index dim, const std::string& expects) {
  Table<T> t = read_table<T>(path);
  const Index cols = t.values.cols();
  if (cols == dim + 2 && t.columns.size() >= 2 && t.columns[0] == "chain" && t.columns[1] == "step")
    return t.values.rightCols(dim);
  if (cols != dim)
    throw FormatError(path + " has " + std::to_string(cols) + " column" + (cols == 1 ? "" : "s") + " but " + expects +
                      " expects " + std::to_string(dim));
  if (t.values.rows() < 1) throw FormatError(path + " has no rows");
  return std::move(t.values);
}

void require_chain_columns(const std::string& path, const std::string& reader) {
  const MatrixFormat f = matrix_format(path);
  if (f == MatrixFormat::Npy || f == MatrixFormat::Npz)
    throw FormatError(path + ": a NumPy file holds points without chain and step; " + reader +
                      " reads a samples .csv or .tsv (ebm sample -o s.csv)");
}

template <class T>
void write_points(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns) {
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j))) {
        const std::string col = static_cast<std::size_t>(j) < columns.size() ? columns[static_cast<std::size_t>(j)]
                                                                              : "x" + std::to_string(j);
        throw NumericalError(path + ": not written: row " + std::to_string(i) + ", column '" + col + "' is " +
                             number_text(double(m(i, j))));
      }
  if (path == "-") {  // for pipes: CSV on standard output, all at once after the checks
    std::cout << csv_text<T>(m, columns);
    std::cout.flush();
    if (!std::cout) throw IoError("standard output: write failed");
    return;
  }
  write_matrix<T>(path, m, columns);
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

// ----- output -----

namespace {
volatile std::sig_atomic_t g_interrupt = 0;
extern "C" void on_interrupt(int signal) {
  g_interrupt = signal;
  std::signal(signal, SIG_DFL);  // a second Ctrl-C ends the process at once
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupt = 0;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}
InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}
bool InterruptGuard::requested() { return g_interrupt != 0; }
const char* InterruptGuard::signal_name() { return g_interrupt == SIGTERM ? "SIGTERM" : "SIGINT"; }

CLI::Validator lowercase() {
  return CLI::Validator(
      [](std::string& value) {
        for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return std::string();
      },
      "", "lowercase");
}

bool progress_enabled(const Globals& globals) { return !globals.quiet && ::isatty(2) == 1; }

ProgressBar::ProgressBar(bool enabled, std::int64_t first, std::int64_t total)
    : enabled_(enabled), first_(first), total_(total), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::int64_t done, const std::string& extra) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? double(done - first_) / seconds : 0;
  const double fraction = total_ > 0 ? double(done) / double(total_) : 1;
  constexpr int width = 24;
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  std::string bar(static_cast<std::size_t>(filled), '=');
  bar.resize(width, ' ');
  char eta[32] = "?";
  if (rate > 0) {
    const double left = double(total_ - done) / rate;
    if (left < 60) std::snprintf(eta, sizeof eta, "%.0fs", left);
    else if (left < 3600) std::snprintf(eta, sizeof eta, "%dm%02ds", int(left / 60), int(left) % 60);
    else std::snprintf(eta, sizeof eta, "%dh%02dm", int(left / 3600), int(left / 60) % 60);
  }
  std::fprintf(stderr, "\r[%s] %lld/%lld %3.0f%%  %.1f steps/s  ETA %s  %s\x1b[K", bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), 100 * fraction, rate, eta, extra.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

nlohmann::json summary_json(const McmcSummary& s) { return nlohmann::json::parse(facade::mcmc_summary_json(s)); }

#define EBM_CLI_INSTANTIATE(T)                                                                              \
  template LoadedEnergy<T> load_energy<T>(const std::string&, const std::string&);                         \
  template Mat<T> read_points<T>(const std::string&, Index, const std::string&);                           \
  template void write_points<T>(const std::string&, const Mat<T>&, const std::vector<std::string>&);
EBM_CLI_INSTANTIATE(float)
EBM_CLI_INSTANTIATE(double)
#undef EBM_CLI_INSTANTIATE

}  // namespace ebm::cli
