// SPDX-License-Identifier: Apache-2.0
// Replay divergence: what recorded call results would do with the calls new code makes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/serde.h"
#include "aftk/actionstate/store.h"
#include "aftk/durable/context.h"
#include "aftk/result.h"

namespace aftk::durable {

/// One line of a call trace: the durable calls an action execution of new code would make.
///   {"key":"user-42","seq":0,"action":"process","calls":[{"functionId":"m.f","argsDigest":"ab.."}]}
/// Optional: "actionUuid" (else the name-based UUID of "action"), "eventUuid" (to choose among
/// states of one action at one sequence). A call may also be written ["functionId","argsDigest"].
struct TraceEntry {
  std::string key;  // the business key (0.3 keys) or business key id (0.4 keys)
  std::int64_t seq = 0;
  std::string action;
  std::optional<std::string> action_uuid;
  std::optional<std::string> event_uuid;
  std::vector<CallId> calls;
  std::string where;  // "file:line"
};

/// Parses one trace line. Errors: INVALID_ARGUMENT naming the field that is wrong.
Result<TraceEntry> parse_trace_line(std::string_view line);
/// Reads a trace file ('-': standard input), one entry per non-empty line. Errors: IO, and
/// INVALID_ARGUMENT with "file:line" for a line that does not parse; the sink's error stops it.
Status read_trace(const std::string& path, const std::function<Status(TraceEntry&)>& sink);

enum class Cause {
  kNone,
  kArgumentsChanged,  // same function, other argsDigest
  kFunctionRenamed,   // other function, same (non-empty) argsDigest
  kCallInserted,      // the recorded call comes later in the trace
  kCallRemoved,       // the traced call comes later in the record, or the trace ends early
  kCallReplaced,      // none of the above
};
/// "none", "arguments changed", "function renamed", "call inserted", "call removed", "call
/// replaced".
std::string_view cause_name(Cause c);

/// How a trace replays against recorded call results.
struct Divergence {
  std::int64_t first_index = -1;  // the first call that does not match; -1: none
  Cause cause = Cause::kNone;
  std::optional<CallId> recorded;  // at first_index
  std::optional<CallId> traced;    // at first_index
  size_t replayed = 0;             // calls answered from the record
  size_t pending = 0;      // of those, PENDING slots: a reconciler runs (or, without one, null)
  size_t runs = 0;         // traced calls that would run
  size_t re_executes = 0;  // of those, calls whose recorded outcome is thrown away: run again
  bool diverged() const { return first_index >= 0; }
};

/// Compares recorded results with traced calls the way replay consumes them: by index, a
/// match replays, the first mismatch drops the rest of the record.
Divergence compare_calls(std::span<const actionstate::CallResult> recorded,
                         std::span<const CallId> traced);

/// One trace entry checked against a store.
struct ReplayCheck {
  enum class Status { kReplays, kDiverges, kCompleted, kNoState, kAmbiguous, kCorrupt };
  Status status = Status::kNoState;
  const actionstate::StateCache::Entry* entry = nullptr;  // the state compared with
  size_t recorded = 0;                                    // recorded call results
  size_t candidates = 0;                                  // states of that key, seq and action
  Divergence divergence;
  std::string detail;  // decode error, ambiguity
};
/// "replays", "diverges", "completed", "no-state", "ambiguous", "corrupt".
std::string_view status_name(ReplayCheck::Status s);

/// Checks trace entries against the live states of any store (its cache, as rebuilt or loaded).
class ReplayChecker {
 public:
  explicit ReplayChecker(const actionstate::ActionStateStore& store,
                         actionstate::DecodeOptions decode = {});
  /// Finds the entry's state (completed states are skipped as a whole on replay) and compares.
  ReplayCheck check(const TraceEntry& entry);

 private:
  std::map<std::pair<std::string, std::int64_t>, std::vector<const actionstate::StateCache::Entry*>>
      index_;
  actionstate::Decoder decoder_;
  actionstate::ActionState scratch_;
};

}  // namespace aftk::durable
