// SPDX-License-Identifier: Apache-2.0
// membarrier(2) behind the asymmetric-barrier interface used by the feedback queue.
#include "aftk/feedback/barrier.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace aftk::feedback::detail {
namespace {

long membarrier(int cmd) { return ::syscall(__NR_membarrier, cmd, 0, 0); }

bool register_expedited() {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not model membarrier: it would miss the ordering the light side relies
  // on. Under TSan the queue uses ordinary fences, which TSan understands.
  return false;
#else
  const char* off = std::getenv("AFTK_NO_MEMBARRIER");  // lets people compare the two modes
  if (off != nullptr && off[0] != '\0' && off[0] != '0') return false;
  long supported = membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
}

}  // namespace

bool asymmetric_barriers_available() noexcept {
  static const bool available = register_expedited();
  return available;
}

void heavy_barrier() noexcept {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    // Registration succeeded, so this cannot fail short of a kernel bug; a fence at least keeps
    // this thread's side of the protocol ordered.
#if !defined(__SANITIZE_THREAD__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }
}

}  // namespace aftk::feedback::detail
