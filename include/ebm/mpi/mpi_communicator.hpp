#pragma once
// ebm over MPI: the processes of an MPI job (MPI_COMM_WORLD) as an ebm::Communicator. Built
// into the separate library ebm_mpi when an MPI implementation is found (option EBM_MPI); the
// ebm library itself never depends on MPI.
#include <ebm/core/communicator.hpp>

namespace ebm::mpi {

/// True when this process was started by an MPI launcher (mpirun, mpiexec, srun): the
/// environment names a rank. A program started alone is a single process and needs no MPI.
bool launched_by_mpi();

/// The processes started by the launcher on this machine (1 when not launched by MPI), for
/// choosing threads per process.
int local_processes();

/// MPI for the life of the object: MPI_Init_thread (funnelled: only the calling thread talks to
/// MPI) on construction, MPI_Finalize on destruction. One per process. Throws ebm::Error when
/// MPI cannot start.
class Session {
 public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// MPI_COMM_WORLD.
  const Communicator& world() const;
};

}  // namespace ebm::mpi
