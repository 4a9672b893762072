// SPDX-License-Identifier: Apache-2.0
// Identities in action-state keys: event and action UUIDs, Flink hashing, key groups, digests.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/result.h"

namespace aftk::actionstate {

using Md5 = std::array<std::uint8_t, 16>;
using Sha256 = std::array<std::uint8_t, 32>;

/// MD5 of `bytes` (OpenSSL).
Md5 md5(std::string_view bytes);
/// SHA-256 of `bytes` (OpenSSL).
Sha256 sha256(std::string_view bytes);
/// Lower-case hex of any byte span.
std::string to_hex(std::span<const std::uint8_t> bytes);

/// Java's UUID.nameUUIDFromBytes: MD5, version 3, IETF variant, lower-case 8-4-4-4-12 text.
std::string name_uuid_from_bytes(std::string_view bytes);

/// True for the canonical lower-case 8-4-4-4-12 hex form.
bool is_canonical_uuid(std::string_view s);

/// Flink's MathUtils.murmurHash(int): non-negative.
std::int32_t flink_murmur_hash(std::int32_t code);

/// Flink's KeyGroupRangeAssignment.assignToKeyGroup for a key whose hashCode() is `key_hash`.
std::int32_t assign_to_key_group(std::int32_t key_hash, std::int32_t max_parallelism);

/// Java's Long.hashCode.
std::int32_t java_long_hash(std::int64_t v);

/// The bytes Flink's StringSerializer writes for `utf8` (StringValue.writeString).
std::string flink_string_serializer_bytes(std::string_view utf8);
/// The bytes Flink's LongSerializer writes (8 bytes, big-endian).
std::string flink_long_serializer_bytes(std::int64_t v);

/// The 0.4 key's businessKeyId: padded standard base64 of SHA-256 over the key-serializer bytes.
std::string business_key_id(std::string_view key_serializer_bytes);

/// The event UUID of a trigger event: name UUID of the canonical JSON of its attributes.
/// `attributes_json` may be any JSON object text. Errors: CORRUPT_RECORD if it does not parse.
Result<std::string> event_uuid(std::string_view attributes_json);

/// Description of a Python action, enough to recompute Action.hashCode() (0.3.x keys).
struct PythonActionId {
  std::string name;
  std::string module;
  std::string qualname;
  std::vector<std::string> triggers;  // trigger event types, in declaration order
};

/// Action.hashCode() of a Python action: Objects.hash(name, Objects.hash(module, qualname), triggers).
std::int32_t python_action_hash(const PythonActionId& action);
/// The 0.3.x action UUID: name UUID of the decimal text of the action's hashCode.
std::string action_uuid_legacy(std::int32_t action_hash);
/// The 0.4 action UUID: name UUID of the action name's UTF-8 bytes.
std::string action_uuid_from_name(std::string_view action_name);

}  // namespace aftk::actionstate
