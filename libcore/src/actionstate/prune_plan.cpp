// SPDX-License-Identifier: Apache-2.0
// Prune planning over a cache of live states.
#include "aftk/actionstate/prune_plan.h"

#include <map>

#include <fmt/format.h>

namespace aftk::actionstate {

std::vector<PlannedCut> plan_prune(const StateCache& cache, const PruneRequest& request) {
  // Group live states by identity and sequence (for_each visits them in that order).
  std::map<std::string, std::map<std::int64_t, std::vector<const StateCache::Entry*>>> by_key;
  cache.for_each([&](const StateCache::Entry& e) {
    by_key[std::string(e.key.identity())][e.key.seq].push_back(&e);
  });
  std::map<std::string, PlannedCut> cuts;
  for (const auto& c : request.cuts) {
    auto& cut = cuts[c.identity];
    if (cut.identity.empty() || c.seq > cut.seq) {
      cut.identity = c.identity;
      cut.seq = c.seq;
      cut.reason = fmt::format("asked: seq <= {}", c.seq);
    }
  }
  if (request.completed_prefix) {
    Decoder decoder({ReadMode::kLenient, false});
    ActionState state;
    for (const auto& [identity, seqs] : by_key) {
      if (seqs.size() < 2) continue;
      const std::int64_t newest = seqs.rbegin()->first;
      std::int64_t cut_at = -1;
      for (const auto& [seq, entries] : seqs) {
        if (seq == newest) break;
        bool all_done = true;
        for (const auto* e : entries)
          all_done = all_done && decoder.decode(e->value, state).has_value() && state.completed;
        if (!all_done) break;
        cut_at = seq;
      }
      if (cut_at < 0) continue;
      auto& cut = cuts[identity];
      if (cut.identity.empty() || cut_at > cut.seq) {
        cut.identity = identity;
        cut.seq = cut_at;
        cut.reason = fmt::format("completed up to seq {}, newest seq {}", cut_at, newest);
      }
    }
  }
  std::vector<PlannedCut> out;
  for (auto& [identity, cut] : cuts) {
    auto it = by_key.find(identity);
    if (it == by_key.end()) continue;
    for (const auto& [seq, entries] : it->second) {
      if (seq > cut.seq) break;
      cut.entries.insert(cut.entries.end(), entries.begin(), entries.end());
    }
    if (!cut.entries.empty()) out.push_back(std::move(cut));
  }
  return out;
}

}  // namespace aftk::actionstate
