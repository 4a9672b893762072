// SPDX-License-Identifier: Apache-2.0
// What a durable call's functionId names: a plain function, the built-in tool-call action, or
// a sub-agent call or await (upstream PR #938), and the sub-agent session ids upstream derives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/model.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// The functionId Java's built-in tool-call action records for every tool of a batch, with
/// argsDigest "" (PR #926, ToolCallAction; Python records module.qualname and a digest instead).
inline constexpr std::string_view kToolCallFunctionId = "tool-call";

enum class CallKind {
  kFunction,       // anything else: a Java durable callable's id, Python's module.qualname, null
  kToolCall,       // kToolCallFunctionId
  kSubagentCall,   // "<sessionId>#<callId>": a sub-agent call submitted (PR #938)
  kSubagentAwait,  // "<sessionId>#<callId>#await": the wait for that call's result
};

/// "function", "tool-call", "subagent-call", "subagent-await": stable, used in JSON output.
std::string_view call_kind_name(CallKind kind);

/// A functionId taken apart. For the sub-agent kinds the ids are those of the function id:
/// sessionId "<uuid>-<n>" and callId "<sessionId>-<m>"; the other kinds leave them empty.
struct CallIdentity {
  CallKind kind = CallKind::kFunction;
  std::string session_uuid;         // the name UUID of the action context
  std::int64_t session_number = -1;  // n: 0, 1, ... per action execution
  std::int64_t call_number = -1;     // m: 1, 2, ... per session
  std::string session_id;           // "<session_uuid>-<n>"
  std::string call_id;              // "<session_id>-<m>"

  bool is_subagent() const {
    return kind == CallKind::kSubagentCall || kind == CallKind::kSubagentAwait;
  }
  /// "<sessionId>#<callId>": the functionId of the call itself (for an await: the call it
  /// awaits). Empty unless is_subagent().
  std::string call_function_id() const;
};

/// Classifies a functionId. A sub-agent id is recognised only in exactly the form upstream
/// writes (a canonical lower-case UUID, decimal counters without sign or leading zeros, the
/// callId repeating the sessionId); anything else with a '#' is a plain function, since the
/// open proposal of issue #1016 names Python functions "<module>.<qualname>#<digest>".
/// argsDigest is not looked at: upstream writes "" for these kinds, but #1016 would drop it.
CallIdentity classify_function_id(const std::optional<std::string>& function_id);

/// The slot of `calls` that slot `slot` belongs to: for a sub-agent await, the slot of the call
/// it awaits (the nearest earlier one, else any later one); for any other slot, itself.
/// nullopt when an await's call is not among `calls` or `slot` is out of range.
std::optional<size_t> owning_slot(const std::vector<CallResult>& calls, size_t slot);

/// What upstream's SubagentIdAllocator hashes into a session's UUID (PR #938).
struct SubagentContext {
  std::string action_name;              // the running action's name
  std::string event_attributes = "{}";  // the trigger event's attributes, a JSON object
  std::string event_type;               // the trigger event's type, e.g. "_input_event"
  std::string key;                      // the Flink key's toString(), not the 0.4 key digest
  std::int64_t sequence_number = 0;     // the input's sequence number
  std::string subagent_name;
};

/// The session UUID: nameUUIDFromBytes over the compact JSON of the six fields, keys sorted
/// (nested attribute maps too, in Java String order). Errors: INVALID_ARGUMENT when
/// event_attributes is not a JSON object.
Result<std::string> subagent_session_uuid(const SubagentContext& context);

/// "<uuid>-<n>": the n-th session (from 0) of one action execution.
std::string subagent_session_id(std::string_view session_uuid, std::int64_t n);
/// "<sessionId>-<m>": the m-th call (from 1) of a session.
std::string subagent_call_id(std::string_view session_id, std::int64_t m);
/// The functionId of call m of a session: "<sessionId>#<callId>", with "#await" for its wait.
std::string subagent_function_id(std::string_view session_id, std::int64_t m, bool await);

}  // namespace aftk::actionstate
