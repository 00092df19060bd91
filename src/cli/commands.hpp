#pragma once
// Registration of the subcommands of `ebm`, one file each. Each adds its subcommand (with its
// options) to app and a runner for it to ctx.runners; main runs the runner of the subcommand
// given, after the --config file has been applied.
#include "common.hpp"

#include <CLI/CLI.hpp>

namespace ebm::cli {

void add_bench(CLI::App& app, Context& ctx);     // bench.cpp
void add_data(CLI::App& app, Context& ctx);      // data.cpp: data make, data show
void add_train(CLI::App& app, Context& ctx);     // train.cpp
void add_sample(CLI::App& app, Context& ctx);    // sample.cpp
void add_evaluate(CLI::App& app, Context& ctx);  // evaluate.cpp: energy, score
void add_logp(CLI::App& app, Context& ctx);      // logp.cpp
void add_eval(CLI::App& app, Context& ctx);      // eval.cpp
void add_diag(CLI::App& app, Context& ctx);      // diag.cpp
void add_plot(CLI::App& app, Context& ctx);      // plot.cpp: plot KIND
void add_demo(CLI::App& app, Context& ctx);      // demo.cpp

}  // namespace ebm::cli
