// `ebm diag SAMPLES`: MCMC diagnostics (bulk and tail ESS, split R-hat, MCSE per dimension) of a
// samples file as `ebm sample` writes it: columns chain, step, x0.. with each chain's draws in
// step order.
#include "commands.hpp"

#include <ebm/data/matrix_file.hpp>
#include <ebm/diag/mcmc.hpp>

#include <cmath>
#include <iostream>
#include <map>
#include <memory>

namespace ebm::cli {
namespace {

struct DiagArgs {
  std::string file;
  bool json = false;
};

void diag(const DiagArgs& a) {
  require_chain_columns(a.file, "diag");
  const Table<double> t = read_table<double>(a.file);
  const MatD& v = t.values;
  if (v.cols() < 3)
    throw FormatError(a.file + " has " + std::to_string(v.cols()) + " columns, expected chain, step, x0, ... (at least 3)");
  if (t.columns[0] != "chain" || t.columns[1] != "step")
    throw FormatError(a.file + ": the first two columns must be 'chain' and 'step', got '" + t.columns[0] + "' and '" +
                      t.columns[1] + "'");
  const Index d = v.cols() - 2;
  // Rows grouped by chain in order of first appearance; steps must increase within a chain.
  std::map<double, std::size_t> slot;
  std::vector<std::vector<Index>> rows;
  std::vector<double> ids;
  for (Index i = 0; i < v.rows(); ++i) {
    const double c = v(i, 0);
    if (c != std::floor(c) || c < 0)
      throw FormatError(a.file + ": row " + std::to_string(i + 1) + ": chain must be a non-negative integer, got " + fmt(c));
    auto [it, fresh] = slot.emplace(c, rows.size());
    if (fresh) {
      rows.emplace_back();
      ids.push_back(c);
    }
    std::vector<Index>& r = rows[it->second];
    if (!r.empty() && !(v(i, 1) > v(r.back(), 1)))
      throw FormatError(a.file + ": row " + std::to_string(i + 1) + ": chain " + fmt(c) + " has step " + fmt(v(i, 1)) +
                        " after step " + fmt(v(r.back(), 1)) + " (steps must increase within a chain)");
    r.push_back(i);
  }
  if (rows.empty()) throw FormatError(a.file + ": no draws");
  const std::size_t s = rows.front().size();
  for (std::size_t c = 0; c < rows.size(); ++c)
    if (rows[c].size() != s)
      throw FormatError(a.file + ": chain " + fmt(ids[c]) + " has " + std::to_string(rows[c].size()) + " draws but chain " +
                        fmt(ids[0]) + " has " + std::to_string(s) + " (every chain needs the same number)");
  if (static_cast<Index>(s) < kMinDrawsPerChain)
    throw FormatError(a.file + ": " + std::to_string(s) + " draws per chain, the diagnostics need at least " +
                      std::to_string(kMinDrawsPerChain));
  std::vector<MatD> chains;
  for (const auto& r : rows) {
    MatD m(static_cast<Index>(s), d);
    for (std::size_t k = 0; k < s; ++k) m.row(static_cast<Index>(k)) = v.row(r[k]).tail(d);
    chains.push_back(std::move(m));
  }
  McmcSummaryOptions o;
  o.names.assign(t.columns.begin() + 2, t.columns.end());
  const McmcSummary summary = summarize(chains, o);
  if (a.json) {
    nlohmann::json j = summary_json(summary);
    j["file"] = a.file;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << a.file << ": " << summary.summary();
    if (!summary.summary().empty() && summary.summary().back() != '\n') std::cout << "\n";
  }
}

}  // namespace

void add_diag(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DiagArgs>();
  CLI::App* sub = app.add_subcommand("diag", "ESS (bulk, tail), split R-hat and MCSE of a samples file");
  sub->add_option("file", a->file, "Samples file with columns chain, step, x0.. (as `ebm sample` writes)")->required();
  sub->add_flag("--json", a->json, "Print JSON");
  ctx.runners[sub] = [a] { diag(*a); };
}

}  // namespace ebm::cli
