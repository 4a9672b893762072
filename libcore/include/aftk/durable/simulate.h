// SPDX-License-Identifier: Apache-2.0
// A seeded agent workload run against a store, with crashes, recovery and an exactly-once check.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/store.h"
#include "aftk/durable/divergence.h"
#include "aftk/result.h"

namespace aftk::durable {

/// Where a simulated process dies.
enum class CrashKind {
  kBeforeCall,       // a durable call is about to run
  kWindow,           // it ran, its outcome is not persisted yet: the re-execution window
  kMidAction,        // between persisted steps of an action
  kAfterCompletion,  // the action's completed state is stored, the operator has not moved on
  kCheckpoint,       // a snapshot is taken, the checkpoint-complete notification (prune) is not
};
inline constexpr CrashKind kAllCrashKinds[] = {CrashKind::kBeforeCall, CrashKind::kWindow,
                                               CrashKind::kMidAction, CrashKind::kAfterCompletion,
                                               CrashKind::kCheckpoint};

/// "before-call", "window", "mid-action", "after-completion", "checkpoint".
std::string_view crash_kind_name(CrashKind kind);
/// Parses a crash kind name. Errors: INVALID_ARGUMENT listing the names.
Result<CrashKind> parse_crash_kind(std::string_view name);

/// Crash at the n-th opportunity (1-based) of a kind, counted over the whole run.
struct ChosenCrash {
  CrashKind kind = CrashKind::kWindow;
  std::uint64_t occurrence = 1;
};
/// Parses "KIND:N" (or "KIND" for N=1). Errors: INVALID_ARGUMENT.
Result<ChosenCrash> parse_chosen_crash(std::string_view text);

struct SimulationOptions {
  std::uint64_t seed = 1;
  int keys = 4;                 // business keys: user-N, order_N, tenant_eu_N in turn
  int inputs = 3;               // inputs per key
  int calls = 3;                // durable call sites per action
  double fail_rate = 0.2;       // chance that one execution of a call raises
  double reconcile_rate = 0.3;  // share of call sites with a reconciler
  bool chain = true;            // "plan" sends an event that triggers "act"
  int checkpoint_every = 4;     // inputs between checkpoints (checkpoint 1 precedes the first)
  double crash_rate = 0.02;     // chance to crash at each opportunity
  std::uint64_t max_crashes = UINT64_MAX;  // random crashes stop after this many crashes
  std::vector<ChosenCrash> chosen;         // crash exactly there as well
  std::uint64_t halt_after_crashes = 0;    // > 0: stop at that crash without recovering
  actionstate::StateCache::CleanupRule cleanup = actionstate::StateCache::CleanupRule::kUpstream;
  bool tombstones = false;  // prune writes tombstones
  bool keep_crash_log = true;
  /// After the run and its check, one more input dies in the window of a reconcilable call (or
  /// of the chained action's first call), leaving an action in flight as a live job would.
  bool leave_in_flight = false;
  /// The value form written, as the job that restores the store reads it: 0.3.1 (no lineage
  /// fields, which a 0.3.1 reader rejects) or main-8ad3a32 (with them). Keys are 0.3 keys
  /// either way; 0.4 stores (five-field keys) are not simulated yet.
  actionstate::Profile profile = actionstate::Profile::kV031;
  bool record_traces = false;  // keep the calls of each completed action run (and of the run a halt
                               // stops), for replay
};

/// One execution of a durable call beyond its first.
struct Duplicate {
  std::string key;
  std::int64_t seq = 0;
  std::string action;
  std::int64_t call_index = 0;  // the call's index within the action execution
  std::string function_id;
  /// "window": the process died after the call ran and before its outcome was persisted (the
  /// documented re-execution window). "cleanup": the persisted outcome was dropped from the
  /// cache by upstream's divergence cleanup (spec 2.5). "unexplained": neither (a bug).
  std::string cause;
  std::uint64_t execution = 0;  // 2 for the first duplicate, ...
};

/// A call or action the final outcome needs but that never ran.
struct LostEffect {
  std::string key;
  std::int64_t seq = 0;
  std::string action;
  std::int64_t call_index = -1;  // -1: the whole action never completed
  std::string function_id;
  std::string reason;
};

struct CrashRecord {
  std::uint64_t number = 0;
  CrashKind kind = CrashKind::kWindow;
  std::string key;  // empty at a checkpoint crash
  std::int64_t seq = -1;
  std::string action;
  std::int64_t call_index = -1;
  std::int64_t restored_checkpoint = 0;  // the checkpoint recovery restored (0: none)
};

struct SimulationReport {
  std::uint64_t inputs = 0;            // inputs in the workload
  std::uint64_t inputs_processed = 0;  // input executions, re-processing after recovery included
  std::uint64_t action_runs = 0;       // action executions started
  std::uint64_t actions_reused = 0;    // skipped because a completed state was found
  std::uint64_t calls_executed = 0;
  std::uint64_t calls_replayed = 0;
  std::uint64_t reconciled = 0;
  std::uint64_t persists = 0;  // records written to the store (tombstones included)
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoints_completed = 0;
  std::uint64_t states_pruned = 0;
  std::uint64_t states_dropped = 0;  // by get()'s cleanup
  std::uint64_t crashes = 0;
  std::map<CrashKind, std::uint64_t> crashes_by_kind;
  std::vector<CrashRecord> crash_log;
  std::uint64_t effects = 0;  // distinct durable calls the final outcome rests on
  std::vector<Duplicate> duplicates;
  std::uint64_t window_duplicates = 0, cleanup_duplicates = 0, unexplained_duplicates = 0;
  std::uint64_t orphaned = 0;  // executions the final outcome does not use
  std::vector<LostEffect> lost;
  bool halted = false;             // stopped at a crash on request; no outcome check
  bool in_flight = false;          // an extra input was left in flight (leave_in_flight)
  size_t live_states = 0;          // states in the store's cache at the end
  std::vector<TraceEntry> traces;  // with record_traces: each completed (or halted) run's calls

  /// No lost effect and every duplicate explained.
  bool ok() const { return lost.empty() && unexplained_duplicates == 0; }
};

/// Gives the simulation a store after a crash: a new process opens its store again (a file
/// store rereads its file); returning the same object is fine for an in-memory log.
using ReopenStore = std::function<Result<actionstate::LogStore*>()>;

/// Runs the workload against `store` to the end, crashing and recovering on the way, and
/// checks the outcome. Deterministic for given options (and an empty store to begin with).
/// Errors: INVALID_ARGUMENT for options out of range; the store's errors.
Result<SimulationReport> simulate(const SimulationOptions& options, actionstate::LogStore& store,
                                  const ReopenStore& reopen = {});

}  // namespace aftk::durable
