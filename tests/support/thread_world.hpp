#pragma once
// K ranks as K threads of one test process: an ebm::Communicator per rank over a shared
// exchange, for testing distributed code without MPI. run(K, body) calls body(comm) on K threads
// and returns once all have returned.
#include <ebm/core/communicator.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ebm_test {

class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : size_(size), slots_(static_cast<std::size_t>(size)) {
    for (int r = 0; r < size; ++r) ranks_.emplace_back(*this, r);
  }
  const ebm::Communicator& rank(int r) const { return ranks_[static_cast<std::size_t>(r)]; }

  /// body(comm) on `size` threads, one per rank.
  static void run(int size, const std::function<void(const ebm::Communicator&)>& body) {
    ThreadWorld world(size);
    std::vector<std::thread> threads;
    for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { body(world.rank(r)); });
    for (std::thread& t : threads) t.join();
  }

 private:
  class Rank final : public ebm::Communicator {
   public:
    Rank(ThreadWorld& w, int r) : world_(&w), rank_(r) {}
    int rank() const override { return rank_; }
    int size() const override { return world_->size_; }
    ebm::Gathered all_gather(std::string_view mine) const override {
      std::string bytes;
      std::vector<std::pair<std::size_t, std::size_t>> ranges;
      for (const std::string& m : world_->gather(rank_, mine)) {
        ranges.emplace_back(bytes.size(), bytes.size() + m.size());
        bytes += m;
      }
      return ebm::Gathered(std::move(bytes), std::move(ranges));
    }

   private:
    ThreadWorld* world_;
    int rank_;
  };

  // A round completes when every rank has put its message; its result stays until the next
  // round completes, which needs every rank to have taken it first.
  std::vector<std::string> gather(int rank, std::string_view mine) {
    std::unique_lock lock(mutex_);
    slots_[static_cast<std::size_t>(rank)] = std::string(mine);
    if (++arrived_ == size_) {
      result_ = slots_;
      arrived_ = 0;
      ++round_;
      done_.notify_all();
    } else {
      const std::uint64_t round = round_;
      done_.wait(lock, [&] { return round_ != round; });
    }
    return result_;
  }

  int size_;
  std::vector<Rank> ranks_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<std::string> slots_, result_;
  int arrived_ = 0;
  std::uint64_t round_ = 0;
};

}  // namespace ebm_test
