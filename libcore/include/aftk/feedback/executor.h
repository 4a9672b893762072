// SPDX-License-Identifier: Apache-2.0
// Where a feedback consumer runs: inline in the caller (tests) or on a small thread pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "aftk/feedback/parker.h"

namespace aftk::feedback {

/// Runs tasks. Implementations must run every task they accept exactly once.
class Executor {
 public:
  virtual ~Executor() = default;
  /// Runs `task` now or later, on some thread.
  virtual void execute(std::function<void()> task) = 0;
};

/// Runs each task in the calling thread before execute() returns.
class InlineExecutor final : public Executor {
 public:
  void execute(std::function<void()> task) override { task(); }
};

/// A fixed set of worker threads taking tasks in FIFO order. Idle workers sleep on a futex; a
/// task handed to a busy pool wakes nobody. The destructor runs what is queued, then joins.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(std::size_t threads = 1);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void execute(std::function<void()> task) override;

  /// futex wakes issued so far (benchmarks report wakes per batch with it).
  std::uint64_t wakes() const;

 private:
  struct Worker {
    Parker parker;
    bool idle = false;  // guarded by mutex_
  };
  void run(std::size_t index);

  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace aftk::feedback
