// Training checkpoints, as `--resume` reads them.
#include "harness.hpp"

#include <ebm/io/checkpoint.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ebm::fuzz::run_reader(data, size, ".safetensors", [](const std::string& p) { (void)ebm::io::load_checkpoint<float>(p); });
}
