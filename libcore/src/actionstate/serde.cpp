// SPDX-License-Identifier: Apache-2.0
// ActionState <-> JSON exactly as upstream's ActionStateSerde writes and reads it.
#include "aftk/actionstate/serde.h"

#include <charconv>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "aftk/actionstate/ids.h"
#include "aftk/json/base64.h"
#include "aftk/json/writer.h"
#include "aftk/detail/json_scan.h"

namespace aftk::actionstate {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// ---------------------------------------------------------------------------------------------
// Encoding

namespace {

void append_opt_string(std::string& out, const std::optional<std::string>& s) {
  if (s)
    json::append_string(out, *s);
  else
    out.append("null");
}

void append_opt_bytes(std::string& out, const std::optional<std::string>& b) {
  if (!b) {
    out.append("null");
    return;
  }
  out.push_back('"');
  json::base64_append(out, *b);
  out.push_back('"');
}

// Which optional fields an encoding writes: as the state holds them, or as a profile's writer.
struct FieldRule {
  enum class Write { kAsHeld, kNever, kAlways };
  bool lineage = true;
  Write attachments = Write::kAsHeld;
  Write object_creation = Write::kAsHeld;
};

void encode_memory_update(const MemoryUpdate& m, std::string& out, const FieldRule& rule) {
  out.append("{\"path\":");
  json::append_string(out, m.path);
  out.append(",\"value\":");
  switch (m.value.kind) {
    case MemoryValue::Kind::kNull:
      out.append("null");
      break;
    case MemoryValue::Kind::kKryo:
      out.append("{\"serde\":\"kryo\",\"version\":1,\"payload\":");
      json::append_string(out, m.value.text);
      out.push_back('}');
      break;
    case MemoryValue::Kind::kPlainJson:
      out.append(m.value.text);
      break;
  }
  const bool write = rule.object_creation == FieldRule::Write::kAlways ||
                     (rule.object_creation == FieldRule::Write::kAsHeld && m.object_creation);
  if (write) out.append(m.object_creation.value_or(false) ? ",\"objectCreation\":true" : ",\"objectCreation\":false");
  out.push_back('}');
}

void encode_call_result(const CallResult& c, std::string& out) {
  out.append("{\"functionId\":");
  append_opt_string(out, c.function_id);
  out.append(",\"argsDigest\":");
  append_opt_string(out, c.args_digest);
  out.append(",\"resultPayload\":");
  append_opt_bytes(out, c.result_payload);
  out.append(",\"exceptionPayload\":");
  append_opt_bytes(out, c.exception_payload);
  out.append(",\"status\":");
  if (c.status) {
    out.push_back('"');
    out.append(call_status_name(*c.status));
    out.push_back('"');
  } else {
    out.append("null");
  }
  out.push_back('}');
}

template <class T, class F>
void encode_list(const std::vector<T>& items, std::string& out, F&& each) {
  out.push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    each(items[i], out);
  }
  out.push_back(']');
}

}  // namespace

namespace {

void encode_event(const Event& e, std::string& out, const FieldRule& rule) {
  out.append("{\"@class\":");
  json::append_string(out, e.class_name);
  out.append(",\"id\":");
  json::append_string(out, e.id);
  const bool type_last = e.writes_type_last();
  if (!type_last) {
    out.append(",\"type\":");
    json::append_string(out, e.type);
  }
  out.append(",\"attributes\":");
  out.append(e.attributes);
  // 0.4 writes attachments always (not under the NON_NULL rule of the lineage fields), right
  // after the attributes.
  if (rule.attachments == FieldRule::Write::kAlways ||
      (rule.attachments == FieldRule::Write::kAsHeld && e.attachments)) {
    out.append(",\"attachments\":");
    out.append(e.attachments ? std::string_view(*e.attachments) : std::string_view("{}"));
  }
  if (rule.lineage && e.upstream_event_id) {
    out.append(",\"upstreamEventId\":");
    json::append_string(out, *e.upstream_event_id);
  }
  if (rule.lineage && e.upstream_action_name) {
    out.append(",\"upstreamActionName\":");
    json::append_string(out, *e.upstream_action_name);
  }
  if (type_last) {
    out.append(",\"type\":");
    json::append_string(out, e.type);
  }
  out.push_back('}');
}

void encode_with(const ActionState& s, std::string& out, const FieldRule& rule) {
  const auto event = [&](const Event& e, std::string& o) { encode_event(e, o, rule); };
  const auto update = [&](const MemoryUpdate& m, std::string& o) { encode_memory_update(m, o, rule); };
  out.append("{\"taskEvent\":");
  if (s.task_event)
    event(*s.task_event, out);
  else
    out.append("null");
  out.append(",\"sensoryMemoryUpdates\":");
  encode_list(s.sensory_memory_updates, out, update);
  out.append(",\"shortTermMemoryUpdates\":");
  encode_list(s.short_term_memory_updates, out, update);
  out.append(",\"outputEvents\":");
  encode_list(s.output_events, out, event);
  out.append(",\"callResults\":");
  encode_list(s.call_results, out, encode_call_result);
  out.append(s.completed ? ",\"completed\":true}" : ",\"completed\":false}");
}

// Calls f(event, "taskEvent" or "outputEvents[i]") for every event of `s`.
template <class F>
void for_each_event(const ActionState& s, F&& f) {
  if (s.task_event) f(*s.task_event, std::string("taskEvent"));
  for (size_t i = 0; i < s.output_events.size(); ++i)
    f(s.output_events[i], fmt::format("outputEvents[{}]", i));
}

// Calls f(update, "sensoryMemoryUpdates[i]" ...) for every memory update of `s`.
template <class F>
void for_each_update(const ActionState& s, F&& f) {
  for (size_t i = 0; i < s.sensory_memory_updates.size(); ++i)
    f(s.sensory_memory_updates[i], fmt::format("sensoryMemoryUpdates[{}]", i));
  for (size_t i = 0; i < s.short_term_memory_updates.size(); ++i)
    f(s.short_term_memory_updates[i], fmt::format("shortTermMemoryUpdates[{}]", i));
}

}  // namespace

void encode_event(const Event& e, std::string& out) { encode_event(e, out, FieldRule{}); }

void encode(const ActionState& s, std::string& out) { encode_with(s, out, FieldRule{}); }

std::string_view profile_name(Profile profile) {
  switch (profile) {
    case Profile::kV031: return "0.3.1";
    case Profile::kMain8ad3a32: return "main-8ad3a32";
    case Profile::kV04: return "0.4";
  }
  return "?";
}

Result<Profile> parse_profile(std::string_view name) {
  if (name == "0.3.1" || name == "0.3") return Profile::kV031;
  if (name == "main-8ad3a32" || name == "8ad3a32") return Profile::kMain8ad3a32;
  if (name == "0.4") return Profile::kV04;
  return fail(Errc::kInvalidArgument,
              fmt::format("unknown format '{}': give 0.3.1, main-8ad3a32 or 0.4", name));
}

Profile detect_profile(const ActionState& s) {
  Profile p = Profile::kV031;
  for_each_event(s, [&](const Event& e, const std::string&) {
    if (e.attachments) p = Profile::kV04;
    else if ((e.upstream_event_id || e.upstream_action_name) && p == Profile::kV031)
      p = Profile::kMain8ad3a32;
  });
  for_each_update(s, [&](const MemoryUpdate& m, const std::string&) {
    if (m.object_creation) p = Profile::kV04;
  });
  return p;
}

Status encode_as(const ActionState& s, Profile profile, std::string& out) {
  std::optional<Error> refused;
  const auto refuse = [&](const std::string& where, std::string_view what) {
    if (refused) return;
    refused = Error{Errc::kInvalidArgument,
                    fmt::format("{} cannot be written for a {} reader, which would reject the "
                                "record and with it the whole restore",
                                what, profile_name(profile)),
                    where, false};
  };
  if (profile < Profile::kV04) {
    for_each_event(s, [&](const Event& e, const std::string& where) {
      if (e.attachments && *e.attachments != "{}") refuse(where, "an event with attachments");
      if (profile == Profile::kV031 && (e.upstream_event_id || e.upstream_action_name))
        refuse(where, "an event with lineage (upstreamEventId, upstreamActionName)");
    });
    for_each_update(s, [&](const MemoryUpdate& m, const std::string& where) {
      if (m.object_creation.value_or(false)) refuse(where, "an object-creation memory update");
    });
  }
  if (refused) return fail(std::move(*refused));
  FieldRule rule;
  rule.lineage = profile != Profile::kV031;
  const auto w = profile == Profile::kV04 ? FieldRule::Write::kAlways : FieldRule::Write::kNever;
  rule.attachments = w;
  rule.object_creation = w;
  encode_with(s, out, rule);
  return {};
}

std::string encode(const ActionState& state) {
  std::string out;
  out.reserve(256);
  encode(state, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

namespace {

struct Ctx {
  const DecodeOptions& options;
  std::vector<Deviation>* deviations;
  std::vector<std::string>* pool;  // spare strings, so null/non-null flips do not allocate
  // (field, index) segments, the field empty for an array index; rendered only when an error or
  // deviation needs it.
  std::vector<std::pair<std::string_view, size_t>>& path;
  std::string error;
  bool strict() const { return options.mode == ReadMode::kStrict; }
  std::string path_text() const {
    std::string out;
    for (const auto& [field, index] : path) {
      if (field.empty()) {
        fmt::format_to(std::back_inserter(out), "[{}]", index);
      } else {
        if (!out.empty()) out.push_back('.');
        out.append(field);
      }
    }
    return out;
  }
};

// Pushes a path segment for the lifetime of the object.
class PathScope {
 public:
  PathScope(Ctx& c, std::string_view field) : c_(c) { c.path.push_back({field, 0}); }
  PathScope(Ctx& c, size_t index) : c_(c) { c.path.push_back({{}, index}); }
  ~PathScope() { c_.path.pop_back(); }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;

 private:
  Ctx& c_;
};

bool fail_here(Ctx& c, std::string_view message) {
  c.error = c.path.empty() ? std::string(message) : fmt::format("{}: {}", c.path_text(), message);
  return false;
}

// A deviation from the strict form: an error in strict mode, a note in lenient mode.
bool deviate(Ctx& c, std::string_view message) {
  if (c.strict()) return fail_here(c, message);
  if (c.deviations) c.deviations->push_back({c.path_text(), std::string(message)});
  return true;
}

// Normalization options for a value at the current path: the path has one segment for each
// object or array open around the value, so Jackson's document-wide depth limit holds.
json::NormalizeOptions nested_in(const Ctx& c) {
  json::NormalizeOptions o;
  o.outer_depth = static_cast<int>(c.path.size());
  return o;
}

bool check(Ctx& c, error_code e) {
  if (!e) return true;
  return fail_here(c, json::error_text(e));
}

std::string_view type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "a value";
}

bool wrong_type(Ctx& c, od::value& v, std::string_view expected) {
  od::json_type t{};
  if (v.type().get(t)) return fail_here(c, fmt::format("expected {}", expected));
  return fail_here(c, fmt::format("expected {}, found {}", expected, type_name(t)));
}

bool is_null(od::value& v) {
  bool n = false;
  return !v.is_null().get(n) && n;
}

bool read_string(Ctx& c, od::value& v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return wrong_type(c, v, "a string");
  out.assign(s);
  return true;
}

void release(Ctx& c, std::optional<std::string>& out) {
  if (!out) return;
  if (c.pool->size() < 64) c.pool->push_back(std::move(*out));
  out.reset();
}

std::string& acquire(Ctx& c, std::optional<std::string>& out) {
  if (out) {
    out->clear();
  } else if (!c.pool->empty()) {
    out.emplace(std::move(c.pool->back()));
    c.pool->pop_back();
    out->clear();
  } else {
    out.emplace();
  }
  return *out;
}

bool read_opt_string(Ctx& c, od::value& v, std::optional<std::string>& out) {
  if (is_null(v)) {
    release(c, out);
    return true;
  }
  std::string_view s;
  if (v.get_string().get(s)) return wrong_type(c, v, "a string or null");
  acquire(c, out).assign(s);
  return true;
}

bool read_opt_bytes(Ctx& c, od::value& v, std::optional<std::string>& out) {
  if (is_null(v)) {
    release(c, out);
    return true;
  }
  std::string_view s;
  if (v.get_string().get(s)) return wrong_type(c, v, "base64 text or null");
  json::Base64Problem problem;
  auto st = json::base64_decode_lenient(s, acquire(c, out), problem);
  if (!st) return fail_here(c, st.error().message);
  if (problem.unpadded) return deviate(c, "base64 without '=' padding (Jackson rejects it)");
  return true;
}

// Lower-cases a UUID as java.util.UUID.toString prints it; false if it is not UUID-shaped.
bool canonical_uuid_text(std::string_view s, std::string& out) {
  if (s.size() != 36) return false;
  out.assign(s);
  for (size_t i = 0; i < 36; ++i) {
    char& ch = out[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
      continue;
    }
    if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & ~0xF000ull) | 0x4000ull;
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  std::string h = fmt::format("{:016x}{:016x}", hi, lo);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

template <class T>
T& next_slot(std::vector<T>& v, size_t& used) {
  if (used < v.size()) return v[used++];
  ++used;
  return v.emplace_back();
}

// Calls visit(key, value) for each member of `obj`, the key on the error path when `scoped`;
// stops at the first false.
template <class F>
bool for_each_member(Ctx& c, od::object& obj, bool scoped, F&& visit) {
  for (auto fr : obj) {
    od::field f;
    if (!check(c, std::move(fr).get(f))) return false;
    std::string_view key;
    if (!check(c, f.unescaped_key().get(key))) return false;
    od::value v = f.value();
    if (!scoped) {
      if (!visit(key, v)) return false;
      continue;
    }
    PathScope scope(c, key);
    if (!visit(key, v)) return false;
  }
  return true;
}

// False (after the deviation, in lenient mode true) when the reader of the profile asked for
// predates `since`, which added `field`: to that reader it is an unknown field.
bool accepts(Ctx& c, Profile since, std::string_view field) {
  if (!c.options.profile || *c.options.profile >= since) return true;
  return deviate(c, fmt::format("{} is unknown to the {} reader (it came with {})", field,
                                profile_name(*c.options.profile), profile_name(since)));
}

bool decode_event(Ctx& c, od::value& v, Event& e) {
  od::object obj;
  if (v.get_object().get(obj)) return wrong_type(c, v, "an event object");
  bool has_class = false, has_type = false, has_id = false;
  e.type.clear();  // an absent "type" must not keep the previous value's (lenient mode)
  e.upstream_event_id.reset();
  e.upstream_action_name.reset();
  release(c, e.attachments);
  e.attributes.assign("{}");
  const bool members_ok = for_each_member(c, obj, true, [&](std::string_view key, od::value& fv) -> bool {
    if (key == "@class") {
      if (!read_string(c, fv, e.class_name)) return false;
      has_class = true;
    } else if (key == "id") {
      std::string_view s;
      if (fv.get_string().get(s)) return wrong_type(c, fv, "a UUID string");
      if (!canonical_uuid_text(s, e.id)) {
        e.id.assign(s);
        if (!deviate(c, "not a UUID")) return false;
      }
      has_id = true;
    } else if (key == "type") {
      if (is_null(fv)) {
        e.type.clear();
      } else if (!read_string(c, fv, e.type)) {
        return false;
      }
      has_type = !e.type.empty();
    } else if (key == "attributes") {
      e.attributes.clear();
      if (is_null(fv)) {
        e.attributes.assign("{}");
        if (!deviate(c, "null attributes read as {}")) return false;
        return true;
      }
      od::json_type t{};
      if (!check(c, fv.type().get(t))) return false;
      if (t != od::json_type::object) return wrong_type(c, fv, "an object");
      if (!check(c, json::append_normalized(fv, e.attributes, nested_in(c)))) return false;
    } else if (key == "attachments") {
      if (!accepts(c, Profile::kV04, "attachments")) return false;
      od::json_type t{};
      if (!check(c, fv.type().get(t))) return false;
      if (t != od::json_type::object) return wrong_type(c, fv, "an object");
      std::string& text = acquire(c, e.attachments);
      text.clear();
      if (!check(c, json::append_normalized(fv, text, nested_in(c)))) return false;
    } else if (key == "upstreamEventId" || key == "upstreamActionName") {
      if (c.options.reject_lineage_fields &&
          !deviate(c, "lineage field unknown to the 0.3.1 reader"))
        return false;
      if (!accepts(c, Profile::kMain8ad3a32, "lineage")) return false;
      if (!read_opt_string(c, fv, key == "upstreamEventId" ? e.upstream_event_id
                                                            : e.upstream_action_name))
        return false;
    } else {
      if (!deviate(c, "unknown field")) return false;
    }
    return true;
  });
  if (!members_ok) return false;
  if (!has_class) {
    e.class_name.assign(kEventClass);
    if (!deviate(c, "missing \"@class\"")) return false;
  }
  if (!has_type && !deviate(c, "missing or empty \"type\"")) return false;
  if (!has_id) e.id = random_uuid();  // as Jackson's default constructor does
  return true;
}

bool decode_memory_value(Ctx& c, od::value& v, MemoryValue& m) {
  if (is_null(v)) {
    m.kind = MemoryValue::Kind::kNull;
    m.text.clear();
    return true;
  }
  od::json_type t{};
  if (!check(c, v.type().get(t))) return false;
  auto as_plain = [&](auto&& node) -> bool {
    m.kind = MemoryValue::Kind::kPlainJson;
    m.text.clear();
    if (!check(c, json::append_normalized(node, m.text, nested_in(c)))) return false;
    return true;
  };
  if (t != od::json_type::object) {
    if (!deviate(c, "a plain value, not the {\"serde\",\"version\",\"payload\"} envelope (0.3.0 form)"))
      return false;
    return as_plain(v);
  }
  od::object obj;
  if (!check(c, v.get_object().get(obj))) return false;
  bool serde_ok = false, version_ok = false, payload_ok = false, extra = false;
  std::string why;
  const bool members_ok = for_each_member(c, obj, false, [&](std::string_view key, od::value& fv) -> bool {
    if (key == "serde") {
      std::string_view s;
      serde_ok = !fv.get_string().get(s) && s == "kryo";
      if (!serde_ok) why = "\"serde\" is not \"kryo\"";
    } else if (key == "version") {
      std::int64_t ver = 0;
      version_ok = !fv.get_int64().get(ver) && ver == 1;
      if (!version_ok) why = fmt::format("unsupported envelope version {}", ver);
    } else if (key == "payload") {
      std::string_view s;
      if (!fv.get_string().get(s)) {
        std::string scratch;
        payload_ok = json::base64_decode(s, scratch).has_value();
        if (payload_ok) m.text.assign(s);
        else why = "payload is not padded base64";
      } else {
        why = "payload is not a string";
      }
    } else {
      extra = true;
      why = fmt::format("unknown envelope field \"{}\"", key);
    }
    return true;
  });
  if (!members_ok) return false;
  if (serde_ok && version_ok && payload_ok && !extra) {
    m.kind = MemoryValue::Kind::kKryo;
    return true;
  }
  if (why.empty()) why = "incomplete envelope";
  if (!deviate(c, why)) return false;
  bool rewound = false;
  if (!check(c, obj.reset().get(rewound))) return false;
  m.kind = MemoryValue::Kind::kPlainJson;
  m.text.clear();
  return check(c, json::append_normalized(obj, m.text, nested_in(c)));
}

bool decode_memory_update(Ctx& c, od::value& v, MemoryUpdate& m) {
  od::object obj;
  if (v.get_object().get(obj)) return wrong_type(c, v, "a memory update object");
  m.path.clear();
  m.value = MemoryValue{};
  m.object_creation.reset();
  const bool members_ok = for_each_member(c, obj, true, [&](std::string_view key, od::value& fv) -> bool {
    if (key == "objectCreation") {
      if (!accepts(c, Profile::kV04, "objectCreation")) return false;
      bool b = false;
      if (fv.get_bool().get(b)) return wrong_type(c, fv, "a boolean");
      m.object_creation = b;
    } else if (key == "path") {
      if (is_null(fv)) {
        if (!deviate(c, "null path")) return false;
      } else if (!read_string(c, fv, m.path)) {
        return false;
      }
    } else if (key == "value") {
      if (!decode_memory_value(c, fv, m.value)) return false;
    } else if (!deviate(c, "unknown field")) {
      return false;
    }
    return true;
  });
  if (!members_ok) return false;
  // The 0.4 reader refuses this pair (an object creation re-creates an empty object).
  if (m.object_creation.value_or(false) && m.value.kind != MemoryValue::Kind::kNull &&
      !deviate(c, "an object-creation update cannot carry a value"))
    return false;
  return true;
}

bool decode_call_result(Ctx& c, od::value& v, CallResult& r) {
  od::object obj;
  if (v.get_object().get(obj)) return wrong_type(c, v, "a call result object");
  release(c, r.function_id);
  release(c, r.args_digest);
  r.status.reset();
  bool has_result = false, has_exception = false;
  const bool members_ok = for_each_member(c, obj, true, [&](std::string_view key, od::value& fv) -> bool {
    if (key == "functionId") {
      if (!read_opt_string(c, fv, r.function_id)) return false;
    } else if (key == "argsDigest") {
      if (!read_opt_string(c, fv, r.args_digest)) return false;
    } else if (key == "resultPayload") {
      if (!read_opt_bytes(c, fv, r.result_payload)) return false;
      has_result = true;
    } else if (key == "exceptionPayload") {
      if (!read_opt_bytes(c, fv, r.exception_payload)) return false;
      has_exception = true;
    } else if (key == "status") {
      if (is_null(fv)) return true;
      std::string_view s;
      if (fv.get_string().get(s)) return wrong_type(c, fv, "a status string or null");
      if (s == "SUCCEEDED") r.status = CallStatus::kSucceeded;
      else if (s == "FAILED") r.status = CallStatus::kFailed;
      else if (s == "PENDING") r.status = CallStatus::kPending;
      else if (!deviate(c, fmt::format("unknown status \"{}\"", s))) return false;
    } else if (!deviate(c, "unknown field")) {
      return false;
    }
    return true;
  });
  if (!members_ok) return false;
  if (!has_result) release(c, r.result_payload);
  if (!has_exception) release(c, r.exception_payload);
  return true;
}

template <class T, class F>
bool decode_list(Ctx& c, od::value& v, std::vector<T>& out, F&& each) {
  size_t used = 0;
  if (is_null(v)) {
    out.clear();
    return true;
  }
  od::array arr;
  if (v.get_array().get(arr)) return wrong_type(c, v, "an array");
  for (auto er : arr) {
    od::value ev;
    if (!check(c, std::move(er).get(ev))) return false;
    PathScope scope(c, used);
    T& slot = next_slot(out, used);
    if (!each(c, ev, slot)) return false;
  }
  out.resize(used);
  return true;
}

bool decode_state(Ctx& c, od::object& obj, ActionState& s) {
  bool saw[6] = {};
  const bool members_ok = for_each_member(c, obj, true, [&](std::string_view key, od::value& fv) -> bool {
    if (key == "taskEvent") {
      saw[0] = true;
      if (is_null(fv)) {
        s.task_event.reset();
      } else {
        if (!s.task_event) s.task_event.emplace();
        if (!decode_event(c, fv, *s.task_event)) return false;
      }
    } else if (key == "sensoryMemoryUpdates") {
      saw[1] = true;
      if (!decode_list(c, fv, s.sensory_memory_updates, decode_memory_update)) return false;
    } else if (key == "shortTermMemoryUpdates") {
      saw[2] = true;
      if (!decode_list(c, fv, s.short_term_memory_updates, decode_memory_update)) return false;
    } else if (key == "outputEvents") {
      saw[3] = true;
      if (!decode_list(c, fv, s.output_events, decode_event)) return false;
    } else if (key == "callResults") {
      saw[4] = true;
      if (!decode_list(c, fv, s.call_results, decode_call_result)) return false;
    } else if (key == "completed") {
      saw[5] = true;
      if (is_null(fv)) {
        s.completed = false;
      } else if (fv.get_bool().get(s.completed)) {
        return wrong_type(c, fv, "a boolean");
      }
    } else if (!deviate(c, "unknown field")) {
      return false;
    }
    return true;
  });
  if (!members_ok) return false;
  // Absent fields take the constructor defaults.
  if (!saw[0]) s.task_event.reset();
  if (!saw[1]) s.sensory_memory_updates.clear();
  if (!saw[2]) s.short_term_memory_updates.clear();
  if (!saw[3]) s.output_events.clear();
  if (!saw[4]) s.call_results.clear();
  if (!saw[5]) s.completed = false;
  return true;
}


// ---------------------------------------------------------------------------------------------
// The canonical form: the exact bytes Jackson (and encode()) writes, read without simdjson.
//
// Values written by the runtime or by aftk are compact, keep their fields in one order and escape
// strings as Jackson does, so a single forward pass over the bytes can read them. The pass
// accepts only input whose decoding it is sure of and which encode() writes back byte for byte,
// every such input one the general reader below decodes to the same ActionState without any
// deviation; anything else (whitespace, another field order, escapes or raw 4-byte sequences in
// a field whose value is unescaped, numbers not in normalized form, base64 with stray bits,
// lenient-only forms) makes it decline, and the general reader decides. Declining costs the
// bytes read so far, nothing else: the caller's ActionState is rewritten in full by whichever
// reader finishes.

class CanonicalReader {
 public:
  CanonicalReader(Ctx& c, std::string_view in, std::string& scratch)
      : c_(c), p_(in.data()), end_(in.data() + in.size()), scratch_(scratch) {}

  bool state(ActionState& s) {
    if (!lit("{\"taskEvent\":")) return false;
    if (lit("null")) {
      s.task_event.reset();
    } else {
      if (!s.task_event) s.task_event.emplace();
      if (!event(*s.task_event)) return false;
    }
    return lit(",\"sensoryMemoryUpdates\":") && list(s.sensory_memory_updates, &CanonicalReader::memory_update) &&
           lit(",\"shortTermMemoryUpdates\":") && list(s.short_term_memory_updates, &CanonicalReader::memory_update) &&
           lit(",\"outputEvents\":") && list(s.output_events, &CanonicalReader::event) &&
           lit(",\"callResults\":") && list(s.call_results, &CanonicalReader::call_result) &&
           lit(",\"completed\":") && boolean(s.completed) && lit("}") && p_ == end_;
  }

 private:
  // Nesting deeper than this inside attributes is left to the general reader.
  static constexpr int kMaxDepth = 64;

  template <size_t N>
  bool lit(const char (&text)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, text, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool boolean(bool& out) {
    if (lit("true")) return out = true, true;
    if (lit("false")) return out = false, true;
    return false;
  }

  // A string without escapes, control characters or 4-byte UTF-8 sequences: its bytes are its
  // value and encode() writes them back unchanged (it escapes a 4-byte sequence as a surrogate
  // pair, so raw ones are left to the general reader).
  bool plain(std::string_view& out) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* q = json::detail::find_special<true, true>(p_ + 1, end_);
    if (q >= end_ || *q != '"') return false;
    out = std::string_view(p_ + 1, static_cast<size_t>(q - p_ - 1));
    p_ = q + 1;
    return true;
  }

  // null, which empties `out`, or a plain string that fill(text, out's buffer) takes in.
  template <class F>
  bool opt_plain(std::optional<std::string>& out, F&& fill) {
    if (lit("null")) {
      release(c_, out);
      return true;
    }
    std::string_view v;
    return plain(v) && fill(v, acquire(c_, out));
  }

  bool opt_text(std::optional<std::string>& out) {
    return opt_plain(out, [](std::string_view v, std::string& s) {
      s.assign(v);
      return true;
    });
  }

  bool opt_bytes(std::optional<std::string>& out) {
    return opt_plain(out, [](std::string_view v, std::string& s) {
      // Text with non-zero bits after the last byte decodes as Jackson decodes it (the bits are
      // dropped) but re-encodes with them zero, so it is not in the canonical form.
      json::Base64Problem problem;
      return json::base64_decode_lenient(v, s, problem).has_value() && !problem.unpadded &&
             !problem.stray_bits;
    });
  }

  // A string already in Jackson's form, left in place: only the escapes Jackson writes, no raw
  // control characters, no raw 4-byte sequences (Jackson writes those as surrogate pairs).
  bool jackson_string() {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* q = p_ + 1;
    for (;;) {
      q = json::detail::find_special<true, true>(q, end_);
      if (q >= end_) return false;
      if (*q == '"') break;
      const size_t kept = json::detail::kept_escape_length(q, end_, /*surrogates=*/true);
      if (kept == 0) return false;
      q += kept;
    }
    p_ = q + 1;
    return true;
  }

  // A JSON value already in the form append_normalized writes, left in place.
  bool jackson_value(int depth) {
    if (p_ >= end_) return false;
    switch (*p_) {
      case '{':
        if (depth >= kMaxDepth) return false;
        ++p_;
        if (lit("}")) return true;
        do {
          if (!jackson_string() || !lit(":") || !jackson_value(depth + 1)) return false;
        } while (lit(","));
        return lit("}");
      case '[':
        if (depth >= kMaxDepth) return false;
        ++p_;
        if (lit("]")) return true;
        do {
          if (!jackson_value(depth + 1)) return false;
        } while (lit(","));
        return lit("]");
      case '"':
        return jackson_string();
      case 't':
        return lit("true");
      case 'f':
        return lit("false");
      case 'n':
        return lit("null");
      default:
        return jackson_number();
    }
  }

  // A number as normalization writes it: an integer -?(0|[1-9][0-9]*) other than "-0" (copied
  // unchanged), or a double exactly as Java's Double.toString prints it.
  bool jackson_number() {
    const char* q = p_;
    if (q < end_ && *q == '-') ++q;
    if (q >= end_ || *q < '0' || *q > '9') return false;
    const char* digits = q;
    if (*q == '0') {
      ++q;
    } else {
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
    }
    if (q < end_ && (*q == '.' || *q == 'e' || *q == 'E')) {
      while (q < end_ && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '-')) ++q;
      double d;
      const auto [ptr, ec] = std::from_chars(p_, q, d);
      if (ec != std::errc() || ptr != q) return false;
      scratch_.clear();
      json::append_java_double(scratch_, d);
      if (std::string_view(p_, static_cast<size_t>(q - p_)) != scratch_) return false;
    } else if (*digits == '0' && digits != p_) {
      return false;  // "-0" normalizes to "0"
    }
    p_ = q;
    return true;
  }

  bool event(Event& e) {
    std::string_view v;
    if (!lit("{\"@class\":") || !plain(v)) return false;
    e.class_name.assign(v);
    if (!lit(",\"id\":") || !plain(v) || !is_canonical_uuid(v)) return false;
    e.id.assign(v);
    // "type" sits where encode() puts it for this class: right after "id" for the base Event,
    // last for every other class. Anywhere else the general reader decides.
    const bool type_last = e.writes_type_last();
    if (!type_last && !type(e)) return false;
    if (!lit(",\"attributes\":") || p_ >= end_ || *p_ != '{') return false;
    const char* attributes = p_;
    if (!jackson_value(0)) return false;
    e.attributes.assign(attributes, static_cast<size_t>(p_ - attributes));
    const auto& profile = c_.options.profile;
    if (lit(",\"attachments\":")) {
      if ((profile && *profile < Profile::kV04) || p_ >= end_ || *p_ != '{') return false;
      const char* start = p_;
      if (!jackson_value(0)) return false;
      acquire(c_, e.attachments).assign(start, static_cast<size_t>(p_ - start));
    } else {
      release(c_, e.attachments);
    }
    const bool lineage_ok = !c_.options.reject_lineage_fields &&
                            (!profile || *profile >= Profile::kMain8ad3a32);
    if (lit(",\"upstreamEventId\":")) {
      if (!lineage_ok || !plain(v)) return false;
      acquire(c_, e.upstream_event_id).assign(v);
    } else {
      release(c_, e.upstream_event_id);
    }
    if (lit(",\"upstreamActionName\":")) {
      if (!lineage_ok || !plain(v)) return false;
      acquire(c_, e.upstream_action_name).assign(v);
    } else {
      release(c_, e.upstream_action_name);
    }
    if (type_last && !type(e)) return false;
    return lit("}");
  }

  bool type(Event& e) {
    std::string_view v;
    if (!lit(",\"type\":") || !plain(v) || v.empty()) return false;
    e.type.assign(v);
    return true;
  }

  bool memory_update(MemoryUpdate& m) {
    std::string_view v;
    if (!lit("{\"path\":") || !plain(v)) return false;
    m.path.assign(v);
    if (!lit(",\"value\":")) return false;
    if (lit("null")) {
      m.value.kind = MemoryValue::Kind::kNull;
      m.value.text.clear();
    } else {
      if (!lit("{\"serde\":\"kryo\",\"version\":1,\"payload\":") || !plain(v) || !lit("}")) return false;
      scratch_.clear();
      if (!json::base64_decode(v, scratch_)) return false;
      m.value.kind = MemoryValue::Kind::kKryo;
      m.value.text.assign(v);
    }
    m.object_creation.reset();
    if (lit(",\"objectCreation\":")) {
      const auto& profile = c_.options.profile;
      bool b = false;
      if ((profile && *profile < Profile::kV04) || !boolean(b)) return false;
      // A creation with a value is the general reader's to refuse.
      if (b && m.value.kind != MemoryValue::Kind::kNull) return false;
      m.object_creation = b;
    }
    return lit("}");
  }

  bool call_result(CallResult& r) {
    if (!lit("{\"functionId\":") || !opt_text(r.function_id) || !lit(",\"argsDigest\":") ||
        !opt_text(r.args_digest) || !lit(",\"resultPayload\":") || !opt_bytes(r.result_payload) ||
        !lit(",\"exceptionPayload\":") || !opt_bytes(r.exception_payload) || !lit(",\"status\":"))
      return false;
    if (lit("null")) r.status.reset();
    else if (lit("\"SUCCEEDED\"")) r.status = CallStatus::kSucceeded;
    else if (lit("\"FAILED\"")) r.status = CallStatus::kFailed;
    else if (lit("\"PENDING\"")) r.status = CallStatus::kPending;
    else return false;
    return lit("}");
  }

  template <class T>
  bool list(std::vector<T>& out, bool (CanonicalReader::*each)(T&)) {
    if (!lit("[")) return false;
    size_t used = 0;
    if (!lit("]")) {
      do {
        if (!(this->*each)(next_slot(out, used))) return false;
      } while (lit(","));
      if (!lit("]")) return false;
    }
    out.resize(used);
    return true;
  }

  Ctx& c_;
  const char* p_;
  const char* end_;
  std::string& scratch_;
};

}  // namespace

bool Decoder::read_canonical(std::string_view json, ActionState& out) {
  if (!options_.canonical_fast_path || !simdjson::validate_utf8(json.data(), json.size())) return false;
  path_.clear();
  Ctx c{options_, nullptr, &pool_, path_, {}};
  if (!CanonicalReader(c, json, scratch_).state(out)) return false;
  ++stats_.canonical;
  return true;
}

Status Decoder::decode(std::string_view json, ActionState& out, std::vector<Deviation>* deviations) {
  if (read_canonical(json, out)) return {};  // needs no padding, so no copy
  return decode_general(buffer_.wrap(json), out, deviations);
}

Status Decoder::decode_padded(simdjson::padded_string_view padded, ActionState& out,
                              std::vector<Deviation>* deviations) {
  if (read_canonical(std::string_view(padded.data(), padded.size()), out)) return {};
  return decode_general(padded, out, deviations);
}

Status Decoder::decode_general(simdjson::padded_string_view padded, ActionState& out,
                               std::vector<Deviation>* deviations) {
  ++stats_.general;
  path_.clear();
  Ctx c{options_, deviations, &pool_, path_, {}};
  od::document doc;
  auto err = parser_.iterate(padded).get(doc);
  if (err) return fail(Errc::kCorruptRecord, fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  od::object obj;
  err = doc.get_object().get(obj);
  if (err) {
    od::json_type t{};
    if (doc.type().get(t)) return fail(Errc::kCorruptRecord, fmt::format("invalid JSON: {}", simdjson::error_message(err)));
    return fail(Errc::kCorruptRecord, fmt::format("expected an ActionState object, found {}", type_name(t)));
  }
  if (!decode_state(c, obj, out)) return fail(Errc::kCorruptRecord, c.error);
  if (!doc.current_location().error())
    return fail(Errc::kCorruptRecord, "trailing content after the ActionState object");
  return {};
}

Result<ActionState> Decoder::decode(std::string_view json, std::vector<Deviation>* deviations) {
  ActionState s;
  AFTK_TRY(decode(json, s, deviations));
  return s;
}

}  // namespace aftk::actionstate
