#include <ebm/core/check.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <sstream>

namespace ebm {

std::string shape_str(Index rows, Index cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

void require_box(const std::vector<double>& lower, const std::vector<double>& upper, Index dim, std::string_view where) {
  auto num = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  require(static_cast<Index>(lower.size()) == dim && static_cast<Index>(upper.size()) == dim, where, [&] {
    return "lower and upper must have dim = " + std::to_string(dim) + " values, got " + std::to_string(lower.size()) +
           " and " + std::to_string(upper.size());
  });
  for (std::size_t j = 0; j < lower.size(); ++j) {
    require(std::isfinite(lower[j]) && std::isfinite(upper[j]) && lower[j] < upper[j], where, [&] {
      return "lower[" + std::to_string(j) + "] = " + num(lower[j]) + " must be finite and below upper[" +
             std::to_string(j) + "] = " + num(upper[j]);
    });
  }
}

template <class T>
bool all_finite(const T* data, Index n) {
  // A value is finite when its magnitude bits are below those of infinity: the largest of them,
  // an integer reduction GCC vectorises (a loop that stops at the first bad value is not).
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits magnitude = std::numeric_limits<Bits>::max() >> 1;
  Bits largest = 0;
  for (Index k = 0; k < n; ++k) largest = std::max(largest, std::bit_cast<Bits>(data[k]) & magnitude);
  return largest < std::bit_cast<Bits>(std::numeric_limits<T>::infinity());
}

template <class T>
void require_finite(const T* data, Index rows, Index cols, std::string_view where, std::string_view arg) {
  const Index n = rows * cols;
  if (all_finite(data, n)) return;
  for (Index k = 0; k < n; ++k) {
    if (!std::isfinite(data[k])) {
      std::ostringstream msg;
      msg << where << ": " << arg << " (" << shape_str(rows, cols) << ") has non-finite value " << data[k]
          << " at row " << k / cols << ", column " << k % cols;
      throw NumericalError(msg.str());
    }
  }
}

template bool all_finite<float>(const float*, Index);
template bool all_finite<double>(const double*, Index);
template void require_finite<float>(const float*, Index, Index, std::string_view, std::string_view);
template void require_finite<double>(const double*, Index, Index, std::string_view, std::string_view);

}  // namespace ebm
