// reshape, unfold (im2col on channels-last rows) and fold (its adjoint): shapes and values against
// direct loops over the documented index formulas, the adjoint identity, first and second
// derivatives against central differences, bit-identical results for 1 and 2 threads and for a
// sample alone against the same sample in a batch, and the errors for bad geometry and shapes.
#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/ad/patches.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>

#include <gtest/gtest.h>

#include "support/test_support.hpp"

#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Index;
using ebm::MatD;
using ad::PatchGeometry;
using V = ad::Var<double>;

template <class T = double>
ebm::Mat<T> normal(Index rows, Index cols, std::uint64_t seed) {
  ebm::Mat<T> m(rows, cols);
  ebm::CounterRng(seed, 0).normal<T>(0, std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

PatchGeometry geometry(Index h, Index w, Index c, Index kh, Index kw, Index stride, Index padding, Index dilation) {
  return {.height = h, .width = w, .channels = c, .kernel_h = kh, .kernel_w = kw, .stride = stride,
          .padding = padding, .dilation = dilation};
}

// The documented layout, written out: row (n Ho + oy) Wo + ox, column (ky kw + kx) C + c holds
// input pixel (oy s - p + ky d, ox s - p + kx d), channel c, or 0 in the padding.
template <class T>
ebm::Mat<T> naive_unfold(const ebm::Mat<T>& x, const PatchGeometry& g) {
  const Index ho = g.out_height(), wo = g.out_width();
  ebm::Mat<T> out = ebm::Mat<T>::Zero(x.rows() * ho * wo, g.kernel_h * g.kernel_w * g.channels);
  for (Index n = 0; n < x.rows(); ++n)
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox)
        for (Index ky = 0; ky < g.kernel_h; ++ky)
          for (Index kx = 0; kx < g.kernel_w; ++kx)
            for (Index c = 0; c < g.channels; ++c) {
              const Index y = oy * g.stride - g.padding + ky * g.dilation;
              const Index xx = ox * g.stride - g.padding + kx * g.dilation;
              if (y < 0 || y >= g.height || xx < 0 || xx >= g.width) continue;
              out((n * ho + oy) * wo + ox, (ky * g.kernel_w + kx) * g.channels + c) =
                  x(n, (y * g.width + xx) * g.channels + c);
            }
  return out;
}

// fold as the transpose of the same index map: each patch entry added to its pixel.
MatD naive_fold(const MatD& patches, const PatchGeometry& g) {
  const Index ho = g.out_height(), wo = g.out_width(), n_images = patches.rows() / (ho * wo);
  MatD out = MatD::Zero(n_images, g.image_size());
  for (Index n = 0; n < n_images; ++n)
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox)
        for (Index ky = 0; ky < g.kernel_h; ++ky)
          for (Index kx = 0; kx < g.kernel_w; ++kx)
            for (Index c = 0; c < g.channels; ++c) {
              const Index y = oy * g.stride - g.padding + ky * g.dilation;
              const Index xx = ox * g.stride - g.padding + kx * g.dilation;
              if (y < 0 || y >= g.height || xx < 0 || xx >= g.width) continue;
              out(n, (y * g.width + xx) * g.channels + c) +=
                  patches((n * ho + oy) * wo + ox, (ky * g.kernel_w + kx) * g.channels + c);
            }
  return out;
}

// Strides 1/2/3, padding 0/1/2, dilation 1/2, C = 1/3, non-square images and kernels, a kernel
// the size of the padded image, a stride that skips pixels.
const std::vector<PatchGeometry> kGeometries = {
    geometry(5, 7, 1, 3, 3, 1, 0, 1), geometry(5, 7, 3, 3, 3, 2, 1, 1), geometry(6, 5, 3, 3, 2, 1, 2, 2),
    geometry(4, 4, 1, 2, 2, 2, 0, 1), geometry(7, 6, 3, 3, 3, 2, 2, 2), geometry(5, 7, 3, 1, 1, 3, 0, 1),
    geometry(3, 4, 1, 3, 3, 1, 2, 2), geometry(4, 6, 3, 2, 3, 2, 1, 2), geometry(1, 1, 3, 1, 1, 1, 0, 1),
    geometry(3, 5, 2, 5, 5, 1, 1, 1)};

class Geometries : public ::testing::TestWithParam<PatchGeometry> {};

TEST_P(Geometries, ShapesAndValuesFollowTheDocumentedLayout) {
  const PatchGeometry g = GetParam();
  const MatD x = normal(3, g.image_size(), 1);
  ad::Tape<double> tape;
  const V u = ad::unfold(tape.variable(x), g);
  EXPECT_EQ(u.rows(), 3 * g.out_height() * g.out_width());
  EXPECT_EQ(u.cols(), g.kernel_h * g.kernel_w * g.channels);
  EXPECT_EQ(g.out_height(), (g.height + 2 * g.padding - g.dilation * (g.kernel_h - 1) - 1) / g.stride + 1);
  EXPECT_TRUE(MatD(u.value()) == naive_unfold(x, g)) << "unfold is a copy: it must be exact";

  const MatD p = normal(u.rows(), u.cols(), 2);
  const V f = ad::fold(tape.variable(p), g);
  ASSERT_EQ(f.rows(), 3);
  ASSERT_EQ(f.cols(), g.image_size());
  const MatD expected = naive_fold(p, g);
  const double err = (MatD(f.value()) - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff();
  EXPECT_LE(err, 1e-15);  // a few additions per pixel, perhaps in another order

  // float is instantiated too.
  const ebm::Mat<float> xf = x.cast<float>();
  ad::Tape<float> tf;
  EXPECT_TRUE(ebm::Mat<float>(ad::unfold(tf.variable(xf), g).value()) == naive_unfold(xf, g));
}

TEST_P(Geometries, FoldIsTheAdjointOfUnfold) {
  // <fold(A), x> = <A, unfold(x)> for any A and x.
  const PatchGeometry g = GetParam();
  const MatD x = normal(2, g.image_size(), 3);
  ad::Tape<double> tape;
  const V u = ad::unfold(tape.variable(x), g);
  const MatD a = normal(u.rows(), u.cols(), 4);
  const V f = ad::fold(tape.variable(a), g);
  const double lhs = (MatD(f.value()).array() * x.array()).sum();
  const double rhs = (a.array() * MatD(u.value()).array()).sum();
  const double scale = (MatD(f.value()).array().abs() * x.array().abs()).sum();
  ebm_test::measured("|<fold A, x> - <A, unfold x>| / sum|..| for " + g.str(), std::abs(lhs - rhs) / scale);
  EXPECT_LE(std::abs(lhs - rhs), 1e-14 * scale);
}

TEST_P(Geometries, FirstAndSecondDerivativesMatchCentralDifferences) {
  const PatchGeometry g = GetParam();
  const MatD x = normal(2, g.image_size(), 5);
  ad::Tape<double> probe;
  const Index rows = ad::unfold(probe.variable(x), g).rows();
  const MatD p = normal(rows, g.patch_size(), 6);
  // Linear ops: gradgradcheck through a nonlinearity, so that the backward rule's own backward
  // (unfold's is fold, fold's is unfold) carries a non-zero second derivative.
  const ad::CheckedFunction unfold_f = [g](ad::Tape<double>&, std::span<const V> in) {
    return ad::tanh(ad::unfold(in[0], g));
  };
  const ad::CheckedFunction fold_f = [g](ad::Tape<double>&, std::span<const V> in) {
    return ad::tanh(ad::fold(in[0], g));
  };
  for (const auto& [name, f, input] : {std::tuple{"unfold", unfold_f, x}, std::tuple{"fold", fold_f, p}}) {
    const auto first = ad::gradcheck(f, {input});
    EXPECT_TRUE(first.ok) << name << ": " << first.summary();
    const auto second = ad::gradgradcheck(f, {input});
    EXPECT_TRUE(second.ok) << name << ": " << second.summary();
  }
}

INSTANTIATE_TEST_SUITE_P(Patches, Geometries, ::testing::ValuesIn(kGeometries),
                         [](const ::testing::TestParamInfo<PatchGeometry>& param_info) {
                           const PatchGeometry& g = param_info.param;
                           return std::to_string(g.height) + "x" + std::to_string(g.width) + "x" +
                                  std::to_string(g.channels) + "_k" + std::to_string(g.kernel_h) +
                                  std::to_string(g.kernel_w) + "_s" + std::to_string(g.stride) + "_p" +
                                  std::to_string(g.padding) + "_d" + std::to_string(g.dilation);
                         });

TEST(Reshape, KeepsTheRowMajorOrderAndDifferentiates) {
  const MatD a = normal(3, 4, 7);
  ad::Tape<double> tape;
  const V r = ad::reshape(tape.variable(a), 2, 6);
  ASSERT_EQ(r.rows(), 2);
  ASSERT_EQ(r.cols(), 6);
  for (Index i = 0; i < 12; ++i) EXPECT_EQ(r.value()(i / 6, i % 6), a(i / 4, i % 4));
  EXPECT_EQ(ad::reshape(tape.variable(a), 12, 1).value()(5, 0), a(1, 1));
  EXPECT_EQ(ad::reshape(tape.variable(a), 3, 4).cols(), 4);

  const ad::CheckedFunction f = [](ad::Tape<double>&, std::span<const V> in) {
    return ad::square(ad::reshape(in[0], 6, 2)) * ad::reshape(in[0], 6, 2);
  };
  const auto first = ad::gradcheck(f, {a});
  EXPECT_TRUE(first.ok) << first.summary();
  const auto second = ad::gradgradcheck(f, {a});
  EXPECT_TRUE(second.ok) << second.summary();
}

TEST(Reshape, EmptyMatricesTakeTheRequestedShape) {
  ad::Tape<double> tape;
  const V r = ad::reshape(tape.variable(MatD(0, 3)), 0, 5);
  EXPECT_EQ(r.rows(), 0);
  EXPECT_EQ(r.cols(), 5);
}

TEST(Patches, UnfoldThenFoldChainsDifferentiateToAnyOrder) {
  // fold(unfold(x)) multiplies each pixel by the number of patches covering it; through a
  // nonlinearity in between, the second derivatives need both rules of both ops.
  const PatchGeometry g = geometry(4, 5, 2, 3, 3, 1, 1, 1);
  const ad::CheckedFunction f = [g](ad::Tape<double>&, std::span<const V> in) {
    return ad::fold(ad::square(ad::unfold(in[0], g)) * ad::unfold(in[0], g), g);
  };
  const auto first = ad::gradcheck(f, {normal(2, g.image_size(), 8)});
  EXPECT_TRUE(first.ok) << first.summary();
  const auto second = ad::gradgradcheck(f, {normal(2, g.image_size(), 8)});
  EXPECT_TRUE(second.ok) << second.summary();
}

template <class T>
std::vector<T> flat(const Eigen::Ref<const ebm::Mat<T>>& m) {
  return std::vector<T>(m.data(), m.data() + m.size());
}

TEST(Patches, BitIdenticalForOneAndTwoThreads) {
  // Enough images and output rows for several chunks of both parallel loops; gradients too.
  const PatchGeometry g = geometry(12, 10, 3, 3, 3, 2, 1, 2);
  const MatD x = normal(37, g.image_size(), 9);
  auto run = [&] {
    ad::Tape<double> tape;
    const V xv = tape.variable(x);
    const V u = ad::unfold(xv, g);
    const V f = ad::fold(ad::square(u), g);
    const V gx = tape.grad(ad::sum(ad::tanh(f)), {xv})[0];
    std::vector<double> out = flat<double>(u.value());
    for (double v : flat<double>(f.value())) out.push_back(v);
    for (double v : flat<double>(gx.value())) out.push_back(v);
    return out;
  };
  ebm::set_num_threads(1);
  const auto one = run();
  ebm::set_num_threads(2);
  const auto two = run();
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), sizeof(double) * one.size()));
}

TEST(Patches, ASampleAloneEqualsTheSameSampleInABatch) {
  ebm::set_num_threads(2);
  const PatchGeometry g = geometry(7, 6, 3, 3, 3, 1, 1, 1);
  const MatD x = normal(9, g.image_size(), 10);
  ad::Tape<double> tape;
  const MatD all_u = ad::unfold(tape.variable(x), g).value();
  const MatD all_f = ad::fold(tape.variable(all_u), g).value();
  const Index per = g.out_height() * g.out_width();
  for (Index n = 0; n < x.rows(); ++n) {
    ad::Tape<double> alone;
    const MatD u = ad::unfold(alone.variable(MatD(x.row(n))), g).value();
    EXPECT_TRUE(u == all_u.middleRows(n * per, per)) << "sample " << n;
    const MatD f = ad::fold(alone.variable(u), g).value();
    EXPECT_TRUE(f == all_f.row(n)) << "sample " << n;
  }
}

TEST(Patches, BadGeometryAndShapesAreInvalidArgumentsNamingTheOpAndTheShape) {
  using ebm::InvalidArgument;
  using ebm_test::expect_throws_with;
  ad::Tape<double> tape;
  const V x = tape.variable(normal(2, 9, 11));  // 3x3x1 images
  const PatchGeometry ok = geometry(3, 3, 1, 2, 2, 1, 0, 1);
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 2, 2, 0, 0, 1)); },
                                      "ebm::ad::unfold: stride must be >= 1, got 0");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 2, 2, 1, -1, 1)); },
                                      "ebm::ad::unfold: padding must be >= 0, got -1");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 0, 2, 1, 0, 1)); },
                                      "kernel height must be >= 1, got 0");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 2, 2, 1, 0, 0)); },
                                      "dilation must be >= 1, got 0");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 4, 4, 1, 0, 1)); },
                                      "ebm::ad::unfold: the kernel does not fit the padded image (3x3x1, kernel 4x4");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 1, 2, 2, 1, 0, 3)); },
                                      "the kernel does not fit the padded image (3x3x1, kernel 2x2, stride 1, padding 0, dilation 3)");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(x, geometry(3, 3, 2, 2, 2, 1, 0, 1)); },
                                      "ebm::ad::unfold: input has shape 2x9, expected Nx18 for 3x3x2");
  expect_throws_with<InvalidArgument>([&] { ad::fold(tape.variable(normal(7, 4, 12)), ok); },
                                      "ebm::ad::fold: input has shape 7x4, expected (N*4)x4 for 3x3x1");
  expect_throws_with<InvalidArgument>([&] { ad::fold(tape.variable(normal(8, 5, 12)), ok); },
                                      "ebm::ad::fold: input has shape 8x5");
  expect_throws_with<InvalidArgument>([&] { ad::fold(x, geometry(3, 3, 1, 2, 2, 1, 0, 5)); },
                                      "ebm::ad::fold: the kernel does not fit");
  expect_throws_with<InvalidArgument>([&] { ad::reshape(x, 4, 5); }, "ebm::ad::reshape: cannot reshape 2x9 to 4x5");
  expect_throws_with<InvalidArgument>([&] { ad::reshape(x, -2, -9); }, "ebm::ad::reshape: cannot reshape 2x9 to");
  expect_throws_with<InvalidArgument>([&] { ad::unfold(V(), ok); }, "ebm::ad::unfold");
}

}  // namespace
