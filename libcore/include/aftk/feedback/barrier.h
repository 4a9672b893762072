// SPDX-License-Identifier: Apache-2.0
// Asymmetric memory barriers: a free one for the hot side, an expensive one for the rare side.
#pragma once

namespace aftk::feedback::detail {

/// Registers the process for expedited membarrier(2) once. Returns true when heavy_barrier() can
/// stand in for a full fence in every other thread, so light_barrier() may be a compiler barrier;
/// false (old kernel, seccomp, ThreadSanitizer build) means both sides must use real fences.
bool asymmetric_barriers_available() noexcept;

/// The expensive side: acts as a full fence executed by every running thread of the process.
/// Only meaningful when asymmetric_barriers_available() returned true.
void heavy_barrier() noexcept;

}  // namespace aftk::feedback::detail
