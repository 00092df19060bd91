// `ebm data make NAME`: a toy data set to a file; `ebm data show FILE`: shape, per-column
// statistics and the first rows of a matrix file.
#include "commands.hpp"

#include <ebm/data/matrix_file.hpp>
#include <ebm/data/toy.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct MakeArgs {
  std::string name, output;
  Index n = 1000;
};

struct ShowArgs {
  std::string file;
  Index rows = 5;
  bool json = false;
};

std::string toy_names() {
  std::string names;
  for (std::string_view n : toy_dataset_names()) names += (names.empty() ? "" : ", ") + std::string(n);
  return names;
}

void run_make(const MakeArgs& a, const Globals& g) {
  ToyDataset d;
  try {
    d = parse_toy_dataset(a.name);
  } catch (const InvalidArgument&) {
    throw UsageError("unknown data set '" + a.name + "' (available: " + toy_names() + ")");
  }
  require_at_least("--n", a.n, 1);
  check_output_path("-o", a.output, true);
  const MatD x = make_toy<double>(d, a.n, g.seed);
  write_points<double>(a.output, x, coordinate_names(x.cols()));
  if (!g.quiet)
    std::cerr << "ebm data make: " << a.n << " points of " << toy_dataset_name(d) << " (seed " << g.seed << ") -> "
              << a.output << "\n";
}

void run_show(const ShowArgs& a) {
  require_at_least("--rows", a.rows, 0);
  const Table<double> t = read_table<double>(a.file);
  const MatD& x = t.values;
  const Index n = x.rows(), d = x.cols();
  // No rows (a CSV with its header only): no statistics, null in JSON, "-" in the table.
  RowVec<double> mean = RowVec<double>::Constant(d, NAN), sd = RowVec<double>::Constant(d, NAN);
  RowVec<double> lo = RowVec<double>::Constant(d, NAN), hi = RowVec<double>::Constant(d, NAN);
  if (n > 0) {
    mean = x.colwise().mean();
    sd = ((x.rowwise() - mean).array().square().colwise().sum() / double(n)).sqrt().matrix();
    lo = x.colwise().minCoeff();
    hi = x.colwise().maxCoeff();
  }
  const Index shown = std::min(a.rows, n);
  if (a.json) {
    nlohmann::json cols = nlohmann::json::array();
    for (Index j = 0; j < d; ++j)
      cols.push_back({{"name", t.columns[static_cast<std::size_t>(j)]},
                      {"mean", number_or_null(mean(j))},
                      {"sd", number_or_null(sd(j))},
                      {"min", number_or_null(lo(j))},
                      {"max", number_or_null(hi(j))}});
    nlohmann::json rows = nlohmann::json::array();
    for (Index i = 0; i < shown; ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (Index j = 0; j < d; ++j) row.push_back(x(i, j));
      rows.push_back(row);
    }
    std::cout << nlohmann::json{{"file", a.file}, {"rows", n}, {"cols", d}, {"columns", cols}, {"head", rows}}.dump(2)
              << "\n";
    return;
  }
  std::printf("%s: %lld rows x %lld columns\n", a.file.c_str(), static_cast<long long>(n), static_cast<long long>(d));
  std::printf("%-16s %12s %12s %12s %12s\n", "column", "mean", "sd", "min", "max");
  auto stat = [&](double v) { return n > 0 ? fmt(v) : std::string("-"); };
  for (Index j = 0; j < d; ++j)
    std::printf("%-16s %12s %12s %12s %12s\n", t.columns[static_cast<std::size_t>(j)].c_str(), stat(mean(j)).c_str(),
                stat(sd(j)).c_str(), stat(lo(j)).c_str(), stat(hi(j)).c_str());
  if (shown > 0) {
    std::printf("first %lld rows:\n", static_cast<long long>(shown));
    for (Index i = 0; i < shown; ++i) {
      for (Index j = 0; j < d; ++j) std::printf("%s%12s", j ? " " : "", fmt(x(i, j)).c_str());
      std::printf("\n");
    }
  }
}

}  // namespace

void add_data(CLI::App& app, Context& ctx) {
  CLI::App* data = app.add_subcommand("data", "Make a toy data set, or show a data file");
  data->require_subcommand(1);

  auto make = std::make_shared<MakeArgs>();
  CLI::App* m = data->add_subcommand("make", "Draw a toy data set (" + toy_names() + ") to a .csv or .npy file");
  m->add_option("name", make->name, "Data set name")->required()->transform(lowercase());
  m->add_option("--n", make->n, "Number of points (default 1000)");
  m->add_option("-o,--output", make->output, "Output file (.csv, .tsv or .npy)");
  const Globals& g = ctx.globals;
  ctx.runners[m] = [make, &g] { run_make(*make, g); };

  auto show = std::make_shared<ShowArgs>();
  CLI::App* s = data->add_subcommand("show", "Shape, per-column mean / sd / min / max and the first rows of a file");
  s->add_option("file", show->file, "Data file (.csv, .tsv, .npy, .idx, optionally .gz)")->required();
  s->add_option("--rows", show->rows, "Rows to print (default 5)");
  s->add_flag("--json", show->json, "Print JSON");
  ctx.runners[s] = [show] { run_show(*show); };
}

}  // namespace ebm::cli
