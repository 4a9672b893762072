// SPDX-License-Identifier: Apache-2.0
// Exporting the live states of a cache as a new topic-dump file, atomically.
#pragma once

#include <cstdint>
#include <string>

#include "aftk/actionstate/store.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// Writes the live states of `cache` to `path` as a topic dump, at their original partitions and
/// offsets in (partition, offset) order: a compacted copy of the topic. The lines go to
/// `path.tmp` in the same directory, created owner-only (0600), which is fsynced and then renamed
/// over `path`, so that a reader never sees a half-written snapshot. Returns the states written.
/// Errors: IO naming the file and the operating system's reason (the temporary file is removed).
Result<std::uint64_t> export_snapshot(const StateCache& cache, const std::string& path);

}  // namespace aftk::actionstate
