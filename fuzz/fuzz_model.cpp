// Model files (safetensors with ebm metadata), as `--model` reads them.
#include "harness.hpp"

#include <ebm/io/model_file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ebm::fuzz::run_reader(data, size, ".safetensors", [](const std::string& p) { (void)ebm::io::load_model<float>(p); });
}
