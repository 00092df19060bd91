#pragma once
// Registration of the subcommands of `ebm`, one file each.
#include <CLI/CLI.hpp>

namespace ebm::cli {

/// Adds `ebm bench` to app; the returned callback runs it.
void add_bench(CLI::App& app);

}  // namespace ebm::cli
