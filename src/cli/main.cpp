// The ebm command. Errors become one line on stderr, "ebm <subcommand>: <what>": exit 2 for usage
// errors (the command line, a --config file, a bad flag value), 1 for everything else.
#include <ebm/core/memory.hpp>
#include "commands.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <exception>
#include <string_view>

#include <unistd.h>
#include <iostream>
#include <string>

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

int fail(const CLI::App* where, const std::string& what, int code) {
  std::cerr << ebm::cli::command_path(where) << ": " << one_line(what) << "\n";
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
  CLI::App app{"ebm: energy-based generative models — learn, score, sample, evaluate"};
  app.name("ebm");
  app.set_version_flag("--version", std::string("ebm ") + EBM_VERSION);
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.footer("Global options may be given before or after the subcommand. See docs/cli.md.");
  ebm::cli::Context ctx;
  ebm::cli::Globals& g = ctx.globals;
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
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(selected_leaf(&app), e.what(), 2);
  } catch (const std::exception& e) {
    return fail(selected_leaf(&app), e.what(), 1);
  }
  CLI::App* leaf = selected_leaf(&app);
  const auto runner = ctx.runners.find(leaf);
  if (runner == ctx.runners.end()) {
    std::cout << app.help();
    return 0;
  }
  try {
    ebm::cli::apply_config_file(leaf, g);
    if (g.threads > 0) ebm::set_num_threads(g.threads);
    runner->second();
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
