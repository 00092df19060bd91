#pragma once
// Axis ticks: "nice" positions (1-2-5 steps for linear axes, decades for log axes) and their
// compact labels. Exposed for tests and for callers that draw their own annotations.
#include <string>
#include <vector>

namespace ebm::plot {

/// Tick positions inside [lo, hi] (inclusive up to rounding) at multiples of a 1-2-5 step
/// (1, 2 or 5 times a power of ten), the smallest such step that gives at most max_ticks
/// ticks; 2.5 times a power of ten where the 5-step would leave fewer than 4 (e.g. [1.9, 18.1]:
/// 2.5, 5, ..., 17.5 rather than 5, 10, 15). A degenerate range (lo == hi) is widened to
/// lo -+ max(|lo| / 10, 1) first.
/// Throws InvalidArgument for non-finite bounds, lo > hi or max_ticks < 2.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 8);

/// Labels for linear ticks: fixed decimals from the step ("0.0", "0.5", "1.0"); scientific
/// ("1.5e6", "2e-5") when the largest |tick| >= 1e5 or the step < 1e-4. Minus is U+2212.
std::vector<std::string> format_linear_ticks(const std::vector<double>& ticks);

struct LogTicks {
  std::vector<double> major;  // labelled: powers of ten (every k-th decade when many), or 1-2-5
  std::vector<double> minor;  // unlabelled: 2..9 times the powers of ten
};

/// Ticks for a log axis on [lo, hi], 0 < lo <= hi: decades 10^k inside the range, every
/// k-th one when there are more than max_ticks; when fewer than two decades fall inside,
/// 1-2-5 multiples instead. A degenerate range is widened to [lo / 10, lo * 10].
LogTicks log_ticks(double lo, double hi, int max_ticks = 8);

/// Labels for log ticks: plain ("0.01", "1", "100") when every tick is in [0.01, 1000],
/// otherwise "1e-3" style ("1" for 10^0, "2e-3" for multiples).
std::vector<std::string> format_log_ticks(const std::vector<double>& ticks);

}  // namespace ebm::plot
