// SPDX-License-Identifier: Apache-2.0
// Checkpoint-aligned cleanup plans (upstream's plan.json) and the control records that commit them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/marker.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// Kafka's Uuid.ZERO_UUID as Uuid.toString() prints it: no broker ever gives a topic this id.
inline constexpr std::string_view kZeroTopicId = "AAAAAAAAAAAAAAAAAAAAAA";

/// One prefix-deletion boundary taken from one recovery point: upstream's
/// KafkaActionStateCleanupPlan. Everything before offsets[p] in partition p may be deleted.
struct CleanupPlan {
  int schema_version = 1;
  std::string plan_id;                // 64 lower-case hex digits, derived from the rest
  std::string source_recovery_point;  // the checkpoint path, verbatim as the user gave it
  std::string topic;
  std::string topic_id;  // Kafka Uuid text, as the markers hold it
  OffsetMap offsets;     // partition -> first offset to keep

  bool operator==(const CleanupPlan&) const = default;
};

/// The plan id: lower-case hex SHA-256 of "1\n<source>\n<topic>\n<topicId>\n" followed by one
/// "<partition>=<offset>\n" per partition in ascending order.
std::string cleanup_plan_id(std::string_view source_recovery_point, std::string_view topic,
                            std::string_view topic_id, const OffsetMap& offsets);

/// A plan from every recovery marker of one recovery point: per-partition minimum, plan id
/// computed. Errors: INVALID_ARGUMENT for no markers, a legacy (map) marker (it names no
/// physical topic, so it cannot authorise deletion), a schema other than 1, markers naming
/// different topics, topic ids or partition sets, the all-zero topic id, or a blank field.
Result<CleanupPlan> plan_from_markers(std::span<const RecoveryMarker> markers,
                                      std::string source_recovery_point);

/// Checks a plan as upstream's constructor does: schema 1, non-blank strings, a real topic id,
/// non-empty offsets, no negatives, and plan_id equal to the recomputed one. Errors:
/// INVALID_ARGUMENT naming what is wrong.
Status validate_plan(const CleanupPlan& plan);

/// plan.json as upstream writes it: Jackson's default pretty printer (two-space indent,
/// " : "), the six fields in order, offsets in ascending partition order, then "\n".
std::string to_plan_json(const CleanupPlan& plan);

/// The plan as compact JSON (the "plan" member of a control record).
std::string to_compact_json(const CleanupPlan& plan);

/// Parses plan.json strictly, as upstream's fromJson does: exactly one JSON object (nothing
/// after it), no duplicate keys, exactly the six fields, integral offsets that fit a long,
/// canonical partition keys, then validate_plan. Errors: INVALID_ARGUMENT naming the field.
Result<CleanupPlan> parse_cleanup_plan(std::string_view json);

/// Reads and parses a plan file. Errors: IO, or parse_cleanup_plan's, naming the file.
Result<CleanupPlan> read_cleanup_plan_file(const std::string& path);

/// Writes to_plan_json(plan) to `path` only if nothing is there (CREATE_NEW), readable by the
/// owner only (0600): the bytes go to a temporary file beside it, are synced, and are linked
/// into place, so `path` never holds half a plan and an existing file is never replaced.
/// Errors: IO (naming the file; "file exists" when it does).
Status write_cleanup_plan_file(const std::string& path, const CleanupPlan& plan);

/// Whether every partition of `plan` is at or past `boundary` (an empty boundary: always).
/// Different partition sets never advance.
bool advances_or_equals(const OffsetMap& plan, const OffsetMap& boundary);

// --- control topic -----------------------------------------------------------------------------

enum class CleanupStatus { kCommitted, kApplied };

/// "COMMITTED" or "APPLIED".
std::string_view status_name(CleanupStatus status);

/// One record of the cleanup control topic: key = plan id, value = control_record_value().
struct ControlRecord {
  CleanupStatus status = CleanupStatus::kCommitted;
  CleanupPlan plan;
};

/// The value upstream writes: {"schemaVersion":1,"status":"...","plan":{...}}, compact.
std::string control_record_value(const ControlRecord& record);

/// Parses a control record value strictly (exactly the three fields, schema 1, a known status,
/// the nested plan as parse_cleanup_plan checks it). Errors: INVALID_ARGUMENT.
Result<ControlRecord> parse_control_record(std::string_view value);

/// The control topic folded by plan id, in first-seen order, as upstream's readers fold it.
struct ControlState {
  std::vector<ControlRecord> operations;

  const ControlRecord* find(std::string_view plan_id) const;
  /// Per-partition maximum over every operation (empty when there are none).
  OffsetMap boundary() const;
};

/// Adds one control record (key null: `key` nullptr; tombstone: `value` nullptr). Errors:
/// CONFLICT for a missing key, a tombstone (boundaries cannot be deleted), a key other than the
/// plan id, a changed plan under one id, APPLIED falling back to COMMITTED; INVALID_ARGUMENT
/// for a value that does not parse. `where` ("partition 0 offset 7") is set on every error.
Status fold_control_record(ControlState& state, const std::string* key, const std::string* value,
                           const std::string& where);

/// Checks that every operation names `topic`/`topic_id` and `partitions`' partition set and that
/// the boundaries are pairwise comparable (one at or past the other on every partition).
/// Errors: CONFLICT naming the plans.
Status check_operations(const ControlState& state, std::string_view topic,
                        std::string_view topic_id, const OffsetMap& partitions);

}  // namespace aftk::actionstate
