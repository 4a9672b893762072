// SPDX-License-Identifier: Apache-2.0
// The thread-pool executor.
#include "aftk/feedback/executor.h"

#include <memory>

namespace aftk::feedback {

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t threads) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  for (auto& w : workers_) w->parker.unpark();
  for (auto& t : threads_) t.join();
}

void ThreadPoolExecutor::execute(std::function<void()> task) {
  Worker* wake = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    for (auto& w : workers_) {
      if (w->idle) {
        w->idle = false;
        wake = w.get();
        break;
      }
    }
  }
  if (wake != nullptr) wake->parker.unpark();
}

std::uint64_t ThreadPoolExecutor::wakes() const {
  std::uint64_t n = 0;
  for (auto& w : workers_) n += w->parker.wakes();
  return n;
}

void ThreadPoolExecutor::run(std::size_t index) {
  Worker& me = *workers_[index];
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      } else if (stopping_) {
        return;
      } else {
        me.idle = true;
      }
    }
    if (task) {
      task();
      continue;
    }
    me.parker.park();
  }
}

}  // namespace aftk::feedback
