// SPDX-License-Identifier: Apache-2.0
// One event-log record as decoded from any upstream form, and one event as handed to the writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::eventlog {

/// The upstream form a record was written in; detected per record, so mixed files read fine.
enum class Form : std::uint8_t {
  kFlat,    // 0.4-SNAPSHOT (main@8ad3a32): eventId/eventType/eventAttributes at the top level
  kNested,  // 0.3.x:
            // {"timestamp","logLevel","eventType","event":{"eventType","id","attributes","type"}}
  kLegacy,  // 0.2.x: {"timestamp","event":{... "eventType":"<Java class>"}}
  kTrace,  // newer main's Trace Log (traces-*.log): entityType/entityName/entityMetadata/attributes
};

/// "flat", "nested-0.3", "legacy-0.2" or "trace".
std::string_view form_name(Form form) noexcept;

/// The four execution lifecycle types whose status/problemCategory the writer lifts to the top.
bool is_lifecycle_type(std::string_view event_type) noexcept;

/// A decoded record. Strings are owned and reused between reads; JSON-valued fields hold the
/// record's own JSON text (not re-encoded).
struct Record {
  Form form = Form::kFlat;
  bool pretty = false;  // spanned several lines (Jackson's default pretty printer)

  std::string timestamp;                // as written (Instant.toString)
  std::optional<std::int64_t> time_ns;  // parsed timestamp, nanoseconds since the epoch
  std::string level;                    // logLevel (STANDARD/VERBOSE), Trace Log "detail"; empty
                                        // for 0.2.x

  std::string event_id;    // flat eventId, nested event.id, trace entityMetadata.eventId
  std::string event_type;  // flat/nested eventType, trace entityName of an event record
  std::optional<std::string> upstream_event_id;
  std::optional<std::string> upstream_action_name;
  std::optional<std::string> status;            // lifted for lifecycle types; Trace Log status
  std::optional<std::string> problem_category;  // lifted for lifecycle types
  std::string attributes;  // JSON object text: eventAttributes / event.attributes / attributes

  // Trace context (main with event-log.trace.enabled, and every Trace Log record).
  std::optional<std::string> input_run_id, business_key, agent_name, execution_id,
      parent_execution_id, entity_type, entity_name;
  std::optional<std::string> entity_metadata;  // JSON object text

  bool type_quirk =
      false;  // 0.3.1 wrote event.type as a truncatedString wrapper (its reader fails)

  std::string raw;           // the record's original bytes, without the final '\n'
  std::uint64_t line = 0;    // 1-based line of the record's first line
  std::uint64_t offset = 0;  // byte offset of the record in its input
  std::size_t source = 0;    // index of the input it came from (merging)

  /// True when the attributes contain a truncation wrapper (truncatedString/List/Object).
  bool truncated() const;
  /// The attributes as upstream's reader rebuilds the event: for lifecycle types status and
  /// problemCategory are put back (if absent). Compact JSON. Errors: CORRUPT_RECORD.
  Result<std::string> event_attributes() const;
};

/// Appends the record in the flat (main@8ad3a32) layout: a flat single-line record is passed
/// through as it was read (raw control bytes in its strings, such as NUL, escaped); other forms
/// are rebuilt (attributes re-written compactly). `pretty`
/// uses Jackson's default pretty printer instead. Errors: CORRUPT_RECORD (attributes).
Status append_flat_json(const Record& record, std::string& out, bool pretty = false);

/// Parses an Instant.toString / RFC 3339 time ("2026-11-18T11:06:43.916833470Z",
/// "2026-11-18T12:06:43+01:00", "2026-11-18"): nanoseconds since the epoch. Errors:
/// INVALID_ARGUMENT; UNSUPPORTED for a time before 1677-09-21 or after 2262-04-11, which
/// int64 nanoseconds cannot hold.
Result<std::int64_t> parse_time(std::string_view text);

/// Formats nanoseconds since the epoch as Instant.toString does (0, 3, 6 or 9 fraction digits).
std::string format_instant(std::int64_t ns);

}  // namespace aftk::eventlog
