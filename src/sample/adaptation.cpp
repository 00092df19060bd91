#include <ebm/core/check.hpp>
#include <ebm/sample/adaptation.hpp>

#include <string>

namespace ebm {

WarmupWindows::WarmupWindows(Index warmup, Index init_buffer, Index term_buffer, Index base_window)
    : warmup_(warmup), init_buffer_(init_buffer), term_buffer_(term_buffer), base_window_(base_window) {
  require(warmup >= 0 && init_buffer >= 0 && term_buffer >= 0 && base_window >= 1, "ebm::WarmupWindows",
          "warm-up lengths must be >= 0 and the base window >= 1");
  if (warmup < 20) return;  // too short to estimate a metric: step size only (Stan does the same)
  adapt_metric_ = true;
  if (init_buffer + base_window + term_buffer > warmup) {
    init_buffer_ = warmup * 15 / 100;
    term_buffer_ = warmup / 10;
    base_window_ = warmup - init_buffer_ - term_buffer_;
  }
}

bool WarmupWindows::window_end(Index k) const {
  if (!adapt_metric_ || k <= init_buffer_ || k > warmup_ - term_buffer_) return false;
  const Index slow_end = warmup_ - term_buffer_;
  // As Stan: the first window is base long; each next one doubles, and a window that would
  // leave less than its own length before slow_end is stretched to slow_end.
  Index end = init_buffer_ + base_window_, length = base_window_;
  while (true) {
    if (k == end) return true;
    if (k < end || end >= slow_end) return false;
    length *= 2;
    end = end + 2 * length >= slow_end ? slow_end : end + length;
  }
}

template <class T>
void RunningMoments<T>::reset(Index dim, bool dense) {
  dense_ = dense;
  n_ = 0;
  mean_ = Vec<double>::Zero(dim);
  m2_ = dense ? Mat<double>::Zero(dim, dim) : Mat<double>::Zero(1, dim);
}

template <class T>
void RunningMoments<T>::add(const T* x) {
  const Index d = mean_.size();
  ++n_;
  Vec<double> delta(d);
  for (Index j = 0; j < d; ++j) delta(j) = double(x[j]) - mean_(j);
  mean_ += delta / double(n_);
  for (Index j = 0; j < d; ++j) {
    const double after = double(x[j]) - mean_(j);
    if (!dense_) {
      m2_(0, j) += delta(j) * after;
      continue;
    }
    for (Index i = 0; i < d; ++i) m2_(i, j) += delta(i) * after;
  }
}

template <class T>
Mat<T> RunningMoments<T>::regularized() const {
  const double n = double(n_), shrink = n / (n + 5), jitter = 1e-3 * 5 / (n + 5);
  Mat<double> s = m2_ / std::max(n - 1, 1.0) * shrink;
  if (dense_) {
    s = 0.5 * (s + s.transpose()).eval();
    s.diagonal().array() += jitter;
  } else {
    s.array() += jitter;
  }
  return s.cast<T>();
}

template class RunningMoments<float>;
template class RunningMoments<double>;

}  // namespace ebm
