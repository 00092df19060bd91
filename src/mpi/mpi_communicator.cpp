#include <ebm/mpi/mpi_communicator.hpp>

#include <ebm/core/error.hpp>

#include <mpi.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace ebm::mpi {
namespace {

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string("MPI: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// Where each rank's message goes in one receive buffer: MPI counts in int, so at most 2 GiB.
struct Placement {
  std::vector<int> offsets;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  std::size_t total = 0;
};
Placement place(const std::vector<int>& lengths) {
  Placement p;
  for (const int n : lengths) {
    if (p.total + static_cast<std::size_t>(n) > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error("MPI: the messages of one exchange exceed MPI's 2 GiB limit");
    p.offsets.push_back(static_cast<int>(p.total));
    p.ranges.emplace_back(p.total, p.total + static_cast<std::size_t>(n));
    p.total += static_cast<std::size_t>(n);
  }
  return p;
}

class World final : public Communicator {
 public:
  World() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Lengths first, then the bytes.
  Gathered all_gather(std::string_view mine) const override {
    if (mine.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error("MPI: a message of " + std::to_string(mine.size()) + " bytes exceeds MPI's 2 GiB limit");
    const int length = static_cast<int>(mine.size());
    std::vector<int> lengths(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    Placement p = place(lengths);
    std::string all(p.total, '\0');
    check(MPI_Allgatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), p.offsets.data(), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    return Gathered(std::move(all), std::move(p.ranges));
  }

  Gathered all_to_all(const std::vector<std::string>& to_each) const override {
    if (static_cast<int>(to_each.size()) != size_) throw Error("MPI: all_to_all needs one message per rank");
    std::vector<int> send_lengths(static_cast<std::size_t>(size_)), send_offsets(static_cast<std::size_t>(size_));
    std::string out;
    for (int q = 0; q < size_; ++q) {
      const std::string& m = to_each[static_cast<std::size_t>(q)];
      if (out.size() + m.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error("MPI: messages exceed MPI's 2 GiB limit");
      send_offsets[static_cast<std::size_t>(q)] = static_cast<int>(out.size());
      send_lengths[static_cast<std::size_t>(q)] = static_cast<int>(m.size());
      out += m;
    }
    std::vector<int> lengths(static_cast<std::size_t>(size_));
    check(MPI_Alltoall(send_lengths.data(), 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Alltoall");
    Placement p = place(lengths);
    std::string in(p.total, '\0');
    check(MPI_Alltoallv(out.data(), send_lengths.data(), send_offsets.data(), MPI_BYTE, in.data(), lengths.data(), p.offsets.data(),
                        MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Alltoallv");
    return Gathered(std::move(in), std::move(p.ranges));
  }

 private:
  int rank_ = 0, size_ = 1;
};

const World* world_ = nullptr;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_PROCID"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

int local_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const int n = env_int(name); n >= 1) return n;
  return 1;
}

Session::Session(int& argc, char**& argv) {
  if (world_ != nullptr) throw Error("MPI: one Session per process");
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (check() turns them into exceptions) rather than aborting.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  world_ = new World();
}

Session::~Session() {
  delete world_;
  world_ = nullptr;
  MPI_Finalize();
}

const Communicator& Session::world() const {
  return *world_;
}

}  // namespace ebm::mpi
