// The cost of ebm's two collectives (all_gather through gather_agreed, all_to_all through
// exchange_agreed) as a function of message size, to fit the model of docs/scaling.md:
// t(bytes) = alpha + bytes / bandwidth.
// Run under mpirun: mpirun -np K ebm_bench_mpi_exchange; rank 0 prints one JSON line per size.
#include <ebm/core/memory.hpp>
#include <ebm/mpi/mpi_communicator.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  ebm::retain_freed_memory();  // as the ebm command does
  ebm::mpi::Session session(argc, argv);
  const ebm::Communicator& world = session.world();
  for (std::size_t bytes : {std::size_t{16}, std::size_t{1} << 10, std::size_t{1} << 14, std::size_t{1} << 17, std::size_t{1} << 20,
                            std::size_t{1} << 22, std::size_t{1} << 24}) {
    const std::string message(bytes, 'x');
    // The training step's exchange: each process's bytes split into one slice per process.
    const std::vector<std::string> slices(static_cast<std::size_t>(world.size()), std::string(bytes / world.size(), 'x'));
    const int repeats = bytes >= (std::size_t{1} << 22) ? 20 : 200;
    auto median_us = [&](const auto& exchange) {
      std::vector<double> seconds;
      for (int i = 0; i < repeats + 5; ++i) {
        const auto start = std::chrono::steady_clock::now();
        exchange();
        if (i >= 5) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::sort(seconds.begin(), seconds.end());
      return 1e6 * seconds[seconds.size() / 2];
    };
    const double gather = median_us([&] { (void)ebm::gather_agreed(world, message, nullptr); });
    const double scatter = median_us([&] { (void)ebm::exchange_agreed(world, slices, nullptr); });
    if (world.rank() == 0)
      std::printf("{\"processes\": %d, \"bytes_per_process\": %zu, \"all_gather_us\": %.2f, \"all_to_all_us\": %.2f}\n",
                  world.size(), bytes, gather, scatter);
  }
  return 0;
}
