// SPDX-License-Identifier: Apache-2.0
// Durable execution inside one action: replay recorded call results by call index.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aftk/actionstate/model.h"
#include "aftk/result.h"

namespace aftk::durable {

/// What replay matches a call on: upstream's (functionId, argsDigest). Either may be null.
struct CallId {
  std::optional<std::string> function_id;
  std::optional<std::string> args_digest;

  /// A Java DurableCallable: its id, and an argsDigest that is always "".
  static CallId java(std::string id) { return {std::move(id), std::string()}; }
  bool operator==(const CallId&) const = default;
};

/// What a durable call produced: it returned a value (payload bytes, possibly null) or it raised
/// (exception payload bytes). libcore does not throw across its API, so "the call raised" is a
/// value the caller turns back into whatever its language does.
class Outcome {
 public:
  static Outcome returned(std::optional<std::string> result_payload = std::nullopt) {
    Outcome o;
    o.result_ = std::move(result_payload);
    return o;
  }
  static Outcome thrown(std::string exception_payload) {
    Outcome o;
    o.exception_ = std::move(exception_payload);
    return o;
  }
  bool is_thrown() const { return exception_.has_value(); }
  /// The result payload; null for a null result and for a thrown outcome.
  const std::optional<std::string>& result() const { return result_; }
  /// The exception payload; null unless thrown.
  const std::optional<std::string>& exception() const { return exception_; }
  bool operator==(const Outcome&) const = default;

 private:
  std::optional<std::string> result_;
  std::optional<std::string> exception_;
};

/// RunnerContextImpl.DurableExecutionException: what a Java failure stores.
struct JavaException {
  std::string exception_class;
  std::optional<std::string> message;  // Java's getMessage() may be null
  bool operator==(const JavaException&) const = default;
};

/// The Jackson bytes of a Java failure: {"exceptionClass":"<FQCN>","message":"..."|null}.
std::string java_exception_payload(const JavaException& e);
/// Reads a Java failure payload; unknown fields are ignored, a missing message is null.
/// Errors: CORRUPT_RECORD when it is not a JSON object with a string "exceptionClass".
Result<JavaException> parse_java_exception(std::string_view payload);
/// The message of the RuntimeException Java re-throws on replay: "<class>: <message>" (the
/// original type is lost; a null message prints as "null").
std::string java_replay_message(const JavaException& e);

/// Points where a fault-injection probe is asked whether to go on (simulations crash there).
enum class Point {
  kActionStarted,    // the action's first state is stored; no call has run yet
  kBeforeCall,       // a call (or its reconciler) is about to run
  kAfterCall,        // it ran; its outcome is not persisted yet (the re-execution window)
  kAfterPersist,     // its outcome is persisted
  kActionCompleted,  // the completed state is stored
};

/// "action-started", "before-call", "after-call", "after-persist", "action-completed".
std::string_view point_name(Point p);

struct ProbeInfo {
  Point point = Point::kActionStarted;
  std::int64_t call_index = -1;  // -1 at action level
  const CallId* call = nullptr;  // null at action level
  bool reconciling = false;      // the reconciler runs instead of the call
};

/// Returns an error to stop the action right there; the error is handed back to the caller.
using Probe = std::function<Status(const ProbeInfo&)>;

/// The durable-execution state of one action execution (upstream's DurableExecutionContext):
/// replays recorded call results by call index and records each new completion.
class DurableExecutionContext {
 public:
  /// Writes the whole action state (the store's put for this action's key).
  using Persist = std::function<Status(const actionstate::ActionState&)>;
  using Callable = std::function<Outcome()>;

  /// `state` is the action's state as loaded; the context appends to and truncates its
  /// call_results and persists it after each change. `state` must outlive the context.
  DurableExecutionContext(actionstate::ActionState& state, Persist persist, Probe probe = {});

  /// A durable call without reconciler: a recorded match replays (returns or re-raises) without
  /// running `call`; otherwise `call` runs and its outcome is recorded and persisted once.
  /// A recorded null result replays as a null result; upstream Java throws a
  /// NullPointerException there (Optional.of(null)); we do not. Errors: the persist's or the
  /// probe's.
  Result<Outcome> execute(const CallId& id, const Callable& call);
  /// A durable call with a reconciler: a PENDING slot is persisted before `call` runs and
  /// replaced by the outcome after; a matching PENDING slot found on replay means the call may
  /// or may not have happened, so `reconciler` decides the outcome instead. Errors as execute.
  Result<Outcome> execute(const CallId& id, const Callable& call, const Callable& reconciler);

  // Upstream's primitives, for callers with their own flow.

  struct Hit {
    std::optional<std::string> result_payload;
    std::optional<std::string> exception_payload;
    Outcome outcome() const {
      return exception_payload ? Outcome::thrown(*exception_payload)
                               : Outcome::returned(result_payload);
    }
  };
  /// The recorded result at the current index if it matches `id` (the index advances); on a
  /// mismatch the results from the current index on are dropped WITHOUT persisting (the next
  /// record persists them); nullopt on a mismatch or past the recorded results.
  std::optional<Hit> match_next_or_clear(const CallId& id);
  /// Appends a terminal result (FAILED if thrown), persists, advances. Errors: the persist's.
  Status record_call_completion(const CallId& id, const Outcome& outcome);
  /// Appends a PENDING slot at the current index and persists; does not advance. Errors:
  /// CONFLICT when a slot already exists at the index; the persist's.
  Status append_pending_call(const CallId& id);
  /// Replaces the PENDING slot at the current index with the outcome, persists, advances.
  /// Errors: CONFLICT when there is no slot, it does not match `id`, or it is not PENDING.
  Status finalize_current_call(const CallId& id, const Outcome& outcome);
  /// Drops the results from the current index on and persists. Errors: the persist's.
  Status clear_from_current_index_and_persist();
  /// The recorded slot at the current index, or null.
  const actionstate::CallResult* current_call_result() const;

  std::int64_t current_index() const { return static_cast<std::int64_t>(index_); }
  const actionstate::ActionState& state() const { return state_; }

  struct Stats {
    std::uint64_t replayed = 0;     // calls answered from recorded results
    std::uint64_t executed = 0;     // calls that ran
    std::uint64_t reconciled = 0;   // reconcilers that ran on a PENDING slot
    std::uint64_t persists = 0;     // whole-state writes
    std::uint64_t truncations = 0;  // mismatches that dropped recorded results
  };
  const Stats& stats() const { return stats_; }

 private:
  Status persist();
  Status probe(Point p, const CallId& id, bool reconciling);
  Result<Outcome> run_and_finalize(const CallId& id, const Callable& fn, bool reconciling);

  // Upstream keeps a second list ("recovery") beside the state's callResults, but every
  // operation changes both the same way, so they never differ: the state's list serves as both.
  actionstate::ActionState& state_;
  Persist persist_;
  Probe probe_;
  size_t index_ = 0;
  Stats stats_;
};

}  // namespace aftk::durable
