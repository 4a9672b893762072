// SPDX-License-Identifier: Apache-2.0
// Printing one state whole (a tree on a terminal, or JSON with decoded payloads) and a business
// key's history (the timeline), for state-inspect's show and --timeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aftk/actionstate/call_id.h"
#include "aftk/actionstate/history.h"
#include "aftk/actionstate/model.h"
#include "aftk/cli/tool.h"
#include "aftk/json/writer.h"

namespace aftk::cli {

/// "2025-11-26T06:53:20.000Z" for milliseconds since the epoch; empty for a negative time.
std::string iso_timestamp(std::int64_t millis);

/// Appends a payload as --decode shows it: null, {"kind":K,"value":V}, {"kind":"kryo","size":N},
/// or, when a pickle does not read, {"kind":"bytes","value":BASE64,"error":MESSAGE}.
void append_decoded_payload(std::string& out, const std::optional<std::string>& payload);

/// Appends the "decoded" object: `state` in its JSON form, with every call result's
/// resultPayload and exceptionPayload replaced by append_decoded_payload's form.
void append_decoded_state(std::string& out, const actionstate::ActionState& state);

/// Writes a call's kind into an open JSON object: "kind" (call_kind_name), and for a sub-agent
/// call or await "sessionId", "callId" and "callSlot", the slot of the call the record belongs
/// to (itself for a call, the awaited call for an await; null when the state does not hold it).
void write_call_kind(json::Writer& w, const actionstate::CallIdentity& id,
                     std::optional<size_t> call_slot);

/// The kind as a table or tree shows it: "function", "tool-call", "subagent-call", or
/// "subagent-await of slot N" ("subagent-await of a call not in this state"); no commas.
std::string call_kind_text(const actionstate::CallIdentity& id, std::optional<size_t> call_slot);

/// One record as `show` prints it: decoded (state), not (error), or a tombstone (neither).
struct ShownRecord {
  const actionstate::HistoryRecord* record = nullptr;
  std::optional<actionstate::ActionState> state;
  std::optional<Error> error;
};

/// Appends one JSON object (no newline): the listing's fields and exact "state" (see
/// append_state_json), "timestamp", "tombstone", "calls" (each slot's "slot" and its
/// write_call_kind fields) and unless `raw` the "decoded" object.
void append_show_json(std::string& out, const ShownRecord& shown, bool raw);

/// The record as an indented tree: where it sits, its key, trigger event, memory updates,
/// output events and call results with their payloads decoded (base64 when `raw`).
std::string show_tree(const ShownRecord& shown, bool raw, bool color);

/// Prints a timeline, row by row (JSON) or at finish() (a table).
class TimelineListing {
 public:
  TimelineListing(const Io& io, Format format, bool color, bool wide);
  /// Prints (JSON) or collects (table) one record.
  void add(const ShownRecord& shown);
  void finish();

 private:
  const Io& io_;
  Format format_;
  bool color_;
  bool wide_;
  Table table_;
  std::string line_;
};

}  // namespace aftk::cli
