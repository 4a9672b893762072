// SPDX-License-Identifier: Apache-2.0
// Planning which states to prune (tombstone), before anything is written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aftk/actionstate/store.h"

namespace aftk::actionstate {

struct PruneRequest {
  /// Explicit cuts: every state of this business key (0.4: business key id) with seq <= seq.
  struct Cut {
    std::string identity;
    std::int64_t seq = 0;
  };
  std::vector<Cut> cuts;
  /// Per business key, also cut at the highest sequence below its newest one such that every
  /// state up to it completed: what a checkpoint's lastCompletedSequenceNumber would allow,
  /// never touching the newest input or anything after an unfinished action.
  bool completed_prefix = false;
  /// Per business key, cut below this sequence number: every state with seq < before_seq.
  std::optional<std::int64_t> before_seq;
  /// Per business key, cut every sequence number below its newest one, finished or not.
  bool keep_latest = false;
  /// Per business key, cut the longest run of sequence numbers, from its oldest, whose states'
  /// records are all older than this time (ms since the epoch). A state whose record has no
  /// timestamp is never older, so it ends the run.
  std::optional<std::int64_t> written_before_ms;
};

struct PlannedCut {
  std::string identity;
  std::int64_t seq = 0;
  std::vector<const StateCache::Entry*> entries;  // the states it removes, in key order
  std::uint64_t bytes = 0;  // key and value bytes of those states' records
  std::string reason;
};

/// The cuts a request makes on `cache`, each with the states it would remove. Where several
/// strategies cut one business key, the deepest cut wins (each removes a prefix of its
/// sequence numbers). Cuts removing nothing are left out.
std::vector<PlannedCut> plan_prune(const StateCache& cache, const PruneRequest& request);

}  // namespace aftk::actionstate
