#include <ebm/core/error.hpp>
#include <ebm/plot/ticks.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace ebm::plot {
namespace {

constexpr double kTol = 1e-9;  // relative slack for "inside the range" and for log10 of exact powers

// 10^k as the double nearest to it: division by an exact power of ten rounds once, where
// repeated multiplication by 0.1 would accumulate error.
double pow10(int k) {
  double p = 1;
  for (int i = 0; i < std::abs(k); ++i) p *= 10;  // exact up to 1e22
  return k >= 0 ? p : 1 / p;
}

// m * 10^k for an integer m, correctly rounded (both factors exact for |k| <= 22).
double scaled(double m, int k) { return k >= 0 ? m * pow10(k) : m / pow10(-k); }

std::string with_unicode_minus(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '-') out += "\u2212";
    else out += c;
  }
  return out;
}

// "1.5e+06" -> "1.5e6", "2e-05" -> "2e-5".
std::string compact_exponent(const std::string& s) {
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e);
  std::string exp = s.substr(e + 1);
  bool neg = false;
  if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) {
    neg = exp[0] == '-';
    exp.erase(0, 1);
  }
  exp.erase(0, std::min(exp.find_first_not_of('0'), exp.size() - 1));
  return mant + "e" + (neg ? "-" : "") + exp;
}

// "1.00e-3" -> "1e-3", "2.50e4" -> "2.5e4".
std::string strip_mantissa_zeros(const std::string& s) {
  const auto e = s.find('e');
  std::string mant = s.substr(0, e);
  if (mant.find('.') != std::string::npos) {
    while (mant.back() == '0') mant.pop_back();
    if (mant.back() == '.') mant.pop_back();
  }
  return e == std::string::npos ? mant : mant + s.substr(e);
}

std::string printf_string(const char* format, int digits, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, digits, v);
  return buf;
}

void check_range(const char* where, double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    throw InvalidArgument(std::string(where) + ": bad range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  if (max_ticks < 2) throw InvalidArgument(std::string(where) + ": max_ticks " + std::to_string(max_ticks) + " < 2");
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  check_range("nice_ticks", lo, hi, max_ticks);
  const double mag = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo <= 1e-12 * mag || hi == lo) {
    const double d = std::max(mag / 10, 1.0);
    lo -= d;
    hi += d;
  }
  const double span = hi - lo;
  const int k0 = static_cast<int>(std::floor(std::log10(span / max_ticks)));
  auto count = [&](double m, int k) {
    const double step = scaled(m, k);
    return std::floor(hi / step + kTol) - std::ceil(lo / step - kTol) + 1;
  };
  auto make = [&](double m, int k) {
    const double step = scaled(m, k);
    const double first = std::ceil(lo / step - kTol), last = std::floor(hi / step + kTol);
    std::vector<double> ticks;
    for (double i = first; i <= last; ++i) ticks.push_back(i == 0 ? 0.0 : scaled(i * m, k));
    return ticks;
  };
  const double few = std::min(4, max_ticks);
  for (int k = k0 - 1; k <= k0 + 2; ++k) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (count(m, k) > max_ticks) continue;
      // From step 2 to step 5 the count can drop from above max_ticks to 3: 2.5 fills the gap.
      if (m == 5 && count(5, k) < few && count(2.5, k) <= max_ticks) return make(2.5, k);
      return make(m, k);
    }
  }
  return {lo, hi};  // unreachable: step 10^(k0+1) > span / max_ticks always fits
}

std::vector<std::string> format_linear_ticks(const std::vector<double>& ticks) {
  if (ticks.empty()) return {};
  double step = 0, mag = 0;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    mag = std::max(mag, std::abs(ticks[i]));
    if (i > 0) {
      const double d = std::abs(ticks[i] - ticks[i - 1]);
      if (d > 0 && (step == 0 || d < step)) step = d;
    }
  }
  if (step == 0) step = mag > 0 ? mag : 1;
  int kstep = static_cast<int>(std::floor(std::log10(step) + kTol));
  // One more digit for steps of 2.5 x 10^k.
  if (std::abs(step / std::pow(10.0, kstep) - 2.5) < 1e-6) --kstep;
  const bool scientific = mag >= 1e5 || step < 1e-4;
  std::vector<std::string> out;
  for (double v : ticks) {
    if (std::abs(v) < step * kTol) v = 0;
    std::string s;
    if (!scientific) {
      s = printf_string("%.*f", std::max(0, -kstep), v);
    } else if (v == 0) {
      s = "0";
    } else {
      const int e = static_cast<int>(std::floor(std::log10(std::abs(v)) + kTol));
      s = strip_mantissa_zeros(compact_exponent(printf_string("%.*e", std::max(0, e - kstep), v)));
    }
    out.push_back(with_unicode_minus(s));
  }
  return out;
}

LogTicks log_ticks(double lo, double hi, int max_ticks) {
  check_range("log_ticks", lo, hi, max_ticks);
  if (!(lo > 0)) throw InvalidArgument("log_ticks: range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is not positive");
  if (hi == lo) {
    lo /= 10;
    hi *= 10;
  }
  const double llo = std::log10(lo), lhi = std::log10(hi);
  const int kmin = static_cast<int>(std::ceil(llo - kTol)), kmax = static_cast<int>(std::floor(lhi + kTol));
  auto inside = [&](double v) { return v >= lo * (1 - kTol) && v <= hi * (1 + kTol); };
  LogTicks t;
  if (kmax - kmin + 1 >= 2) {
    const int n = kmax - kmin + 1;
    const int every = (n + max_ticks - 1) / max_ticks;
    for (int k = kmin; k <= kmax; ++k) {
      const bool major = ((k % every) + every) % every == 0;
      (major ? t.major : t.minor).push_back(pow10(k));
    }
    if (every == 1) {
      for (int k = kmin - 1; k <= kmax; ++k) {
        for (int m = 2; m <= 9; ++m) {
          const double v = scaled(m, k);
          if (inside(v)) t.minor.push_back(v);
        }
      }
    }
    std::sort(t.minor.begin(), t.minor.end());
    return t;
  }
  for (int k = kmin - 1; k <= kmax; ++k) {
    for (int m = 1; m <= 9; ++m) {
      const double v = scaled(m, k);
      if (!inside(v)) continue;
      (m == 1 || m == 2 || m == 5 ? t.major : t.minor).push_back(v);
    }
  }
  if (t.major.size() < 2 || static_cast<int>(t.major.size()) > max_ticks) {
    // Less than a decade: linear positions read better than a lone power of ten.
    t.major = nice_ticks(lo, hi, max_ticks);
    t.minor.clear();
  }
  return t;
}

std::vector<std::string> format_log_ticks(const std::vector<double>& ticks) {
  const bool plain = std::all_of(ticks.begin(), ticks.end(), [](double v) { return v >= 0.01 * (1 - kTol) && v <= 1000 * (1 + kTol); });
  std::vector<std::string> out;
  for (double v : ticks) {
    std::string s;
    if (plain || v <= 0) {
      s = printf_string("%.*g", 6, v);
    } else {
      const int e = static_cast<int>(std::floor(std::log10(v) + kTol));
      s = e == 0 ? printf_string("%.*g", 3, v) : strip_mantissa_zeros(compact_exponent(printf_string("%.*e", 2, v)));
    }
    out.push_back(with_unicode_minus(s));
  }
  return out;
}

}  // namespace ebm::plot
