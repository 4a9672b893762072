// SPDX-License-Identifier: Apache-2.0
// A one-waiter futex event: the sleeping half of the feedback loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace aftk::feedback {

/// One thread parks, any thread unparks. An unpark that comes first is remembered, so a park that
/// follows returns at once (no lost wake-up). Several unparks before a park count as one.
class Parker {
 public:
  /// Sleeps until unpark() (or returns at once if one is pending). Returns true when woken by an
  /// unpark, false when `timeout` passed first (a zero timeout means wait forever).
  bool park(std::chrono::nanoseconds timeout = std::chrono::nanoseconds{0}) noexcept;
  /// Wakes the parked thread, or makes its next park return at once. Returns true when it had to
  /// enter the kernel to wake a sleeper.
  bool unpark() noexcept;

  /// futex_wake system calls made so far (benchmarks count wakes with it).
  std::uint64_t wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

 private:
  // 0: idle, 1: an unpark is pending, -1: the owner sleeps.
  alignas(64) std::atomic<std::int32_t> state_{0};
  std::atomic<std::uint64_t> wakes_{0};
};

}  // namespace aftk::feedback
