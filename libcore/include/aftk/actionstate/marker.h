// SPDX-License-Identifier: Apache-2.0
// Recovery markers: the legacy {partition: end offset} map and the versioned marker.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/result.h"

namespace aftk::actionstate {

using OffsetMap = std::map<std::int32_t, std::int64_t>;

struct RecoveryMarker {
  int schema_version = 0;  // 0: the legacy map of 0.3.x; 1: KafkaActionStateRecoveryMarker
  std::string topic;       // versioned only
  std::string topic_id;    // versioned only, Kafka Uuid text (URL-safe base64, 22 characters)
  OffsetMap offsets;       // partition -> end offset (the next offset to be written)

  bool versioned() const { return schema_version != 0; }
  static RecoveryMarker legacy(OffsetMap offsets) { return {0, {}, {}, std::move(offsets)}; }
  bool operator==(const RecoveryMarker&) const = default;
};

/// Parses one marker: a legacy map {"0":5,"1":3} or a versioned object with "schemaVersion",
/// "topic", "topicId", "offsets". Errors: INVALID_ARGUMENT naming the offending field
/// (negative offsets, non-canonical partitions, schema other than 1, blank topic or id).
Result<RecoveryMarker> parse_marker(std::string_view json);
/// Parses a marker file: one marker object or a JSON array of them (one per subtask).
Result<std::vector<RecoveryMarker>> parse_markers(std::string_view json);
/// Reads and parses a marker file. Errors name the file.
Result<std::vector<RecoveryMarker>> read_marker_file(const std::string& path);

/// Compact JSON of a marker: {"0":5,"1":3} or {"schemaVersion":1,"topic":...,"topicId":...,"offsets":{...}}.
std::string to_json(const RecoveryMarker& marker);

/// Markers merged as recovery does: per-partition minimum. Legacy and versioned markers are
/// never mixed; versioned ones must agree on topic, topic id and the partition set.
/// Errors: CONFLICT describing the disagreement.
Result<RecoveryMarker> merge_markers(std::span<const RecoveryMarker> markers);

}  // namespace aftk::actionstate
