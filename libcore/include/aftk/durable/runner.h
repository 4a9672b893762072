// SPDX-License-Identifier: Apache-2.0
// One action execution with the operator's write sequence, and the checkpoint/prune flow.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/store.h"
#include "aftk/durable/context.h"

namespace aftk::durable {

/// What an action body sees: durable calls, events it sends, memory it updates.
class ActionScope {
 public:
  ActionScope(const actionstate::Event& trigger, DurableExecutionContext& context)
      : trigger_(trigger), context_(context) {}

  const actionstate::Event& trigger() const { return trigger_; }
  /// See DurableExecutionContext::execute.
  Result<Outcome> durable_execute(const CallId& id, const DurableExecutionContext::Callable& call) {
    return context_.execute(id, call);
  }
  Result<Outcome> durable_execute(const CallId& id, const DurableExecutionContext::Callable& call,
                                  const DurableExecutionContext::Callable& reconciler) {
    return context_.execute(id, call, reconciler);
  }
  /// Queues an event; the runner binds its lineage to the trigger and the action on finish.
  void send_event(actionstate::Event event) { events_.push_back(std::move(event)); }
  void update_short_term(actionstate::MemoryUpdate u) { short_term_.push_back(std::move(u)); }
  void update_sensory(actionstate::MemoryUpdate u) { sensory_.push_back(std::move(u)); }

 private:
  friend class ActionRunner;
  const actionstate::Event& trigger_;
  DurableExecutionContext& context_;
  std::vector<actionstate::Event> events_;
  std::vector<actionstate::MemoryUpdate> short_term_, sensory_;
};

/// An action's code. An error stops the action where it is (nothing more is written).
using ActionBody = std::function<Status(ActionScope&)>;

struct ActionResult {
  bool reused = false;  // a completed state was found: the body did not run
  std::vector<actionstate::Event> output_events;  // lineage bound to this trigger and action
  std::vector<actionstate::MemoryUpdate> short_term_memory_updates;
  std::vector<actionstate::MemoryUpdate> sensory_memory_updates;
  DurableExecutionContext::Stats stats;
};

/// Runs action executions against a store the way the operator does (spec 1.6): get; a
/// completed state skips the action and re-emits its outputs; a missing state is stored first;
/// durable calls replay or run; on finish the outputs are appended, the state is marked
/// completed (dropping its call results) and stored.
class ActionRunner {
 public:
  explicit ActionRunner(actionstate::ActionStateStore& store) : store_(store) {}

  /// The probe is asked at each Point; its error stops the action (a simulated crash).
  void set_probe(Probe probe) { probe_ = std::move(probe); }
  /// The version line whose operator this runner plays: 0.3.1 binds no lineage to output
  /// events (the field does not exist there); later lines do. main-8ad3a32 by default.
  void set_profile(actionstate::Profile profile) { profile_ = profile; }

  /// Runs `action_name` for `trigger` under `key`. Errors: the store's, the probe's, the body's.
  Result<ActionResult> run(const actionstate::StateKey& key, const actionstate::Event& trigger,
                           std::string_view action_name, const ActionBody& body);

 private:
  actionstate::ActionStateStore& store_;
  Probe probe_;
  actionstate::Profile profile_ = actionstate::Profile::kMain8ad3a32;
};

/// Re-emitted and new output events carry the trigger's id and the action's name as lineage
/// (upstream's ActionTask.finalizeOutputEvents); ids stay as they are.
void bind_lineage(actionstate::Event& event, const actionstate::Event& trigger,
                  std::string_view action_name);

/// The operator's durable-execution bookkeeping (upstream's DurableExecutionManager): at a
/// snapshot it takes the store's recovery marker and each key's last completed sequence; when
/// that checkpoint completes it prunes exactly those; an aborted checkpoint prunes nothing.
class CheckpointManager {
 public:
  /// With no store every call is a no-op.
  explicit CheckpointManager(actionstate::ActionStateStore* store) : store_(store) {}

  struct Snapshot {
    std::int64_t checkpoint_id = 0;
    std::optional<actionstate::RecoveryMarker> marker;   // what goes into union state
    std::map<std::string, std::int64_t> last_completed;  // identity -> seq
  };
  /// Captures the marker and `last_completed` (identity -> lastCompletedSequenceNumber).
  /// Errors: the store's.
  Result<Snapshot> snapshot(std::int64_t checkpoint_id,
                            std::map<std::string, std::int64_t> last_completed);
  /// Prunes the states recorded for `checkpoint_id` and forgets it; returns states evicted.
  /// Unknown ids prune nothing. Errors: the store's prune errors.
  Result<size_t> notify_complete(std::int64_t checkpoint_id,
                                 const actionstate::PruneOptions& options = {});
  /// Forgets `checkpoint_id` without pruning.
  void notify_aborted(std::int64_t checkpoint_id);
  /// Rebuilds the store's cache from the restored markers (empty: a fresh start).
  /// Errors: the store's rebuild errors.
  Result<actionstate::RebuildReport> recover(std::span<const actionstate::RecoveryMarker> markers,
                                             const actionstate::RebuildOptions& options = {});

  /// Checkpoints snapshotted and neither completed nor aborted.
  size_t pending() const { return pending_.size(); }
  bool enabled() const { return store_ != nullptr; }

 private:
  actionstate::ActionStateStore* store_;
  std::map<std::int64_t, std::map<std::string, std::int64_t>> pending_;
};

}  // namespace aftk::durable
