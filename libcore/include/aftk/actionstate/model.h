// SPDX-License-Identifier: Apache-2.0
// The action state model: Event, MemoryUpdate, CallResult, ActionState.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aftk::actionstate {

inline constexpr std::string_view kEventClass = "org.apache.flink.agents.api.Event";
inline constexpr std::string_view kInputEventClass = "org.apache.flink.agents.api.InputEvent";
inline constexpr std::string_view kOutputEventClass = "org.apache.flink.agents.api.OutputEvent";

/// An event as the action-state value carries it (the trigger event or an output event).
struct Event {
  std::string class_name{kEventClass};  // "@class": the Java class Jackson instantiates
  std::string id;                        // a UUID
  std::string type;                      // the routing type, e.g. "_input_event"
  std::string attributes = "{}";         // a JSON object in Jackson's compact form
  /// 0.4 (PR #950): a JSON object in Jackson's compact form of attachment values, each a plain
  /// JSON value or a MemoryRef {"@type":"memory_ref","memory_type":...,"path":...} into the
  /// emitting action's sensory memory; "{}" when empty. Absent (nullopt) before 0.4.
  std::optional<std::string> attachments = std::nullopt;
  std::optional<std::string> upstream_event_id;     // lineage (main@8ad3a32 on); absent in 0.3.x
  std::optional<std::string> upstream_action_name;  // lineage (main@8ad3a32 on); absent in 0.3.x

  /// Jackson writes "type" last for classes whose creator takes (id, attributes), i.e. every
  /// class but the base Event; the base Event writes it right after "id".
  bool writes_type_last() const { return class_name != kEventClass; }

  bool operator==(const Event&) const = default;
};

/// A memory value: null, the Kryo envelope (payload kept verbatim), or plain JSON (0.3.0 form).
struct MemoryValue {
  enum class Kind { kNull, kKryo, kPlainJson };
  Kind kind = Kind::kNull;
  std::string text;  // kKryo: the base64 payload as stored; kPlainJson: compact JSON

  static MemoryValue null() { return {}; }
  static MemoryValue kryo(std::string payload_base64) {
    return {Kind::kKryo, std::move(payload_base64)};
  }
  bool operator==(const MemoryValue&) const = default;
};

struct MemoryUpdate {
  std::string path;
  MemoryValue value;
  /// 0.4 (PR #1030): true when the update re-creates the nested object at `path` (then the
  /// value is null); written on every update of a 0.4 record. Absent (nullopt) before 0.4.
  std::optional<bool> object_creation = std::nullopt;
  bool operator==(const MemoryUpdate&) const = default;
};

enum class CallStatus { kPending, kSucceeded, kFailed };

/// "PENDING", "SUCCEEDED", "FAILED".
std::string_view call_status_name(CallStatus s);

/// The recorded outcome of one durable call.
struct CallResult {
  std::optional<std::string> function_id;
  std::optional<std::string> args_digest;
  std::optional<std::string> result_payload;     // raw bytes (base64 on the wire)
  std::optional<std::string> exception_payload;  // raw bytes (base64 on the wire)
  std::optional<CallStatus> status;              // nullopt: a legacy record without status

  static CallResult success(std::optional<std::string> function_id,
                            std::optional<std::string> args_digest,
                            std::optional<std::string> result);
  static CallResult failure(std::optional<std::string> function_id,
                            std::optional<std::string> args_digest, std::string exception);
  static CallResult pending(std::optional<std::string> function_id,
                            std::optional<std::string> args_digest);

  /// The status, inferring legacy records: FAILED if there is an exception payload, else SUCCEEDED.
  CallStatus effective_status() const;
  bool is_pending() const { return effective_status() == CallStatus::kPending; }
  bool is_failure() const { return effective_status() == CallStatus::kFailed; }
  bool is_success() const { return effective_status() == CallStatus::kSucceeded; }

  /// Null-safe equality on (functionId, argsDigest): how replay decides a call is the same call.
  bool matches(const std::optional<std::string>& function_id,
               const std::optional<std::string>& args_digest) const {
    return this->function_id == function_id && this->args_digest == args_digest;
  }

  /// "CallResult{functionId='f', argsDigest='d', resultPayload=3 bytes, exceptionPayload=null,
  /// status=SUCCEEDED}".
  std::string to_string() const;

  bool operator==(const CallResult&) const = default;
};

/// Everything an action execution persisted.
struct ActionState {
  std::optional<Event> task_event;
  std::vector<MemoryUpdate> sensory_memory_updates;
  std::vector<MemoryUpdate> short_term_memory_updates;
  std::vector<Event> output_events;
  std::vector<CallResult> call_results;
  bool completed = false;

  ActionState() = default;
  explicit ActionState(Event trigger) : task_event(std::move(trigger)) {}

  /// Marks the action finished; a finished action's call results are no longer needed.
  void mark_completed() {
    completed = true;
    call_results.clear();
  }
  /// Drops call results from `index` on; an index outside [0, size) changes nothing.
  void clear_call_results_from(std::int64_t index) {
    if (index >= 0 && static_cast<size_t>(index) < call_results.size())
      call_results.resize(static_cast<size_t>(index));
  }
  size_t pending_calls() const;

  bool operator==(const ActionState&) const = default;
};

}  // namespace aftk::actionstate
