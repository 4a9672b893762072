// SPDX-License-Identifier: Apache-2.0
// Parsing and formatting action-state keys; the upstream partitioner.
#include "aftk/actionstate/key.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/model.h"
#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"

namespace aftk::actionstate {

std::string_view key_format_name(KeyFormat f) { return f == KeyFormat::kV03 ? "0.3" : "0.4"; }

std::string StateKey::to_string() const {
  const std::string_view seq_sign = seq_minus_zero ? "-" : "";
  if (format == KeyFormat::kV03)
    return fmt::format("{}_{}{}_{}_{}", business_key, seq_sign, seq, event_uuid, action_uuid);
  return fmt::format("{}{}_{}{}_{}_{}_{}", key_group_minus_zero ? "-" : "", key_group, seq_sign,
                     seq, event_uuid, action_uuid, business_key_id);
}

StateKey StateKey::v03(std::string business_key, std::int64_t seq, std::string event_uuid,
                       std::string action_uuid) {
  StateKey k;
  k.format = KeyFormat::kV03;
  k.business_key = std::move(business_key);
  k.seq = seq;
  k.event_uuid = std::move(event_uuid);
  k.action_uuid = std::move(action_uuid);
  return k;
}

StateKey StateKey::v04(std::int32_t key_group, std::int64_t seq, std::string event_uuid,
                       std::string action_uuid, std::string business_key_id) {
  StateKey k;
  k.format = KeyFormat::kV04;
  k.key_group = key_group;
  k.seq = seq;
  k.event_uuid = std::move(event_uuid);
  k.action_uuid = std::move(action_uuid);
  k.business_key_id = std::move(business_key_id);
  return k;
}

namespace {

// Digits without a sign or a leading zero, or "-0"; at most max_digits of them.
template <class Int>
bool is_canonical_natural(std::string_view s, size_t max_digits, Int& v) {
  if (s == "-0") {
    v = 0;
    return true;
  }
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return false;
  if (s[0] < '0' || s[0] > '9') return false;  // from_chars would take a '-'
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool is_canonical_seq(std::string_view s, std::int64_t* value) {
  std::int64_t v = 0;
  if (!is_canonical_natural(s, 19, v)) return false;
  if (value) *value = v;
  return true;
}

namespace {

bool is_canonical_int32(std::string_view s, std::int32_t& v) {
  return is_canonical_natural(s, 10, v);
}

bool is_digest(std::string_view s) {
  if (s.size() != 44 || s[43] != '=') return false;
  std::string bytes;
  return json::base64_decode(s, bytes).has_value() && bytes.size() == 32;
}

Unexpected bad_key(std::string_view key, std::string_view why) {
  return fail(Errc::kInvalidArgument, fmt::format("malformed action-state key '{}': {}", key, why));
}

Result<StateKey> parse_v04(std::string_view key) {
  // Exactly five fields; the digest is standard base64, which has no '_'.
  std::array<std::string_view, 5> f;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t us = key.find('_', start);
    if (us == std::string_view::npos) return bad_key(key, "expected five '_'-separated fields");
    f[static_cast<size_t>(i)] = key.substr(start, us - start);
    start = us + 1;
  }
  f[4] = key.substr(start);
  StateKey k;
  k.format = KeyFormat::kV04;
  if (!is_canonical_int32(f[0], k.key_group)) return bad_key(key, fmt::format("key group '{}' is not a canonical non-negative int", f[0]));
  if (!is_canonical_seq(f[1], &k.seq)) return bad_key(key, fmt::format("sequence number '{}' is not a canonical non-negative long", f[1]));
  k.key_group_minus_zero = f[0][0] == '-';
  k.seq_minus_zero = f[1][0] == '-';
  if (!is_canonical_uuid(f[2])) return bad_key(key, fmt::format("event UUID '{}' is not a canonical UUID", f[2]));
  if (!is_canonical_uuid(f[3])) return bad_key(key, fmt::format("action UUID '{}' is not a canonical UUID", f[3]));
  if (!is_digest(f[4])) return bad_key(key, fmt::format("business key id '{}' is not 32 bytes of padded base64", f[4]));
  k.event_uuid.assign(f[2]);
  k.action_uuid.assign(f[3]);
  k.business_key_id.assign(f[4]);
  return k;
}

Result<StateKey> parse_v03(std::string_view key) {
  // From the right: actionUUID, eventUUID, seq; everything before is the business key.
  const size_t a = key.rfind('_');
  if (a == std::string_view::npos || a == 0) return bad_key(key, "expected <businessKey>_<seq>_<eventUUID>_<actionUUID>");
  const size_t e = key.rfind('_', a - 1);
  if (e == std::string_view::npos || e == 0) return bad_key(key, "expected <businessKey>_<seq>_<eventUUID>_<actionUUID>");
  const size_t s = key.rfind('_', e - 1);
  if (s == std::string_view::npos) return bad_key(key, "expected <businessKey>_<seq>_<eventUUID>_<actionUUID>");
  const auto bk = key.substr(0, s);
  const auto seq = key.substr(s + 1, e - s - 1);
  const auto ev = key.substr(e + 1, a - e - 1);
  const auto act = key.substr(a + 1);
  StateKey k;
  k.format = KeyFormat::kV03;
  if (bk.empty()) return bad_key(key, "empty business key");
  if (!is_canonical_seq(seq, &k.seq)) return bad_key(key, fmt::format("sequence number '{}' is not a canonical non-negative long", seq));
  k.seq_minus_zero = seq[0] == '-';
  if (!is_canonical_uuid(ev)) return bad_key(key, fmt::format("event UUID '{}' is not a canonical UUID", ev));
  if (!is_canonical_uuid(act)) return bad_key(key, fmt::format("action UUID '{}' is not a canonical UUID", act));
  k.business_key.assign(bk);
  k.event_uuid.assign(ev);
  k.action_uuid.assign(act);
  return k;
}

// Java's String.split("_"): every field, with trailing empty fields removed.
std::vector<std::string_view> java_split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t us = s.find('_', start);
    if (us == std::string_view::npos) {
      parts.push_back(s.substr(start));
      break;
    }
    parts.push_back(s.substr(start, us - start));
    start = us + 1;
  }
  while (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  if (parts.size() == 1 && parts[0].empty() && s.empty()) return parts;  // "".split -> [""]
  return parts;
}

bool looks_v04(std::string_view key) {
  // The last field of a 0.4 key is a 44-character digest ending in '='; a 0.3 key ends in a UUID.
  const size_t us = key.rfind('_');
  const auto last = us == std::string_view::npos ? key : key.substr(us + 1);
  return last.size() == 44 && last.back() == '=';
}

}  // namespace

Result<StateKey> parse_key(std::string_view key) {
  if (key.empty()) return bad_key(key, "empty key");
  return looks_v04(key) ? parse_v04(key) : parse_v03(key);
}

Result<std::array<std::string, 4>> upstream_parse_key(std::string_view key) {
  const auto parts = java_split(key);
  if (parts.size() != 4) return fail(Errc::kInvalidArgument, "Invalid key format.");
  return std::array<std::string, 4>{std::string(parts[0]), std::string(parts[1]),
                                    std::string(parts[2]), std::string(parts[3])};
}

Result<std::int32_t> partition_for_key(std::string_view key, std::int32_t num_partitions) {
  if (num_partitions <= 0)
    return fail(Errc::kInvalidArgument, fmt::format("invalid partition count {}", num_partitions));
  std::string_view hashed;
  if (looks_v04(key)) {
    const auto k = parse_v04(key);
    if (!k) return fail(Errc::kInvalidArgument, "Key format is invalid");
    hashed = key.substr(key.rfind('_') + 1);
  } else {
    const auto parts = java_split(key);
    if (parts.size() < 4) return fail(Errc::kInvalidArgument, "Key format is invalid");
    if (parts[0].empty()) return fail(Errc::kInvalidArgument, "First part of the key cannot be empty");
    hashed = parts[0];
  }
  return flink_murmur_hash(json::java_string_hash(hashed)) % num_partitions;
}

Result<StateKey> make_key_v03(std::string business_key, std::int64_t seq, const Event& trigger,
                              std::string action_uuid) {
  if (business_key.empty()) return fail(Errc::kInvalidArgument, "empty business key");
  if (seq < 0) return fail(Errc::kInvalidArgument, fmt::format("negative sequence number {}", seq));
  AFTK_TRY_ASSIGN(std::string ev, event_uuid(trigger.attributes));
  return StateKey::v03(std::move(business_key), seq, std::move(ev), std::move(action_uuid));
}

Result<StateKey> make_key_v04(std::string_view key_serializer_bytes, std::int32_t key_hash,
                              std::int32_t max_parallelism, std::int64_t seq, const Event& trigger,
                              std::string_view action_name) {
  if (max_parallelism < 1)
    return fail(Errc::kInvalidArgument, fmt::format("invalid max parallelism {}", max_parallelism));
  if (seq < 0) return fail(Errc::kInvalidArgument, fmt::format("negative sequence number {}", seq));
  AFTK_TRY_ASSIGN(std::string ev, event_uuid(trigger.attributes));
  return StateKey::v04(assign_to_key_group(key_hash, max_parallelism), seq, std::move(ev),
                       action_uuid_from_name(action_name), business_key_id(key_serializer_bytes));
}

}  // namespace aftk::actionstate
