// SPDX-License-Identifier: Apache-2.0
// Action-state record keys (0.3.x four-field and 0.4 five-field) and the topic partitioner.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::actionstate {

enum class KeyFormat {
  kV03,  // <businessKey>_<seq>_<eventUUID>_<actionUUID>            (0.3.x and main@8ad3a32)
  kV04,  // <keyGroup>_<seq>_<eventUUID>_<actionUUID>_<businessKeyId> (newer main, 0.4)
};

/// "0.3" or "0.4", as --json output names the formats.
std::string_view key_format_name(KeyFormat f);

struct StateKey {
  KeyFormat format = KeyFormat::kV03;
  // The sequence number, or the 0.4 key group, was written "-0". Java's Long.parseLong and
  // Integer.parseInt read that as 0, so it parses, but the record key is that text: to_string()
  // writes it back as it was, so a tombstone or an export names the record's own key.
  bool seq_minus_zero = false;
  bool key_group_minus_zero = false;
  std::string business_key;     // 0.3: the business key text; 0.4: empty (not in the key)
  std::string business_key_id;  // 0.4: base64 SHA-256 of the key-serializer bytes; 0.3: empty
  std::int32_t key_group = -1;  // 0.4 only
  std::int64_t seq = 0;
  std::string event_uuid;
  std::string action_uuid;

  /// What one business key is known by: the key text (0.3) or its digest (0.4). Divergence
  /// checks, cleanup and prune are scoped to it.
  std::string_view identity() const {
    return format == KeyFormat::kV03 ? std::string_view(business_key) : std::string_view(business_key_id);
  }
  /// The record key as the runtime writes it; for a parsed key, exactly the text it was parsed
  /// from (parse_key(t)->to_string() == t).
  std::string to_string() const;

  static StateKey v03(std::string business_key, std::int64_t seq, std::string event_uuid,
                      std::string action_uuid);
  static StateKey v04(std::int32_t key_group, std::int64_t seq, std::string event_uuid,
                      std::string action_uuid, std::string business_key_id);

  bool operator==(const StateKey&) const = default;
};

/// Parses a record key, detecting its format. 0.3 keys are split from the right, so business
/// keys containing '_' parse (upstream's parseKey rejects them). Errors: INVALID_ARGUMENT naming
/// the field that is malformed (empty business key, non-canonical sequence number or UUID, a
/// 0.4 digest that is not 32 bytes of base64).
Result<StateKey> parse_key(std::string_view key);

/// Upstream's ActionStateUtil.parseKey of 0.3.x: split on every '_' (Java String.split, trailing
/// empty fields dropped) and require exactly four parts. Kept to check parity with upstream;
/// use parse_key for real data. Error message "Invalid key format." as upstream's.
Result<std::array<std::string, 4>> upstream_parse_key(std::string_view key);

/// The partition the upstream ActionStateKeyPartitioner picks for `key`: Flink's murmur hash of
/// Java's String.hashCode of the first '_' field (0.3 keys) or of the businessKeyId (0.4 keys),
/// modulo `num_partitions`. Errors: INVALID_ARGUMENT with upstream's exact messages
/// ("Key format is invalid", "First part of the key cannot be empty").
Result<std::int32_t> partition_for_key(std::string_view key, std::int32_t num_partitions);

struct Event;

/// ActionStateUtil.generateKey of 0.3.x: the event UUID comes from the trigger event's
/// attributes, the action UUID is given (action_uuid_legacy of a Python action's hash).
/// Errors: INVALID_ARGUMENT for an empty business key or negative seq; CORRUPT_RECORD when the
/// attributes are not JSON.
Result<StateKey> make_key_v03(std::string business_key, std::int64_t seq, const Event& trigger,
                              std::string action_uuid);

/// The 0.4 key: key group of the key's hashCode, name-based action UUID, and the digest of the
/// key-serializer bytes. Errors as make_key_v03, and for max_parallelism < 1.
Result<StateKey> make_key_v04(std::string_view key_serializer_bytes, std::int32_t key_hash,
                              std::int32_t max_parallelism, std::int64_t seq, const Event& trigger,
                              std::string_view action_name);

/// True for a canonical non-negative decimal long ("0", "17"; not "+1", "01", "-1"), or "-0",
/// which Java's Long.parseLong reads as 0 (but not "-00", as "00" is not taken either).
bool is_canonical_seq(std::string_view s, std::int64_t* value = nullptr);

}  // namespace aftk::actionstate
