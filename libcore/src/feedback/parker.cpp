// SPDX-License-Identifier: Apache-2.0
// Parker on Linux futexes.
#include "aftk/feedback/parker.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace aftk::feedback {
namespace {

static_assert(sizeof(std::atomic<std::int32_t>) == sizeof(std::int32_t));

long futex(std::atomic<std::int32_t>* word, int op, std::int32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::int32_t*>(word), op, value, timeout, nullptr,
                   0);
}

}  // namespace

bool Parker::park(std::chrono::nanoseconds timeout) noexcept {
  // Fast path: consume a pending unpark.
  if (state_.exchange(0, std::memory_order_acquire) == 1) return true;
  // Announce we sleep; an unpark that sneaks in between turns -1 back into 1.
  std::int32_t expected = 0;
  if (!state_.compare_exchange_strong(expected, -1, std::memory_order_acquire)) {
    state_.store(0, std::memory_order_relaxed);
    return true;
  }
  timespec deadline{};
  const bool timed = timeout.count() > 0;
  if (timed) {
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    auto ns = deadline.tv_nsec + timeout.count();
    deadline.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
    deadline.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  for (;;) {
    if (timed) {
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so spurious returns do
      // not stretch the timeout.
      long rc =
          ::syscall(SYS_futex, reinterpret_cast<std::int32_t*>(&state_), FUTEX_WAIT_BITSET_PRIVATE,
                    -1, &deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
      if (rc != 0 && errno == ETIMEDOUT) {
        // Leave the sleeping state; if an unpark raced with the timeout, take it.
        std::int32_t sleeping = -1;
        if (state_.compare_exchange_strong(sleeping, 0, std::memory_order_acquire)) return false;
        state_.store(0, std::memory_order_relaxed);
        return true;
      }
    } else {
      futex(&state_, FUTEX_WAIT_PRIVATE, -1, nullptr);
    }
    if (state_.load(std::memory_order_acquire) == 1) {
      state_.store(0, std::memory_order_relaxed);
      return true;
    }
  }
}

bool Parker::unpark() noexcept {
  if (state_.exchange(1, std::memory_order_release) == -1) {
    wakes_.fetch_add(1, std::memory_order_relaxed);
    futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
    return true;
  }
  return false;
}

}  // namespace aftk::feedback
