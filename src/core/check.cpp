#include <ebm/core/check.hpp>

#include <cmath>
#include <sstream>

namespace ebm {

std::string shape_str(Index rows, Index cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

template <class T>
void require_finite(const T* data, Index rows, Index cols, std::string_view where, std::string_view arg) {
  const Index n = rows * cols;
  for (Index k = 0; k < n; ++k) {
    if (!std::isfinite(data[k])) {
      std::ostringstream msg;
      msg << where << ": " << arg << " (" << shape_str(rows, cols) << ") has non-finite value " << data[k]
          << " at row " << k / cols << ", column " << k % cols;
      throw NumericalError(msg.str());
    }
  }
}

template void require_finite<float>(const float*, Index, Index, std::string_view, std::string_view);
template void require_finite<double>(const double*, Index, Index, std::string_view, std::string_view);

}  // namespace ebm
