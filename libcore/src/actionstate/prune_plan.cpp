// SPDX-License-Identifier: Apache-2.0
// Prune planning over a cache of live states.
#include "aftk/actionstate/prune_plan.h"

#include <algorithm>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "aftk/eventlog/record.h"

namespace aftk::actionstate {

std::vector<PlannedCut> plan_prune(const StateCache& cache, const PruneRequest& request) {
  // Group live states by identity and sequence (for_each visits them in that order).
  std::map<std::string, std::map<std::int64_t, std::vector<const StateCache::Entry*>>> by_key;
  cache.for_each([&](const StateCache::Entry& e) {
    by_key[std::string(e.key.identity())][e.key.seq].push_back(&e);
  });
  std::map<std::string, PlannedCut> cuts;
  // Keeps, per business key, the deepest cut proposed.
  const auto propose = [&](const std::string& identity, std::int64_t seq, std::string reason) {
    auto& cut = cuts[identity];
    if (!cut.identity.empty() && seq <= cut.seq) return;
    cut.identity = identity;
    cut.seq = seq;
    cut.reason = std::move(reason);
  };
  for (const auto& c : request.cuts)
    propose(c.identity, c.seq, fmt::format("asked: seq <= {}", c.seq));
  Decoder decoder({ReadMode::kLenient, false});
  ActionState state;
  for (const auto& [identity, seqs] : by_key) {
    const std::int64_t newest = seqs.rbegin()->first;
    if (request.completed_prefix && seqs.size() >= 2) {
      std::int64_t cut_at = -1;
      for (const auto& [seq, entries] : seqs) {
        if (seq == newest) break;
        bool all_done = true;
        for (const auto* e : entries)
          all_done = all_done && decoder.decode(e->value, state).has_value() && state.completed;
        if (!all_done) break;
        cut_at = seq;
      }
      if (cut_at >= 0)
        propose(identity, cut_at,
                fmt::format("completed up to seq {}, newest seq {}", cut_at, newest));
    }
    if (request.before_seq && seqs.begin()->first < *request.before_seq)
      propose(identity, *request.before_seq - 1, fmt::format("seq < {}", *request.before_seq));
    if (request.keep_latest && seqs.size() >= 2)
      propose(identity, std::prev(seqs.end(), 2)->first,
              fmt::format("keep latest: seq {}", newest));
    if (request.written_before_ms) {
      std::int64_t cut_at = -1;
      for (const auto& [seq, entries] : seqs) {
        const bool old = std::all_of(entries.begin(), entries.end(), [&](const auto* e) {
          return e->position.timestamp >= 0 && e->position.timestamp < *request.written_before_ms;
        });
        if (!old) break;
        cut_at = seq;
      }
      if (cut_at >= 0)
        propose(identity, cut_at,
                fmt::format("written before {}, up to seq {}",
                            eventlog::format_instant(*request.written_before_ms * 1'000'000), cut_at));
    }
  }
  std::vector<PlannedCut> out;
  for (auto& [identity, cut] : cuts) {
    auto it = by_key.find(identity);
    if (it == by_key.end()) continue;
    for (const auto& [seq, entries] : it->second) {
      if (seq > cut.seq) break;
      cut.entries.insert(cut.entries.end(), entries.begin(), entries.end());
      for (const auto* e : entries) cut.bytes += e->key.to_string().size() + e->value.size();
    }
    if (!cut.entries.empty()) out.push_back(std::move(cut));
  }
  return out;
}

}  // namespace aftk::actionstate
