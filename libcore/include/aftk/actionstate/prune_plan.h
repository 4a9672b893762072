// SPDX-License-Identifier: Apache-2.0
// Planning which states to prune (tombstone), before anything is written.
#pragma once

#include <cstdint>
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
};

struct PlannedCut {
  std::string identity;
  std::int64_t seq = 0;
  std::vector<const StateCache::Entry*> entries;  // the states it removes, in key order
  std::string reason;
};

/// The cuts a request makes on `cache`, each with the states it would remove. Cuts removing
/// nothing are left out.
std::vector<PlannedCut> plan_prune(const StateCache& cache, const PruneRequest& request);

}  // namespace aftk::actionstate
