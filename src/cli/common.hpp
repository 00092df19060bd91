#pragma once
// What the subcommands share: global options, --config files, loading a model or an energy,
// point files, the progress bar, MCMC summaries as JSON. No mathematics: everything numerical is
// a library call.
#include <ebm/core/communicator.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/facade/energy.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ebm::cli {

/// Options of the main app, accepted before or after the subcommand (fallthrough).
struct Globals {
  int threads = 0;  // 0: ebm's default
  std::uint64_t seed = 0;
  bool quiet = false;
  std::string config;
  /// The processes of the run (mpirun -np K ebm ...): one writes the outputs and speaks
  /// (rank 0); the others are quiet.
  const Communicator* processes = &single_process();
  bool writes() const { return processes->rank() == 0; }
};

/// Everything the subcommands register: the global options, one runner per leaf subcommand,
/// and which runners share their work among MPI processes (the others refuse to run on several).
struct Context {
  Globals globals;
  std::map<const CLI::App*, std::function<void()>> runners;
  std::set<const CLI::App*> distributed;
};

/// A bad flag value or a missing flag, found by the CLI itself: exit code 2.
class UsageError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Lower-cases an option's value as it is parsed: names of samplers, objectives, metrics and
/// the like are accepted in any case (SM, Nuts).
CLI::Validator lowercase();

/// A run stopped by SIGINT or SIGTERM after saving what it had: one line, exit 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// While alive, the first SIGINT or SIGTERM only raises a flag (a second one acts as usual),
/// so a long loop can stop at a safe point and save its work.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool requested();
  static const char* signal_name();
};

/// "ebm data make" for the subcommand app.
std::string command_path(const CLI::App* app);

/// Sets options of `app` (or of its parents, for the global ones) that the command line did not
/// give, from a JSON object whose keys are long option names ("steps" or "--steps"). Options
/// already given (on the command line or by an earlier call) are left alone. Unknown keys are a
/// UsageError naming `source` and the key; values are converted and checked as on the command
/// line. `skip` lists keys to ignore silently.
void apply_json_options(CLI::App* app, const nlohmann::json& object, const std::string& source,
                        const std::vector<std::string>& skip = {});
/// apply_json_options with the --config file, when one was given.
void apply_config_file(CLI::App* app, const Globals& globals);
/// True when option "--name" of app (or a parent) has a value from the command line or a config.
bool option_given(const CLI::App* app, const std::string& name);

/// Which values of a choice (--objective, --sampler) each option applies to.
using Applicability = std::vector<std::pair<std::string, std::vector<std::string>>>;
/// A UsageError for the first option given on the command line that does not apply to
/// `choice` (the value of --`choice_option`): "--sigma: applies only with --objective dsm, not sm".
void require_applicable(const CLI::App* app, const std::string& choice_option, const std::string& choice,
                        const Applicability& table);

// ----- checks of flag values (UsageError "--flag: must be ..., got v") -----

void require_positive(const std::string& flag, double value);
void require_nonnegative(const std::string& flag, double value);
void require_at_least(const std::string& flag, std::int64_t value, std::int64_t minimum);
void require_in_unit_interval(const std::string& flag, double value, bool open_right = false);
/// Throws UsageError "--flag is required" when value is empty.
void require_given(const std::string& flag, const std::string& value);
/// Checks that `path` can be an output file: a known matrix extension when `matrix`, and an
/// existing directory to hold it (IoError otherwise, before any work is done).
void check_output_path(const std::string& flag, const std::string& path, bool matrix);
/// Comma-separated numbers ("1,-2.5"); UsageError naming the flag and the bad part.
std::vector<double> parse_numbers(const std::string& flag, const std::string& text);

// ----- models and energies -----

/// --model file (a model or a checkpoint) or --energy JSON, as an energy on raw coordinates
/// (facade/energy.hpp).
template <class T>
using LoadedEnergy = facade::LoadedEnergy<T>;

/// Adds --model and --energy to sub.
void add_energy_options(CLI::App* sub, std::string& model, std::string& energy);
/// Exactly one of model / energy must be given (UsageError otherwise); loads it.
template <class T>
LoadedEnergy<T> load_energy(const std::string& model, const std::string& energy);

/// A request field's InvalidArgument from the facade ("burn_in: must be >= 0, got -1") as the
/// command line's UsageError ("--burn-in: must be >= 0, got -1").
UsageError flag_error(const InvalidArgument& e);

// ----- point files -----

/// Reads a matrix file with D columns; `expects` names what fixes D ("the model"). A sample
/// file (columns chain, step, x...) with D + 2 columns is accepted: chain and step are dropped.
/// A mismatch is a FormatError "FILE has 3 columns but the model expects 2".
template <class T>
Mat<T> read_points(const std::string& path, Index dim, const std::string& expects);
/// Refuses a file that cannot hold chains: a NumPy file (.npy, .npz) has no column names, so
/// `ebm sample` writes the draws alone there. `reader` says who needs the chains ("diag").
void require_chain_columns(const std::string& path, const std::string& reader);
/// Writes m with column names, after checking every value is finite (NumericalError naming the
/// row and column otherwise): no NaN ever reaches an output file. Atomic.
template <class T>
void write_points(const std::string& path, const Mat<T>& m, const std::vector<std::string>& columns);
/// Writes text atomically.
void write_text_file(const std::string& path, const std::string& text);
/// x0, x1, ..., x{D-1}, with prefix.
std::vector<std::string> coordinate_names(Index dim, const std::string& prefix = "x");

// ----- output -----

/// A progress line on stderr, redrawn at most ten times a second; silent unless enabled (a
/// terminal, not --quiet).
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::int64_t first, std::int64_t total);
  /// done steps of total; `extra` is appended (e.g. the loss).
  void update(std::int64_t done, const std::string& extra);
  /// Ends the line (when anything was drawn).
  void finish();

 private:
  bool enabled_, drawn_ = false;
  std::int64_t first_, total_;
  std::chrono::steady_clock::time_point start_, last_;
};
/// True when stderr is a terminal and --quiet was not given.
bool progress_enabled(const Globals& globals);

/// A McmcSummary as JSON: chains, draws_per_chain, acceptance, and per dimension name, mean, sd,
/// mcse_mean, ess_bulk, ess_tail, rhat, flagged (non-finite numbers become null).
nlohmann::json summary_json(const McmcSummary& s);

/// A double for JSON: null when not finite.
nlohmann::json number_or_null(double v);

/// "%.6g" formatting for tables.
std::string fmt(double v);

}  // namespace ebm::cli
