// SPDX-License-Identifier: Apache-2.0
// Classifying durable-call function ids, and the sub-agent session ids of PR #938.
#include "aftk/actionstate/call_id.h"

#include <charconv>

#include <fmt/format.h>

#include "aftk/actionstate/ids.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::actionstate {

namespace {

constexpr std::string_view kAwaitSuffix = "#await";
constexpr size_t kUuidLength = 36;

// A counter as Java's Integer/Long.toString writes a non-negative one: digits, no sign, no
// leading zero unless it is "0".
std::optional<std::int64_t> parse_counter(std::string_view s) {
  if (s.empty() || s.front() < '0' || s.front() > '9' || (s.size() > 1 && s.front() == '0'))
    return std::nullopt;
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

// "<uuid>-<n>#<uuid>-<n>-<m>", or nullopt.
std::optional<CallIdentity> parse_subagent(std::string_view id) {
  const size_t hash = id.find('#');
  if (hash == std::string_view::npos) return std::nullopt;
  const std::string_view session = id.substr(0, hash);
  const std::string_view call = id.substr(hash + 1);
  if (session.size() < kUuidLength + 2 || session[kUuidLength] != '-') return std::nullopt;
  const std::string_view uuid = session.substr(0, kUuidLength);
  if (!is_canonical_uuid(uuid)) return std::nullopt;
  const auto n = parse_counter(session.substr(kUuidLength + 1));
  if (!n) return std::nullopt;
  if (call.size() < session.size() + 2 || !call.starts_with(session) ||
      call[session.size()] != '-')
    return std::nullopt;
  const auto m = parse_counter(call.substr(session.size() + 1));
  if (!m || *m < 1) return std::nullopt;
  CallIdentity c;
  c.kind = CallKind::kSubagentCall;
  c.session_uuid = std::string(uuid);
  c.session_number = *n;
  c.call_number = *m;
  c.session_id = std::string(session);
  c.call_id = std::string(call);
  return c;
}

}  // namespace

std::string_view call_kind_name(CallKind kind) {
  switch (kind) {
    case CallKind::kFunction: return "function";
    case CallKind::kToolCall: return "tool-call";
    case CallKind::kSubagentCall: return "subagent-call";
    case CallKind::kSubagentAwait: return "subagent-await";
  }
  return "function";
}

std::string CallIdentity::call_function_id() const {
  if (!is_subagent()) return {};
  return session_id + "#" + call_id;
}

CallIdentity classify_function_id(const std::optional<std::string>& function_id) {
  if (!function_id) return {};
  std::string_view id = *function_id;
  if (id == kToolCallFunctionId) {
    CallIdentity c;
    c.kind = CallKind::kToolCall;
    return c;
  }
  const bool await = id.ends_with(kAwaitSuffix);
  if (await) id.remove_suffix(kAwaitSuffix.size());
  auto c = parse_subagent(id);
  if (!c) return {};
  if (await) c->kind = CallKind::kSubagentAwait;
  return std::move(*c);
}

std::optional<size_t> owning_slot(const std::vector<CallResult>& calls, size_t slot) {
  if (slot >= calls.size()) return std::nullopt;
  const CallIdentity c = classify_function_id(calls[slot].function_id);
  if (c.kind != CallKind::kSubagentAwait) return slot;
  const std::string awaited = c.call_function_id();
  for (size_t i = slot; i-- > 0;)
    if (calls[i].function_id == awaited) return i;
  for (size_t i = slot + 1; i < calls.size(); ++i)
    if (calls[i].function_id == awaited) return i;
  return std::nullopt;
}

Result<std::string> subagent_session_uuid(const SubagentContext& ctx) {
  auto attributes = json::canonical_json(ctx.event_attributes);
  if (!attributes || !attributes->starts_with('{'))
    return fail(Errc::kInvalidArgument,
                fmt::format("sub-agent event attributes are not a JSON object: {}",
                            attributes ? std::string("'") + ctx.event_attributes + "'"
                                       : attributes.error().message));
  // The six names are already in sorted order. The spec (0.4 line, section 1.4) says "sorted-key
  // JSON" and gives one example with flat string attributes; it does not say whether maps nested
  // in the attributes are sorted too, nor how doubles print. We take the mapper to be the one
  // ActionStateUtil hashes event attributes with (every map sorted, Jackson's number and string
  // forms): canonical_json, the event UUID's form. Only the flat case is checked upstream.
  std::string text;
  json::Writer w(text);
  w.begin_object()
      .field("actionName", ctx.action_name)
      .raw_field("eventAttributes", *attributes)
      .field("eventType", ctx.event_type)
      .field("key", ctx.key)
      .field("sequenceNumber", ctx.sequence_number)
      .field("subagentName", ctx.subagent_name)
      .end_object();
  AFTK_TRY_ASSIGN(std::string canonical, json::canonical_json(text));
  return name_uuid_from_bytes(canonical);
}

std::string subagent_session_id(std::string_view session_uuid, std::int64_t n) {
  return fmt::format("{}-{}", session_uuid, n);
}

std::string subagent_call_id(std::string_view session_id, std::int64_t m) {
  return fmt::format("{}-{}", session_id, m);
}

std::string subagent_function_id(std::string_view session_id, std::int64_t m, bool await) {
  return fmt::format("{}#{}{}", session_id, subagent_call_id(session_id, m),
                     await ? kAwaitSuffix : std::string_view());
}

}  // namespace aftk::actionstate
