// Standardized<E, T> (energy/standardized.hpp): a model trained on standardised data as an
// energy on raw data. Same bits as the inner energy on Standardization::apply'd points, the
// chain rule for the score, log Z shifted by sum log scale, and the folded MLP.
#include <ebm/data/dataset.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/energy/standardized.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::RowVec;

MatD points() {
  MatD x(6, 3);
  x << 1.5, -2.0, 10.0,  //
      0.0, 0.0, 0.0,     //
      3.0, 1.0, 12.5,    //
      -1.0, 4.0, 9.0,    //
      2.2, -0.3, 11.1,   //
      0.7, 0.7, 10.7;
  return x;
}

ebm::Mlp<double> mlp() {
  ebm::MlpOptions o;
  o.widths = {3, 16, 16, 1};
  o.seed = 11;
  return ebm::Mlp<double>(o);
}

TEST(Standardized, EnergyIsTheInnerEnergyOfTheStandardisedPoints) {
  const MatD x = points();
  const auto st = ebm::Standardization<double>::fit(x);
  const ebm::Mlp<double> net = mlp();
  const ebm::Standardized<ebm::Mlp<double>, double> raw(net, st.mean, st.scale);
  EXPECT_EQ(raw.dim(), 3);
  ebm::EnergyEvaluator<double> ev;
  const ebm::Vec<double> e_raw = ev.energy(raw, x);
  const ebm::Vec<double> e_std = ev.energy(net, st.apply(x));
  EXPECT_EQ(e_raw, e_std);  // the same formula: the same bits
  // Score chain rule: s_raw(x) = s_std(z) / scale.
  const MatD s_raw = ev.score(raw, x);
  const MatD s_std = ev.score(net, st.apply(x));
  const MatD expected = (s_std.array().rowwise() / st.scale.array()).matrix();
  EXPECT_LE((s_raw - expected).cwiseAbs().maxCoeff(), 1e-13 * expected.cwiseAbs().maxCoeff());
}

TEST(Standardized, FoldedMlpIsTheSameEnergy) {
  const MatD x = points();
  const auto st = ebm::Standardization<double>::fit(x);
  const ebm::Mlp<double> net = mlp();
  const ebm::Standardized<ebm::Mlp<double>, double> raw(net, st.mean, st.scale);
  ebm::EnergyEvaluator<double> ev;
  const ebm::Vec<double> e = ev.energy(raw, x);
  const ebm::Vec<double> folded = ev.energy(ebm::fold_standardization(net, st.mean, st.scale), x);
  EXPECT_LE((folded - e).cwiseAbs().maxCoeff(), 1e-12 * std::max(1.0, e.cwiseAbs().maxCoeff()));
  const ebm::Vec<double> hot = ev.energy(ebm::fold_standardization(net, st.mean, st.scale, 2.5), x);
  EXPECT_LE((hot - e / 2.5).cwiseAbs().maxCoeff(), 1e-12 * std::max(1.0, e.cwiseAbs().maxCoeff()));
}

// N(0, I) in standardised coordinates is N(mean, diag(scale^2)) in raw ones:
// log Z_raw = D/2 log(2 pi) + sum log scale, and the grid integral of exp(-E_raw) finds it.
TEST(Standardized, LogNormalizerShiftsBySumLogScale) {
  const RowVec<double> mean = (RowVec<double>(2) << 3.0, -1.0).finished();
  const RowVec<double> scale = (RowVec<double>(2) << 0.5, 4.0).finished();
  const ebm::Gaussian<double> unit(RowVec<double>::Zero(2), MatD::Identity(2, 2));
  const ebm::Standardized<ebm::Gaussian<double>, double> raw(unit, mean, scale);
  EXPECT_NEAR(raw.log_scale_sum(), std::log(0.5) + std::log(4.0), 1e-15);
  ebm::GridOptions g;
  g.lower = {3.0 - 5, -1.0 - 40};
  g.upper = {3.0 + 5, -1.0 + 40};
  const ebm::LogZResult z = ebm::log_normalizer_grid<double>(ebm::AnyEnergy<double>(raw), g);
  EXPECT_NEAR(z.log_z, std::log(2 * std::numbers::pi) + raw.log_scale_sum(), 1e-8);
}

TEST(Standardized, RejectsBadStatistics) {
  const ebm::Mlp<double> net = mlp();
  const RowVec<double> ok = RowVec<double>::Ones(3);
  EXPECT_THROW((ebm::Standardized<ebm::Mlp<double>, double>(net, RowVec<double>::Zero(2), ok)), ebm::InvalidArgument);
  RowVec<double> zero = ok;
  zero(1) = 0;
  EXPECT_THROW((ebm::Standardized<ebm::Mlp<double>, double>(net, ok, zero)), ebm::InvalidArgument);
  RowVec<double> nan = ok;
  nan(2) = NAN;
  EXPECT_THROW((ebm::Standardized<ebm::Mlp<double>, double>(net, nan, ok)), ebm::InvalidArgument);
  EXPECT_THROW(ebm::fold_standardization(net, ok, ok, 0.0), ebm::InvalidArgument);
}

}  // namespace
