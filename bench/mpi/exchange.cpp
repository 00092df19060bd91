// The cost of ebm's one collective (Communicator::all_gather through gather_agreed) as a function
// of message size, to fit the model of docs/scaling.md: t(bytes) = alpha + bytes / bandwidth.
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
    const int repeats = bytes >= (std::size_t{1} << 22) ? 20 : 200;
    std::vector<double> seconds;
    for (int i = 0; i < repeats + 5; ++i) {
      const auto start = std::chrono::steady_clock::now();
      (void)ebm::gather_agreed(world, message, nullptr);
      if (i >= 5) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    if (world.rank() == 0)
      std::printf("{\"processes\": %d, \"bytes_per_process\": %zu, \"median_us\": %.2f}\n", world.size(), bytes,
                  1e6 * seconds[seconds.size() / 2]);
  }
  return 0;
}
