#pragma once
// Checks of request fields, shared by the facade's validate()s: InvalidArgument
// "name: must be ..., got v", the field named as front ends name their options.
#include <ebm/core/error.hpp>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

namespace ebm::facade::detail {

inline std::string text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
inline void at_least(const char* name, std::int64_t v, std::int64_t minimum) {
  if (v < minimum) throw InvalidArgument(std::string(name) + ": must be >= " + std::to_string(minimum) + ", got " + std::to_string(v));
}
inline void positive(const char* name, double v) {
  if (!(std::isfinite(v) && v > 0)) throw InvalidArgument(std::string(name) + ": must be > 0, got " + text(v));
}
inline void nonnegative(const char* name, double v) {
  if (!(std::isfinite(v) && v >= 0)) throw InvalidArgument(std::string(name) + ": must be >= 0, got " + text(v));
}
inline void fraction(const char* name, double v) {  // [0, 1)
  if (!(v >= 0 && v < 1)) throw InvalidArgument(std::string(name) + ": must be in [0, 1), got " + text(v));
}

}  // namespace ebm::facade::detail
