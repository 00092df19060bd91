// ebm's NUTS on the targets of bench/stan/stan_peer.R, with the same warm-up, draws and chains,
// printing one JSON line per target in the same schema (impl "ebm"), for bench/stan/compare.py.
//
//   ebm_bench_samplers [--warmup 1000] [--draws 1000] [--chains 4] [--seed 1]
//                      [--targets banana,gauss100,funnel10,logistic] [--metric diag|dense]
//                      [--data bench/stan/breast_cancer.csv] [--threads 1] [--adapt 0 --step-size h]
//   ebm_bench_samplers --multimodal 1 [--chains 32] [--seed 1]
//
// The second form runs every sampler on 0.8 N((5,5), I) + 0.2 N((-5,-5), I) from uniform starts
// on [-8, 8]^2 and prints, per sampler, the error of the (5, 5) basin's weight, its standard
// error across chains, the ESS and the time.
//
// The energies are what a user would write: small closed-form structs (the Energy contract).
#include <ebm/core/parallel.hpp>
#include <ebm/data/csv.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/sample/hmc.hpp>
#include <ebm/sample/registry.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::Vec;

// 0.5 sum_i x_i^2 / s_i^2, s_i = 10^(i / (D - 1)): standard deviations 1 .. 10.
struct ScaledGaussian {
  Vec<double> inv_var;
  explicit ScaledGaussian(Index d) : inv_var(d) {
    for (Index i = 0; i < d; ++i) inv_var(i) = std::pow(10.0, -2.0 * double(i) / double(d - 1));
  }
  Index dim() const { return inv_var.size(); }
  void energy(const MatD& x, Vec<double>& out) const {
    out = 0.5 * (x.array().square().matrix() * inv_var);
  }
  void score(const MatD& x, MatD& out) const { out = -(x.array().rowwise() * inv_var.transpose().array()).matrix(); }
};

// Bayesian logistic regression, N(0, 1) priors on the intercept and the coefficients:
// E(w) = 0.5 |w|^2 - sum_n [y_n eta_n - log(1 + e^eta_n)], eta = [1 x_n] . w.
struct LogisticRegression {
  MatD design;  // N x (1 + P): a column of ones, then the features
  Vec<double> y;
  Index dim() const { return design.cols(); }
  static double log1p_exp(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }
  void energy(const MatD& w, Vec<double>& out) const {
    const MatD eta = design * w.transpose();  // N x B
    out.resize(w.rows());
    for (Index b = 0; b < w.rows(); ++b) {
      double e = 0.5 * w.row(b).squaredNorm();
      for (Index n = 0; n < eta.rows(); ++n) e -= y(n) * eta(n, b) - log1p_exp(eta(n, b));
      out(b) = e;
    }
  }
  void score(const MatD& w, MatD& out) const {
    MatD residual = design * w.transpose();  // N x B, then y - sigmoid(eta)
    for (Index b = 0; b < residual.cols(); ++b)
      for (Index n = 0; n < residual.rows(); ++n) residual(n, b) = y(n) - 1 / (1 + std::exp(-residual(n, b)));
    out = (design.transpose() * residual).transpose() - w;
  }
};

LogisticRegression load_logistic(const std::string& path) {
  const auto table = ebm::read_csv<double>(path);
  LogisticRegression m;
  const Index n = table.values.rows(), p = table.values.cols() - 1;
  m.y = table.values.col(0);
  m.design.resize(n, p + 1);
  m.design.col(0).setOnes();
  m.design.rightCols(p) = table.values.rightCols(p);
  return m;
}

struct Args {
  Index warmup = 1000, draws = 1000, chains = 4;
  std::uint64_t seed = 1;
  std::string targets = "banana,gauss100,funnel10,logistic", metric = "diag", data = "bench/stan/breast_cancer.csv";
  int threads = 1;
  bool multimodal = false;
  bool adapt = true;
  double step_size = 1;
};

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}

// a.chains chains, a.warmup + a.draws updates, uniform starts on [-scale, scale]^D.
ebm::ChainOptions<double> chain_options(const Args& a, double scale) {
  ebm::ChainOptions<double> o;
  o.chains = a.chains;
  o.steps = a.warmup + a.draws;
  o.burn_in = a.warmup;
  o.seed = a.seed;
  o.init.kind = ebm::Initialization<double>::Kind::Uniform;
  o.init.scale = scale;
  return o;
}

template <class E>
void run(const std::string& name, const E& energy, const Args& a) {
  const auto o = chain_options(a, 2);  // Stan's default: uniform on (-2, 2) in unconstrained space
  ebm::HamiltonianSettings<double> s;
  s.metric = ebm::parse_metric(a.metric, "--metric");
  s.adapt = a.adapt;
  s.step_size = a.step_size;
  ebm::NutsKernel<double> nuts(s);
  ebm::Target<double> target(energy.dim(), ebm::detail::batch_evaluation<double>(energy));
  const auto r = ebm::run_kernel(nuts, target, o);
  const Index d = energy.dim(), S = r.draws_per_chain;
  const auto chains = ebm::unstack_chains(r.samples, S);
  std::vector<double> bulk, tail, means;
  for (Index j = 0; j < d; ++j) {
    const MatD draws = ebm::dimension_draws(chains, j);
    bulk.push_back(ebm::ess_bulk(draws));
    tail.push_back(ebm::ess_tail(draws));
    if (j < 5) means.push_back(draws.mean());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  std::int64_t grads = 0, divergent = 0;
  double depth = 0;
  for (int g : r.stats.gradients) grads += g;
  for (char v : r.stats.divergent) divergent += v;
  for (int t : r.stats.tree_depth) depth += t;
  double ebfmi_min = INFINITY;
  for (Index c = 0; c < static_cast<Index>(r.chains_kept.size()); ++c) {
    std::vector<double> h(r.stats.hamiltonian.begin() + c * S, r.stats.hamiltonian.begin() + (c + 1) * S);
    ebfmi_min = std::min(ebfmi_min, ebm::ebfmi(h));
  }
  std::ostringstream out;
  out << "{\"impl\":\"ebm\",\"target\":\"" << name << "\",\"dim\":" << d << ",\"chains\":" << a.chains
      << ",\"warmup\":" << a.warmup << ",\"draws\":" << a.draws << ",\"metric\":\"" << a.metric << "_e\""
      << ",\"threads\":" << a.threads << ",\"grad_evals_sampling\":" << grads
      << ",\"grad_evals_total\":" << r.gradient_evaluations
      << ",\"seconds_sampling\":" << json_number(r.seconds - r.warmup_seconds)
      << ",\"seconds_warmup\":" << json_number(r.warmup_seconds)
      << ",\"ess_bulk_min\":" << json_number(*std::min_element(bulk.begin(), bulk.end()))
      << ",\"ess_tail_min\":" << json_number(*std::min_element(tail.begin(), tail.end()))
      << ",\"ess_bulk_median\":" << json_number(median(bulk)) << ",\"ess_tail_median\":" << json_number(median(tail))
      << ",\"divergences\":" << divergent << ",\"mean_tree_depth\":" << json_number(depth / double(r.stats.tree_depth.size()))
      << ",\"step_size_mean\":" << json_number(r.step_size.mean()) << ",\"ebfmi_min\":" << json_number(ebfmi_min)
      << ",\"means\":[";
  for (std::size_t i = 0; i < means.size(); ++i) out << (i ? "," : "") << json_number(means[i]);
  out << "]}";
  std::cout << out.str() << std::endl;
}

void multimodal(const Args& a) {
  const ebm::GaussianMixture<double> mix(Vec<double>{{0.8, 0.2}}, MatD{{5, 5}, {-5, -5}},
                                         {MatD::Identity(2, 2), MatD::Identity(2, 2)});
  const auto o = chain_options(a, 8);
  for (const std::string sampler : {"mala", "hmc", "nuts", "underdamped", "pt"}) {
    for (const std::string within : {"mala", "nuts"}) {
      if (sampler != "pt" && within != "mala") continue;
      ebm::SamplerSettings<double> s;
      s.within = within;
      s.tempering.replicas = 6;
      s.tempering.max_temperature = 60;
      const auto r = ebm::run_sampler<double>(sampler, mix, s, o);
      const Index S = r.draws_per_chain, n = static_cast<Index>(r.chains_kept.size());
      Vec<double> f(n);
      for (Index c = 0; c < n; ++c) f(c) = (r.samples.middleRows(c * S, S).rowwise().sum().array() > 0).cast<double>().mean();
      const double m = f.mean(), se = std::sqrt((f.array() - m).square().sum() / double(n - 1) / double(n));
      const auto chains = ebm::unstack_chains(r.samples, S);
      double ess = INFINITY;
      for (Index j = 0; j < 2; ++j) ess = std::min(ess, ebm::ess_bulk(ebm::dimension_draws(chains, j)));
      std::cout << "{\"impl\":\"ebm\",\"workload\":\"multimodal\",\"sampler\":\"" << r.sampler << "\",\"chains\":" << n
                << ",\"draws\":" << S << ",\"basin_weight\":" << json_number(m) << ",\"basin_error\":" << json_number(m - 0.8)
                << ",\"basin_se\":" << json_number(se) << ",\"ess_bulk_min\":" << json_number(ess)
                << ",\"gradients\":" << r.gradient_evaluations << ",\"seconds\":" << json_number(r.seconds) << "}" << std::endl;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::map<std::string, std::string> kv;
  for (int i = 1; i + 1 < argc; i += 2) kv[argv[i]] = argv[i + 1];
  try {
    for (const auto& [key, value] : kv) {
      if (key == "--warmup") a.warmup = std::stol(value);
      else if (key == "--draws") a.draws = std::stol(value);
      else if (key == "--chains") a.chains = std::stol(value);
      else if (key == "--seed") a.seed = std::stoull(value);
      else if (key == "--targets") a.targets = value;
      else if (key == "--metric") a.metric = value;
      else if (key == "--data") a.data = value;
      else if (key == "--threads") a.threads = std::stoi(value);
      else if (key == "--multimodal") a.multimodal = value == "1";
      else if (key == "--adapt") a.adapt = value == "1";
      else if (key == "--step-size") a.step_size = std::stod(value);
      else throw std::invalid_argument("unknown option " + key);
    }
    ebm::set_num_threads(a.threads);
    if (a.multimodal) {
      multimodal(a);
      return 0;
    }
    std::stringstream list(a.targets);
    for (std::string t; std::getline(list, t, ',');) {
      if (t == "banana") run(t, ebm::Rosenbrock<double>(1.0, 5.0), a);
      else if (t == "gauss100") run(t, ScaledGaussian(100), a);
      else if (t == "funnel10") run(t, ebm::Funnel<double>(10, 3.0), a);
      else if (t == "logistic") run(t, load_logistic(a.data), a);
      else throw std::invalid_argument("unknown target " + t);
    }
  } catch (const std::exception& e) {
    std::cerr << "ebm_bench_samplers: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
