// SPDX-License-Identifier: Apache-2.0
// What an event log says about action executions, checked against recorded state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aftk/actionstate/store.h"
#include "aftk/result.h"

namespace aftk::durable {

/// An action execution an event log shows: events naming `action` as upstreamActionName and
/// `trigger_id` as upstreamEventId. Event logs carry no durable-call identities, so this is
/// all a log tells about replay: which actions ran on which events.
struct LoggedExecution {
  std::string action;
  std::string trigger_id;
  std::optional<std::string> trigger_type;  // when the trigger event is in the log
  std::optional<std::string> event_uuid;    // key field, from the trigger's attributes
  std::optional<std::string> business_key;  // trace context, when the log has it
  size_t events_sent = 0;
  std::string where;  // "file:line" of the first event it sent
};

/// Reads event-log files (any upstream form; torn and corrupt records are skipped and counted
/// in `problems`) and lists the action executions in order of their first sent event.
/// Errors: IO.
Result<std::vector<LoggedExecution>> derive_executions(
    const std::vector<std::string>& paths, std::vector<std::string>* problems = nullptr);

/// What replay would do with a logged execution, given a store's live states.
struct LoggedCheck {
  enum class Status {
    kCompleted,  // completed state: replay skips the action and re-emits its outputs
    kInFlight,   // incomplete state: the action re-runs, replaying its recorded calls
    kNoState,    // nothing recorded (pruned, or never persisted): the action runs again
    kUnknown,    // the trigger event is not in the log: its key cannot be computed
    kCorrupt,    // the state does not decode
  };
  Status status = Status::kNoState;
  const actionstate::StateCache::Entry* entry = nullptr;
  size_t calls = 0;            // recorded call results (in flight)
  size_t pending = 0;          // of which PENDING
  size_t outputs = 0;          // recorded output events (completed)
  bool by_event_only = false;  // matched on the event UUID alone (0.3 keys hash the action)
};
/// "completed", "in-flight", "no-state", "unknown", "corrupt".
std::string_view logged_status_name(LoggedCheck::Status s);

/// Matches logged executions to states by event UUID and the action's name-based UUID (0.4
/// keys); when no state has that action UUID but exactly one state of that event does, that
/// one is taken (0.3 keys hash the Python action, which a log does not describe).
class LoggedChecker {
 public:
  explicit LoggedChecker(const actionstate::ActionStateStore& store);
  LoggedCheck check(const LoggedExecution& e);

 private:
  std::multimap<std::string, const actionstate::StateCache::Entry*> by_event_;
  actionstate::Decoder decoder_;
  actionstate::ActionState scratch_;
};

}  // namespace aftk::durable
