// Training runs that go wrong. SIGKILL at moments spread over a run that checkpoints every step:
// the checkpoint on disk is always a whole one (the previous or the next), resuming it gives the
// uninterrupted run's model byte for byte, and a kill's leftover temporary is gone after the next
// write. A diverging run: stopped with one line and no model file, or rolled back when asked.
#include "cli_helpers.hpp"

#include <ebm/io/checkpoint.hpp>

#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

namespace cli_test {
namespace {

// Starts `ebm <args>` in the scratch directory, kills it with SIGKILL after `delay`, reaps it.
// Returns true when the process was still running when killed.
bool run_and_kill(const std::vector<std::string>& args, std::chrono::milliseconds delay) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(scratch().c_str()) != 0) ::_exit(127);
    std::vector<char*> argv;
    std::string program = EBM_CLI_PATH;
    argv.push_back(program.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  std::this_thread::sleep_for(delay);
  const bool running = ::kill(pid, SIGKILL) == 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return running && WIFSIGNALED(status);
}

TEST(CliCrashSafety, SigkillLeavesAWholeCheckpointThatResumesBitIdentically) {
  ASSERT_EQ(run("data make rings --n 400 --seed 1 -o rings.csv --quiet").exit_code, 0);
  const std::string options = " --data rings.csv --model mlp:32x32 --steps 300 --batch 64 --seed 3 --quiet";
  ASSERT_EQ(run("train" + options + " -o whole.safetensors").exit_code, 0);
  int killed = 0, resumed = 0;
  for (int delay_ms : {40, 90, 150, 230, 320, 450}) {
    std::error_code ec;
    fs::remove(path("ck.safetensors"), ec);
    const std::vector<std::string> args = {"train", "--data", "rings.csv", "--model", "mlp:32x32", "--steps", "300",
                                           "--batch", "64", "--seed", "3", "--quiet", "--checkpoint", "ck.safetensors",
                                           "--checkpoint-every", "1", "-o", "killed.safetensors"};
    if (!run_and_kill(args, std::chrono::milliseconds(delay_ms))) continue;  // it finished first: no kill to test
    ++killed;
    if (!exists("ck.safetensors")) continue;  // killed before its first checkpoint
    // Whatever moment the kill came, the file is a complete checkpoint.
    const ebm::io::Checkpoint<float> ck = ebm::io::load_checkpoint<float>(path("ck.safetensors"));
    EXPECT_GE(ck.state.step, 1);
    // The resumed run writes the same checkpoint again at its end, which removes the kill's temporary.
    const CommandResult r = run("train --resume ck.safetensors --checkpoint ck.safetensors --quiet -o resumed.safetensors");
    ASSERT_EQ(r.exit_code, ck.state.step >= 300 ? 2 : 0) << r.err;
    if (r.exit_code == 0) {
      ++resumed;
      EXPECT_EQ(slurp("resumed.safetensors"), slurp("whole.safetensors")) << "killed after " << delay_ms << " ms, step "
                                                                          << ck.state.step;
    }
    if (r.exit_code == 0) {
      EXPECT_EQ(temporaries(), 0) << "the next write of the checkpoint cleans up the kill's temporary";
    }
  }
  EXPECT_GE(killed, 3) << "the run finished before most kills: make it longer";
  EXPECT_GE(resumed, 2);
}

}  // namespace
}  // namespace cli_test

namespace cli_test {
namespace {

// A contrastive-divergence run whose Langevin step is far too large for its learning rate: the
// negatives' energies explode within a few dozen steps.
TEST(CliDivergence, StopsWithAMessageOrRollsBack) {
  ASSERT_EQ(run("data make rings --n 500 --seed 1 -o r5.csv --quiet").exit_code, 0);
  const std::string common = "train --data r5.csv --objective cd --model mlp:32x32 --langevin-steps 20 "
                             "--langevin-step-size 0.5 --energy-penalty 0 --lr 0.02 --steps 200 --batch 128 --seed 1";
  const CommandResult stopped = run(common + " --log d.jsonl -o d.safetensors");
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_NE(stopped.err.find("training diverged at step "), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("mean energy of the data"), std::string::npos) << stopped.err;
  EXPECT_EQ(lines(stopped.err), 1) << stopped.err;
  EXPECT_FALSE(exists("d.safetensors"));
  const CommandResult off = run(common + " --divergence-threshold 0 --quiet -o off.safetensors");
  EXPECT_EQ(off.exit_code, 0) << off.err;  // the old behaviour, when asked for

  const CommandResult rolled = run(common + " --on-divergence rollback -o r.safetensors");
  ASSERT_EQ(rolled.exit_code, 0) << rolled.err;
  EXPECT_NE(rolled.err.find("rolled back to step "), std::string::npos) << rolled.err;
  EXPECT_TRUE(exists("r.safetensors"));
  // The model it ends with is sound: its held-out energies are finite and of modest size.
  ASSERT_EQ(run("energy --model r.safetensors --at r5.csv -o e.csv --quiet").exit_code, 0);
  const std::string energies = slurp("e.csv");
  EXPECT_EQ(energies.find("nan"), std::string::npos);

  const CommandResult misplaced = run("train --data r5.csv --energy-penalty 0.1 -o x.safetensors");
  EXPECT_EQ(misplaced.exit_code, 2);
  EXPECT_NE(misplaced.err.find("--energy-penalty: applies only with --objective cd or pcd, not sm"), std::string::npos)
      << misplaced.err;
  const CommandResult bad = run("train --data r5.csv --on-divergence retry -o x.safetensors");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--on-divergence: expected stop or rollback, got 'retry'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cli_test
