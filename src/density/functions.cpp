#include <ebm/core/check.hpp>
#include <ebm/density/functions.hpp>

#include <string>

namespace ebm::detail {

void check_energy_dim(Index energy_dim, Index data_cols, const char* where) {
  require(energy_dim == data_cols, where, [&] {
    return "the energy's dim is " + std::to_string(energy_dim) + " but the points have " + std::to_string(data_cols) +
           " columns";
  });
}

}  // namespace ebm::detail
