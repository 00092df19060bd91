// .npz archives (one array), as `--data` and `--at` read them.
#include "harness.hpp"

#include <ebm/data/matrix_file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ebm::fuzz::run_reader(data, size, ".npz", [](const std::string& p) { (void)ebm::read_table<double>(p); });
}
