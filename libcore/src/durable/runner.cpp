// SPDX-License-Identifier: Apache-2.0
// ActionRunner and CheckpointManager.
#include "aftk/durable/runner.h"

namespace aftk::durable {

using namespace actionstate;

void bind_lineage(Event& event, const Event& trigger, std::string_view action_name) {
  event.upstream_event_id = trigger.id;
  event.upstream_action_name = std::string(action_name);
}

Result<ActionResult> ActionRunner::run(const StateKey& key, const Event& trigger,
                                       std::string_view action_name, const ActionBody& body) {
  ActionResult result;
  AFTK_TRY_ASSIGN(std::optional<ActionState> found, store_.get(key));
  if (found && found->completed) {
    // Finished before: do not run it again; hand back what it produced.
    result.reused = true;
    result.output_events = std::move(found->output_events);
    if (profile_ != Profile::kV031)
      for (auto& e : result.output_events) bind_lineage(e, trigger, action_name);
    result.short_term_memory_updates = std::move(found->short_term_memory_updates);
    result.sensory_memory_updates = std::move(found->sensory_memory_updates);
    return result;
  }
  if (!found) {
    AFTK_TRY(store_.put(key, ActionState(trigger)));
    AFTK_TRY_ASSIGN(found, store_.get(key));
    if (!found)
      return fail(Errc::kInternal, "the action state just stored is not in the store's cache");
  }
  ActionState& state = *found;
  DurableExecutionContext context(
      state, [&](const ActionState& s) { return store_.put(key, s); }, probe_);
  const auto action_probe = [&](Point p) -> Status {
    return probe_ ? probe_(ProbeInfo{p, -1, nullptr, false}) : Status{};
  };
  AFTK_TRY(action_probe(Point::kActionStarted));
  ActionScope scope(trigger, context);
  AFTK_TRY(body(scope));

  if (profile_ != Profile::kV031)
    for (auto& e : scope.events_) bind_lineage(e, trigger, action_name);
  state.sensory_memory_updates.insert(state.sensory_memory_updates.end(), scope.sensory_.begin(),
                                      scope.sensory_.end());
  state.short_term_memory_updates.insert(state.short_term_memory_updates.end(),
                                         scope.short_term_.begin(), scope.short_term_.end());
  state.output_events.insert(state.output_events.end(), scope.events_.begin(), scope.events_.end());
  state.mark_completed();
  AFTK_TRY(store_.put(key, state));
  result.stats = context.stats();
  ++result.stats.persists;
  AFTK_TRY(action_probe(Point::kActionCompleted));
  result.output_events = std::move(scope.events_);
  result.short_term_memory_updates = std::move(scope.short_term_);
  result.sensory_memory_updates = std::move(scope.sensory_);
  return result;
}

Result<CheckpointManager::Snapshot> CheckpointManager::snapshot(
    std::int64_t checkpoint_id, std::map<std::string, std::int64_t> last_completed) {
  Snapshot s;
  s.checkpoint_id = checkpoint_id;
  if (!store_) return s;
  AFTK_TRY_ASSIGN(s.marker, store_->recovery_marker());
  pending_[checkpoint_id] = last_completed;
  s.last_completed = std::move(last_completed);
  return s;
}

Result<size_t> CheckpointManager::notify_complete(std::int64_t checkpoint_id,
                                                  const PruneOptions& options) {
  if (!store_) return size_t{0};
  auto it = pending_.find(checkpoint_id);
  if (it == pending_.end()) return size_t{0};
  size_t evicted = 0;
  for (const auto& [identity, seq] : it->second) {
    AFTK_TRY_ASSIGN(const PruneResult pruned, store_->prune(identity, seq, options));
    evicted += pruned.evicted.size();
  }
  pending_.erase(it);
  return evicted;
}

void CheckpointManager::notify_aborted(std::int64_t checkpoint_id) {
  pending_.erase(checkpoint_id);
}

Result<RebuildReport> CheckpointManager::recover(std::span<const RecoveryMarker> markers,
                                                 const RebuildOptions& options) {
  if (!store_) return RebuildReport{};
  pending_.clear();
  return store_->rebuild(markers, options);
}

}  // namespace aftk::durable
