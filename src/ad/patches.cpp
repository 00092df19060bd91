#include <ebm/ad/patches.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>

#include "op_support.hpp"

#include <algorithm>
#include <cstring>

namespace ebm::ad {

void PatchGeometry::validate(const std::string& where) const {
  auto positive = [&](Index v, const char* field) {
    require(v >= 1, where, [&] { return std::string(field) + " must be >= 1, got " + std::to_string(v); });
  };
  positive(height, "height");
  positive(width, "width");
  positive(channels, "channels");
  positive(kernel_h, "kernel height");
  positive(kernel_w, "kernel width");
  positive(stride, "stride");
  positive(dilation, "dilation");
  require(padding >= 0, where, [&] { return "padding must be >= 0, got " + std::to_string(padding); });
  require(dilation * (kernel_h - 1) + 1 <= height + 2 * padding && dilation * (kernel_w - 1) + 1 <= width + 2 * padding,
          where, [&] { return "the kernel does not fit the padded image (" + str() + ")"; });
}

std::string PatchGeometry::str() const {
  return std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels) + ", kernel " +
         std::to_string(kernel_h) + "x" + std::to_string(kernel_w) + ", stride " + std::to_string(stride) +
         ", padding " + std::to_string(padding) + ", dilation " + std::to_string(dilation);
}

namespace {

using detail::tape_of;

// The geometry travels in the node's index list (copied with the node for the backward rule).
std::vector<Index> encode(const PatchGeometry& g) {
  return {g.height, g.width, g.channels, g.kernel_h, g.kernel_w, g.stride, g.padding, g.dilation};
}

// Calls visit(image_offset, patch_offset) for every in-image kernel tap of image n's patches,
// with offsets to the first channel; channels are contiguous on both sides. Rows of output
// pixels [oy0, oy1). outside(patch_offset) for the taps that fall in the padding.
template <class Visit, class Outside>
void for_each_tap(const PatchGeometry& g, Index oy0, Index oy1, Visit&& visit, Outside&& outside) {
  const Index wo = g.out_width(), c = g.channels, patch = g.patch_size();
  for (Index oy = oy0; oy < oy1; ++oy)
    for (Index ox = 0; ox < wo; ++ox) {
      const Index row = (oy * wo + ox) * patch;
      for (Index ky = 0; ky < g.kernel_h; ++ky) {
        const Index y = oy * g.stride - g.padding + ky * g.dilation;
        const bool row_inside = y >= 0 && y < g.height;
        for (Index kx = 0; kx < g.kernel_w; ++kx) {
          const Index x = ox * g.stride - g.padding + kx * g.dilation;
          const Index po = row + (ky * g.kernel_w + kx) * c;
          if (row_inside && x >= 0 && x < g.width) visit((y * g.width + x) * c, po);
          else outside(po);
        }
      }
    }
}

}  // namespace

PatchGeometry decode_patch_geometry(const std::vector<Index>& v) {
  PatchGeometry g;
  g.height = v[0];
  g.width = v[1];
  g.channels = v[2];
  g.kernel_h = v[3];
  g.kernel_w = v[4];
  g.stride = v[5];
  g.padding = v[6];
  g.dilation = v[7];
  return g;
}

template <class T>
Var<T> reshape(Var<T> a, Index rows, Index cols) {
  const char* where = "ebm::ad::reshape";
  Tape<T>& t = tape_of(a, where);
  if (rows < 0 || cols < 0 || rows * cols != a.rows() * a.cols())
    throw InvalidArgument(std::string(where) + ": cannot reshape " + shape_str(a.rows(), a.cols()) + " to " +
                          shape_str(rows, cols));
  if (rows == a.rows() && cols == a.cols()) return a;
  // A view of the input's numbers, no copy: a node's data stays where it is until reset() (node
  // buffers move with the node array, their heap blocks do not).
  const std::int32_t id = t.push(Op::Reshape, a.id(), -1, 0, 0);
  auto& n = t.node(id);
  n.rows = rows;
  n.cols = cols;
  n.external = t.node(a.id()).data();
  return t.finish(id);
}

template <class T>
Var<T> unfold(Var<T> x, const PatchGeometry& g) {
  const char* where = "ebm::ad::unfold";
  Tape<T>& t = tape_of(x, where);
  g.validate(where);
  if (x.cols() != g.image_size())
    throw InvalidArgument(std::string(where) + ": input has shape " + shape_str(x.rows(), x.cols()) + ", expected Nx" +
                          std::to_string(g.image_size()) + " for " + g.str());
  const Index n = x.rows(), ho = g.out_height(), per_image = g.patches() * g.patch_size();
  const std::int32_t id = t.push(Op::Unfold, x.id(), -1, n * g.patches(), g.patch_size());
  auto& node = t.node(id);
  node.indices = encode(g);
  const T* in = t.node(x.id()).data();
  T* out = node.buffer.data();
  const Index c = g.channels;
  // Work items are (image, output row) pairs: disjoint outputs, so any split gives the same bits.
  parallel_for_chunks(n * ho, 8, [&](Index b, Index e) {
    for (Index item = b; item < e; ++item) {
      const Index img = item / ho, oy = item % ho;
      T* o = out + img * per_image;
      const T* src = in + img * g.image_size();
      for_each_tap(
          g, oy, oy + 1,
          [&](Index io, Index po) {
            for (Index k = 0; k < c; ++k) o[po + k] = src[io + k];  // c is small: a loop, not a memmove call
          },
          [&](Index po) { std::fill(o + po, o + po + c, T(0)); });
    }
  });
  return t.finish(id);
}

template <class T>
Var<T> fold(Var<T> patches, const PatchGeometry& g) {
  const char* where = "ebm::ad::fold";
  Tape<T>& t = tape_of(patches, where);
  g.validate(where);
  if (patches.cols() != g.patch_size() || patches.rows() % g.patches() != 0)
    throw InvalidArgument(std::string(where) + ": input has shape " + shape_str(patches.rows(), patches.cols()) +
                          ", expected (N*" + std::to_string(g.patches()) + ")x" + std::to_string(g.patch_size()) +
                          " for " + g.str());
  const Index n = patches.rows() / g.patches(), per_image = g.patches() * g.patch_size();
  const std::int32_t id = t.push(Op::Fold, patches.id(), -1, n, g.image_size());
  auto& node = t.node(id);
  node.indices = encode(g);
  const T* in = t.node(patches.id()).data();
  T* out = node.buffer.data();
  const Index c = g.channels, ho = g.out_height();
  // One image per work item, its taps added in a fixed order: the same bits for any thread count.
  parallel_for_chunks(n, 1, [&](Index b, Index e) {
    for (Index img = b; img < e; ++img) {
      T* o = out + img * g.image_size();
      const T* src = in + img * per_image;
      std::fill(o, o + g.image_size(), T(0));
      for_each_tap(
          g, 0, ho, [&](Index io, Index po) {
            for (Index k = 0; k < c; ++k) o[io + k] += src[po + k];
          },
          [](Index) {});
    }
  });
  return t.finish(id);
}

#define EBM_INSTANTIATE(T)                                    \
  template Var<T> reshape<T>(Var<T>, Index, Index);           \
  template Var<T> unfold<T>(Var<T>, const PatchGeometry&);    \
  template Var<T> fold<T>(Var<T>, const PatchGeometry&);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm::ad
