#pragma once
// Matrix aliases used throughout ebm. A batch is N x D, one point per row (row-major), as in
// NumPy and CSV files.
#include <Eigen/Core>

#include <cstdint>

namespace ebm {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatMap = Eigen::Map<Mat<T>>;
template <class T>
using ConstMatMap = Eigen::Map<const Mat<T>>;
/// Column vector (N x 1), e.g. one energy per point.
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
/// Row vector (1 x D), e.g. one coordinate vector or per-column statistics.
template <class T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

using Index = Eigen::Index;

using MatF = Mat<float>;
using MatD = Mat<double>;

}  // namespace ebm
