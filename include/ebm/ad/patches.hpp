#pragma once
// Image ops on batched matrices: reshape, and the unfold/fold pair that convolutions, pooling and
// upsampling are built from. Images are rows of a matrix in channels-last order: row n of an
// N x (H W C) matrix holds pixel (y, x), channel c at column (y W + x) C + c. For one channel this
// is the same order as a flattened H x W image (and PyTorch's N x 1 x H x W).
//
// unfold (im2col) copies every receptive field into a row: an N x (H W C) matrix becomes
// (N Ho Wo) x (kh kw C), row (n Ho + oy) Wo + ox holding the patch at output pixel (oy, ox), column
// (ky kw + kx) C + c holding input pixel (oy s - p + ky d, ox s - p + kx d), channel c (zero where
// that falls in the padding). fold is its adjoint: it adds each patch entry back into its pixel.
// Each is the other's backward rule, so derivatives of any order through them come for free.
#include <ebm/ad/tape.hpp>

#include <string>
#include <vector>

namespace ebm::ad {

/// The geometry of a patch extraction: input image size and channels, kernel, stride, zero
/// padding (the same on all sides) and dilation.
struct PatchGeometry {
  Index height = 1, width = 1, channels = 1;
  Index kernel_h = 1, kernel_w = 1;
  Index stride = 1, padding = 0, dilation = 1;

  Index out_height() const { return (height + 2 * padding - dilation * (kernel_h - 1) - 1) / stride + 1; }
  Index out_width() const { return (width + 2 * padding - dilation * (kernel_w - 1) - 1) / stride + 1; }
  Index image_size() const { return height * width * channels; }  // columns of an input row
  Index patch_size() const { return kernel_h * kernel_w * channels; }  // columns of an unfolded row
  Index patches() const { return out_height() * out_width(); }  // unfolded rows per image
  /// Throws InvalidArgument naming `where` for non-positive sizes, negative padding, or a kernel
  /// that does not fit the padded image.
  void validate(const std::string& where) const;
  std::string str() const;  // "28x28x1, kernel 3x3, stride 1, padding 1, dilation 1"
};

/// The geometry as unfold/fold store it in a node's index list (engine-internal).
PatchGeometry decode_patch_geometry(const std::vector<Index>& encoded);

/// a (r x c) with the same numbers in row-major order as rows x cols (r c = rows cols).
template <class T>
Var<T> reshape(Var<T> a, Index rows, Index cols);
/// N x (H W C) -> (N Ho Wo) x (kh kw C); see above.
template <class T>
Var<T> unfold(Var<T> x, const PatchGeometry& g);
/// (N Ho Wo) x (kh kw C) -> N x (H W C), the adjoint of unfold.
template <class T>
Var<T> fold(Var<T> patches, const PatchGeometry& g);

}  // namespace ebm::ad
