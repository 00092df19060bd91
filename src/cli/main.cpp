// The ebm command. Errors become one line on stderr, "ebm <subcommand>: <what>": exit 2 for usage
// errors (the command line, a --config file, a bad flag value), 1 for everything else.
#include <ebm/ad/kernel_target.hpp>
#include <ebm/core/memory.hpp>
#include "commands.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>

#include <CLI/CLI.hpp>
#ifdef EBM_WITH_MPI
#include <ebm/mpi/mpi_communicator.hpp>
#endif

#include <cstdlib>
#include <exception>
#include <optional>
#include <string_view>

#include <unistd.h>
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace {

// The deepest subcommand selected on the command line (app itself when none).
CLI::App* selected_leaf(CLI::App* app) {
  CLI::App* leaf = app;
  while (true) {
    const auto subs = leaf->get_subcommands();
    if (subs.empty()) return leaf;
    leaf = subs.front();
  }
}

// One line: messages from deeper layers may carry line breaks.
std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// Edit distance between two words (insertions, deletions, substitutions), for suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The closest of `names` to `word` when it is close enough to be a typo, else "".
std::string nearest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string& n : names) {
    const std::size_t d = edit_distance(word, n);
    if (d < best_distance) {
      best = n;
      best_distance = d;
    }
  }
  return best;
}

// "unknown subcommand 'trian' (did you mean train?)" for the first word the parser could not
// place: a subcommand at the top level, an option anywhere; else the parser's own message.
std::string explain_extras(CLI::App* app, CLI::App* leaf, const std::string& fallback) {
  std::vector<std::string> words = leaf->remaining();
  for (const std::string& w : app->remaining(true)) words.push_back(w);
  for (const std::string& word : words) {
    if (word.rfind("--", 0) == 0) {
      std::vector<std::string> names;
      for (CLI::App* a = leaf; a != nullptr; a = a->get_parent())
        for (const CLI::Option* o : a->get_options())
          for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
      const std::string key = word.substr(0, word.find('='));
      const std::string guess = nearest(key, names);
      return "unknown option '" + key + "'" + (guess.empty() ? " (see --help)" : " (did you mean " + guess + "?)");
    }
    if (leaf == app && word.rfind('-', 0) != 0) {
      std::vector<std::string> names;
      for (const CLI::App* s : app->get_subcommands({})) names.push_back(s->get_name());
      const std::string guess = nearest(word, names);
      return "unknown subcommand '" + word + "'" + (guess.empty() ? " (see ebm --help)" : " (did you mean " + guess + "?)");
    }
  }
  return fallback;
}

// "--threads: At Most 1 required but received 2" (CLI11) as "--threads: given 2 times, takes one value".
std::string plain_mismatch(const std::string& what) {
  const std::string marker = ": At Most 1 required but received ";
  const std::size_t at = what.find(marker);
  if (at == std::string::npos) return what;
  return what.substr(0, at) + ": given " + what.substr(at + marker.size()) + " times, takes one value";
}

// Whether this process prints errors: rank 0 of an MPI job (every rank fails alike, see below).
bool g_speaks = true;

int fail(const CLI::App* where, const std::string& what, int code) {
  if (g_speaks) std::cerr << ebm::cli::command_path(where) << ": " << one_line(what) << "\n";
  return code;
}

// OpenMP threads that spin while they wait take the core that the thread they wait for needs:
// on a busy machine a training step was measured 100x slower than with passive waiting
// (docs/design.md). libgomp reads OMP_WAIT_POLICY once, when it is loaded, so ebm restarts itself
// once with the policy set, unless the user chose one. `ebm bench` keeps OpenMP's default, the
// policy its PyTorch peer runs with.
void prefer_passive_waiting(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "bench") return;
  if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_waiting(argc, argv);
  ebm::retain_freed_memory();
  // Under mpirun every process runs this program; MPI starts only then, so that a plain `ebm`
  // needs no MPI at run time.
  const ebm::Communicator* processes = &ebm::single_process();
#ifdef EBM_WITH_MPI
  std::optional<ebm::mpi::Session> mpi;
  if (ebm::mpi::launched_by_mpi()) {
    try {
      mpi.emplace(argc, argv);
    } catch (const std::exception& e) {
      std::cerr << "ebm: " << one_line(e.what()) << "\n";
      return 1;
    }
    processes = &mpi->world();
    g_speaks = processes->rank() == 0;
  }
#endif
  CLI::App app{"ebm: energy-based generative models — learn, score, sample, evaluate"};
  app.name("ebm");
  app.set_version_flag("--version", std::string("ebm ") + EBM_VERSION);
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.footer("Global options may be given before or after the subcommand. See docs/cli.md.");
  ebm::cli::Context ctx;
  ebm::cli::Globals& g = ctx.globals;
  g.processes = processes;
  app.add_option("--threads", g.threads, "Thread count (default: all cores)")->check(CLI::Range(1, 4096));
  app.add_option("--seed", g.seed, "Seed of every random draw (default 0)");
  app.add_flag("--quiet", g.quiet, "No progress bar, summaries or notes on stderr");
  app.add_option("--config", g.config, "JSON object of option names and values (command-line flags win)");
  ebm::cli::add_data(app, ctx);
  ebm::cli::add_train(app, ctx);
  ebm::cli::add_sample(app, ctx);
  ebm::cli::add_evaluate(app, ctx);
  ebm::cli::add_logp(app, ctx);
  ebm::cli::add_eval(app, ctx);
  ebm::cli::add_diag(app, ctx);
  ebm::cli::add_plot(app, ctx);
  ebm::cli::add_demo(app, ctx);
  ebm::cli::add_bench(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return g_speaks ? app.exit(e) : e.get_exit_code();
  } catch (const CLI::CallForAllHelp& e) {
    return g_speaks ? app.exit(e) : e.get_exit_code();
  } catch (const CLI::CallForVersion& e) {
    return g_speaks ? app.exit(e) : e.get_exit_code();
  } catch (const CLI::ExtrasError& e) {
    CLI::App* leaf = selected_leaf(&app);
    return fail(leaf, explain_extras(&app, leaf, e.what()), 2);
  } catch (const CLI::ArgumentMismatch& e) {
    return fail(selected_leaf(&app), plain_mismatch(e.what()), 2);
  } catch (const CLI::ParseError& e) {
    return fail(selected_leaf(&app), e.what(), 2);
  } catch (const std::exception& e) {
    return fail(selected_leaf(&app), e.what(), 1);
  }
  CLI::App* leaf = selected_leaf(&app);
  const auto runner = ctx.runners.find(leaf);
  if (runner == ctx.runners.end()) {
    if (g_speaks) std::cout << app.help();
    return 0;
  }
  try {
    // The whole command is one agreed piece of work: a process that fails anywhere meets the
    // others at their next exchange with its failure, and every process stops with its line.
    ebm::agreed(*processes, [&] {
      ebm::cli::apply_config_file(leaf, g);
      if (processes->size() > 1) {
        if (!ctx.distributed.contains(leaf)) {
          std::vector<std::string> sorted;
          for (const CLI::App* d : ctx.distributed) sorted.push_back(d->get_name());
          std::sort(sorted.begin(), sorted.end());
          std::string names;
          for (const std::string& n : sorted) names += (names.empty() ? "" : ", ") + n;
          throw ebm::cli::UsageError("runs on one process only; start it without mpirun (commands that run on " +
                                     std::to_string(processes->size()) + " processes: " + names + ")");
        }
        if (!g_speaks) g.quiet = true;
        // The machine's cores shared among the processes started on it.
#ifdef EBM_WITH_MPI
        if (g.threads == 0) ebm::set_num_threads(std::max(1, ebm::num_threads() / ebm::mpi::local_processes()));
#endif
      }
      if (g.threads > 0) ebm::set_num_threads(g.threads);
      (void)ebm::ad::kernel_target();  // a bad EBM_KERNEL_TARGET is refused before any work
      runner->second();
    });
  } catch (const CLI::ParseError& e) {
    return fail(leaf, e.what(), 2);
  } catch (const ebm::cli::Interrupted& e) {
    return fail(leaf, e.what(), 130);
  } catch (const ebm::InvalidArgument& e) {
    return fail(leaf, e.what(), 2);
  } catch (const std::bad_alloc&) {
    return fail(leaf, "out of memory", 1);
  } catch (const std::exception& e) {
    return fail(leaf, e.what(), 1);
  }
  return 0;
}
