// SPDX-License-Identifier: Apache-2.0
// Decoding one record of any upstream event-log form; instants; lifecycle attributes.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "aftk/detail/scratch.h"
#include "aftk/json/normalize.h"
#include "decode.h"
#include "dom.h"

namespace aftk::eventlog {

namespace od = simdjson::ondemand;
using simdjson::error_code;

std::string_view form_name(Form form) noexcept {
  switch (form) {
    case Form::kFlat:
      return "flat";
    case Form::kNested:
      return "nested-0.3";
    case Form::kLegacy:
      return "legacy-0.2";
    case Form::kTrace:
      return "trace";
  }
  return "flat";
}

bool is_lifecycle_type(std::string_view t) noexcept {
  return t == "_execution_started_event" || t == "_execution_finished_event" ||
         t == "_execution_failed_event" || t == "_execution_reused_event";
}

bool Record::truncated() const {
  return attributes.find("\"truncatedString\":") != std::string::npos ||
         attributes.find("\"truncatedList\":") != std::string::npos ||
         attributes.find("\"truncatedObject\":") != std::string::npos;
}

Result<std::string> Record::event_attributes() const {
  auto parsed =
      detail::parse(attributes.empty() ? std::string_view("{}") : std::string_view(attributes));
  if (!parsed) return fail(Errc::kCorruptRecord, "event attributes: " + parsed.error().message);
  detail::Node& n = *parsed;
  if (n.kind != detail::Node::Kind::kObject)
    return fail(Errc::kCorruptRecord, "event attributes are not a JSON object");
  if (is_lifecycle_type(event_type)) {
    if (status && n.find("status") == nullptr)
      n.members.emplace_back("status", detail::Node::string(*status));
    if (problem_category && n.find("problemCategory") == nullptr)
      n.members.emplace_back("problemCategory", detail::Node::string(*problem_category));
  }
  std::string out;
  detail::write_compact(n, out);
  return out;
}

namespace {

// Appends a one-line record as it was read, except that control bytes inside its strings
// (which the reader lets through: a NUL a crashed writer left) are escaped, as JSON requires.
void append_raw_escaped(std::string_view raw, std::string& out) {
  const auto is_control = [](char c) { return static_cast<unsigned char>(c) < 0x20; };
  if (std::none_of(raw.begin(), raw.end(), is_control)) {
    out.append(raw);
    return;
  }
  bool in_string = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (in_string && c == '\\' && i + 1 < raw.size()) {
      out.push_back(c);
      out.push_back(raw[++i]);
      continue;
    }
    if (c == '"') in_string = !in_string;
    if (in_string && is_control(c))
      fmt::format_to(std::back_inserter(out), "\\u{:04X}", static_cast<unsigned>(c));
    else
      out.push_back(c);
  }
}

}  // namespace

Status append_flat_json(const Record& r, std::string& out, bool pretty) {
  if (r.form == Form::kFlat && !r.pretty && !pretty) {
    append_raw_escaped(r.raw, out);
    return {};
  }
  using detail::Node;
  Node root = Node::object();
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v) root.members.emplace_back(key, Node::string(*v));
  };
  root.members.emplace_back("timestamp", Node::string(r.timestamp));
  if (!r.level.empty()) root.members.emplace_back("logLevel", Node::string(r.level));
  put("inputRunId", r.input_run_id);
  put("businessKey", r.business_key);
  put("agentName", r.agent_name);
  put("executionId", r.execution_id);
  put("parentExecutionId", r.parent_execution_id);
  put("entityType", r.entity_type);
  put("entityName", r.entity_name);
  if (r.entity_metadata) {
    auto meta = detail::parse(*r.entity_metadata);
    if (!meta) return fail(Errc::kCorruptRecord, "entity metadata: " + meta.error().message);
    root.members.emplace_back("entityMetadata", std::move(meta).value());
  }
  root.members.emplace_back("eventId", Node::string(r.event_id));
  root.members.emplace_back("eventType", Node::string(r.event_type));
  put("upstreamEventId", r.upstream_event_id);
  put("upstreamActionName", r.upstream_action_name);
  put("status", r.status);
  put("problemCategory", r.problem_category);
  auto attrs =
      detail::parse(r.attributes.empty() ? std::string_view("{}") : std::string_view(r.attributes));
  if (!attrs) return fail(Errc::kCorruptRecord, "event attributes: " + attrs.error().message);
  root.members.emplace_back("eventAttributes", std::move(attrs).value());
  if (pretty)
    detail::write_pretty(root, out);
  else
    detail::write_compact(root, out);
  return {};
}

namespace detail {
namespace {

error_code read_string(od::value v, std::string& out) {
  std::string_view s;
  auto err = v.get_string().get(s);
  if (!err) out.assign(s);
  return err;
}

// A string field that may be null or missing; other types are an error, as in upstream's getText.
error_code read_opt(od::value v, std::optional<std::string>& out) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  if (t == od::json_type::null) {
    out.reset();
    return simdjson::SUCCESS;
  }
  if (t != od::json_type::string) return simdjson::INCORRECT_TYPE;
  std::string_view s;
  if ((err = v.get_string().get(s))) return err;
  out.emplace(s);
  return simdjson::SUCCESS;
}

error_code read_object_raw(od::value v, std::string& out) {
  od::object obj;
  auto err = v.get_object().get(obj);
  if (err) return err;
  std::string_view raw;
  if ((err = obj.raw_json().get(raw))) return err;
  out.assign(raw);
  return simdjson::SUCCESS;
}

// The JSON text of any value (simdjson 3.0 has raw_json only on objects and arrays).
error_code value_raw(od::value v, std::string_view& out) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  if (t == od::json_type::object) {
    od::object o;
    if ((err = v.get_object().get(o))) return err;
    return o.raw_json().get(out);
  }
  if (t == od::json_type::array) {
    od::array a;
    if ((err = v.get_array().get(a))) return err;
    return a.raw_json().get(out);
  }
  out = v.raw_json_token();
  return simdjson::SUCCESS;
}

struct Scratch {
  std::string top_event_type, event_event_type, event_id, legacy_extras;
  bool has_event_type = false, has_event_event_type = false, has_event_id = false;
  bool has_flat_attrs = false, has_event = false, has_trace_attrs = false, has_level = false;
  bool has_timestamp = false, has_event_attrs = false;
};

// Reads eventId/upstreamEventId/upstreamActionName out of a Trace Log entityMetadata object.
void read_trace_metadata(std::string_view meta, Record& r) {
  auto& scratch = aftk::detail::thread_scratch(aftk::detail::ParseSite::kTraceMetadata);
  auto padded = scratch.buffer.wrap(meta);
  od::document doc;
  if (scratch.parser.iterate(padded).get(doc)) return;
  od::object obj;
  if (doc.get_object().get(obj)) return;
  for (auto fr : obj) {
    od::field f;
    if (std::move(fr).get(f)) return;
    std::string_view key;
    if (f.unescaped_key().get(key)) return;
    if (key == "eventId") {
      std::optional<std::string> v;
      if (!read_opt(f.value(), v) && v) r.event_id = *v;
    } else if (key == "upstreamEventId") {
      if (read_opt(f.value(), r.upstream_event_id)) r.upstream_event_id.reset();
    } else if (key == "upstreamActionName") {
      if (read_opt(f.value(), r.upstream_action_name)) r.upstream_action_name.reset();
    }
  }
}

error_code read_event_object(od::value v, Record& r, Scratch& s) {
  od::object obj;
  auto err = v.get_object().get(obj);
  if (err) return err;
  for (auto fr : obj) {
    od::field f;
    if ((err = std::move(fr).get(f))) return err;
    std::string_view key;
    if ((err = f.unescaped_key().get(key))) return err;
    if (key == "eventType") {
      if ((err = read_string(f.value(), s.event_event_type))) return err;
      s.has_event_event_type = true;
    } else if (key == "id") {
      if ((err = read_string(f.value(), s.event_id))) return err;
      s.has_event_id = true;
    } else if (key == "attributes") {
      if ((err = read_object_raw(f.value(), r.attributes))) return err;
      s.has_event_attrs = true;
    } else if (key == "type") {
      od::json_type t;
      if ((err = f.value().type().get(t))) return err;
      if (t != od::json_type::string) r.type_quirk = true;  // 0.3.1 truncated it; skipped
    } else if (key == "eventClass") {
      // Java class of a 0.2.x event: not part of the event.
    } else {
      // 0.2.x subclasses kept their own properties (e.g. "input") beside the attributes.
      std::string_view raw;
      od::value fv = f.value();
      if ((err = value_raw(fv, raw))) return err;
      while (!raw.empty() &&
             (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
        raw.remove_suffix(1);
      if (!s.legacy_extras.empty()) s.legacy_extras.push_back(',');
      json::append_string(s.legacy_extras, key, json::Escape::kRawUnicode);
      s.legacy_extras.push_back(':');
      s.legacy_extras.append(raw);
    }
  }
  return simdjson::SUCCESS;
}

void reset(Record& r) {
  r.form = Form::kFlat;
  r.pretty = false;
  r.timestamp.clear();
  r.time_ns.reset();
  r.level.clear();
  r.event_id.clear();
  r.event_type.clear();
  r.upstream_event_id.reset();
  r.upstream_action_name.reset();
  r.status.reset();
  r.problem_category.reset();
  r.attributes.clear();
  r.input_run_id.reset();
  r.business_key.reset();
  r.agent_name.reset();
  r.execution_id.reset();
  r.parent_execution_id.reset();
  r.entity_type.reset();
  r.entity_name.reset();
  r.entity_metadata.reset();
  r.type_quirk = false;
}

error_code decode_fields(od::document& doc, Record& r, Scratch& s) {
  od::object obj;
  auto err = doc.get_object().get(obj);
  if (err) return err;
  for (auto fr : obj) {
    od::field f;
    if ((err = std::move(fr).get(f))) return err;
    std::string_view key;
    if ((err = f.unescaped_key().get(key))) return err;
    if (key.empty()) continue;
    switch (key[0]) {
      case 'a':
        if (key == "attributes") {
          if ((err = read_object_raw(f.value(), r.attributes))) return err;
          s.has_trace_attrs = true;
        } else if (key == "agentName") {
          if ((err = read_opt(f.value(), r.agent_name))) return err;
        }
        break;
      case 'b':
        if (key == "businessKey" && (err = read_opt(f.value(), r.business_key))) return err;
        break;
      case 'd':
        if (key == "detail") {
          if ((err = read_string(f.value(), r.level))) return err;
          s.has_level = true;
        }
        break;
      case 'e':
        if (key == "eventId") {
          if ((err = read_string(f.value(), r.event_id))) return err;
        } else if (key == "eventType") {
          if ((err = read_string(f.value(), s.top_event_type))) return err;
          s.has_event_type = true;
        } else if (key == "eventAttributes") {
          if ((err = read_object_raw(f.value(), r.attributes))) return err;
          s.has_flat_attrs = true;
        } else if (key == "event") {
          if ((err = read_event_object(f.value(), r, s))) return err;
          s.has_event = true;
        } else if (key == "executionId") {
          if ((err = read_opt(f.value(), r.execution_id))) return err;
        } else if (key == "entityType") {
          if ((err = read_opt(f.value(), r.entity_type))) return err;
        } else if (key == "entityName") {
          if ((err = read_opt(f.value(), r.entity_name))) return err;
        } else if (key == "entityMetadata") {
          od::value v = f.value();
          bool is_null = false;
          if (!v.is_null().get(is_null) && is_null) break;
          std::string meta;
          if ((err = read_object_raw(v, meta))) return err;
          r.entity_metadata = std::move(meta);
        }
        break;
      case 'i':
        if (key == "inputRunId" && (err = read_opt(f.value(), r.input_run_id))) return err;
        break;
      case 'l':
        if (key == "logLevel") {
          if ((err = read_string(f.value(), r.level))) return err;
          s.has_level = true;
        }
        break;
      case 'p':
        if (key == "problemCategory") {
          if ((err = read_opt(f.value(), r.problem_category))) return err;
        } else if (key == "parentExecutionId") {
          if ((err = read_opt(f.value(), r.parent_execution_id))) return err;
        }
        break;
      case 's':
        if (key == "status" && (err = read_opt(f.value(), r.status))) return err;
        break;
      case 't':
        if (key == "timestamp") {
          if ((err = read_string(f.value(), r.timestamp))) return err;
          s.has_timestamp = true;
        }
        break;
      case 'u':
        if (key == "upstreamEventId") {
          if ((err = read_opt(f.value(), r.upstream_event_id))) return err;
        } else if (key == "upstreamActionName") {
          if ((err = read_opt(f.value(), r.upstream_action_name))) return err;
        }
        break;
      default:
        break;
    }
  }
  return simdjson::SUCCESS;
}

// True when objects and arrays in `json` (counted outside strings) nest deeper than Jackson's
// limit. The decoder keeps attributes as raw text without descending into them, so this is
// where a record nested too deep for the runtime's reader, and for ours, is turned away.
bool nests_too_deep(std::string_view json) {
  if (json.size() <= 2 * static_cast<size_t>(json::kMaxNestingDepth)) return false;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > json::kMaxNestingDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Status decode_padded(od::parser& parser, simdjson::padded_string_view text, Record& r) {
  reset(r);
  Scratch s;
  od::document doc;
  auto err = parser.iterate(text).get(doc);
  if (!err) err = decode_fields(doc, r, s);
  if (!err && !doc.current_location().error()) err = simdjson::TRAILING_CONTENT;
  if (!err && nests_too_deep(text))
    return fail(Errc::kCorruptRecord, std::string(json::error_text(simdjson::DEPTH_ERROR)));
  if (err) {
    if (err == simdjson::INCORRECT_TYPE)
      return fail(Errc::kCorruptRecord, "a field has the wrong JSON type");
    return fail(Errc::kCorruptRecord,
                fmt::format("invalid JSON ({})", simdjson::error_message(err)));
  }
  if (!s.has_timestamp) return fail(Errc::kCorruptRecord, "no 'timestamp' field");
  if (s.has_flat_attrs) {
    r.form = Form::kFlat;
    if (!s.has_event_type) return fail(Errc::kCorruptRecord, "no 'eventType' field");
    if (r.event_id.empty()) return fail(Errc::kCorruptRecord, "no 'eventId' field");
    r.event_type = std::move(s.top_event_type);
  } else if (s.has_event) {
    r.form = (s.has_level || s.has_event_type) ? Form::kNested : Form::kLegacy;
    if (s.has_event_type)
      r.event_type = std::move(s.top_event_type);
    else if (s.has_event_event_type)
      r.event_type = std::move(s.event_event_type);
    else
      return fail(Errc::kCorruptRecord, "no 'eventType' field in 'event'");
    r.event_id = std::move(s.event_id);
    if (!s.has_event_attrs) r.attributes = "{}";
    if (!s.legacy_extras.empty()) {
      // Fold a 0.2.x subclass's own properties into the attributes so they are not lost.
      std::string merged = r.attributes;
      while (!merged.empty() && merged.back() != '}') merged.pop_back();
      if (merged.empty()) merged = "{}";
      merged.pop_back();
      std::string_view inner(merged);
      const bool empty = inner.find_first_not_of(" \t\r\n{") == std::string_view::npos;
      if (!empty) merged.push_back(',');
      merged.append(s.legacy_extras);
      merged.push_back('}');
      r.attributes = std::move(merged);
    }
  } else if (s.has_trace_attrs && (r.entity_type || r.entity_name)) {
    r.form = Form::kTrace;
    if (r.entity_name) r.event_type = *r.entity_name;
    if (r.entity_metadata) read_trace_metadata(*r.entity_metadata, r);
  } else {
    return fail(
        Errc::kCorruptRecord,
        "not an event log record (no 'eventAttributes', 'event' or Trace Log 'attributes')");
  }
  if (auto t = parse_time(r.timestamp)) r.time_ns = *t;
  return {};
}

}  // namespace detail

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

Result<std::int64_t> parse_time(std::string_view s) {
  auto bad = [&] {
    return fail(
        Errc::kInvalidArgument,
        fmt::format("invalid time '{}': expected RFC 3339, e.g. 2026-11-18T11:06:43.916Z", s));
  };
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day))
    return bad();
  if (month < 1 || month > 12 || day < 1 || day > 31) return bad();
  std::int64_t nanos = 0;
  std::int64_t offset_s = 0;
  size_t i = 10;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return bad();
    if (!digits(s, i + 1, 2, hour) || s.size() < i + 9 || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, minute) || s[i + 6] != ':' || !digits(s, i + 7, 2, second))
      return bad();
    if (hour > 23 || minute > 59 || second > 60) return bad();
    i += 9;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      int n = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (n < 9) {
          nanos = nanos * 10 + (s[i] - '0');
          ++n;
        }
        ++i;
      }
      if (n == 0) return bad();
      for (; n < 9; ++n) nanos *= 10;
    }
    if (i >= s.size()) return bad();  // RFC 3339 requires a zone
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om;
      if (!digits(s, i + 1, 2, oh) || s.size() < i + 6 || s[i + 3] != ':' ||
          !digits(s, i + 4, 2, om))
        return bad();
      offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
      i += 6;
    } else {
      return bad();
    }
    if (i != s.size()) return bad();
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Nanoseconds since the epoch fit in int64 from 1677-09-21T00:12:43.145224192Z to
  // 2262-04-11T23:47:16.854775807Z; a year outside that would overflow.
  // Before the epoch, whole seconds rounded up and a negative fraction, so the earliest
  // instant does not overflow on the way to an in-range result.
  std::int64_t whole = secs, fraction = nanos;
  if (whole < 0 && fraction > 0) {
    ++whole;
    fraction -= 1'000'000'000;
  }
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(whole, std::int64_t{1'000'000'000}, &ns) ||
      __builtin_add_overflow(ns, fraction, &ns))
    return fail(Errc::kUnsupported,
                fmt::format("invalid time '{}': outside the range of nanosecond timestamps "
                            "(1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)",
                            s));
  return ns;
}

std::string format_instant(std::int64_t ns) {
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600,
                                (rem / 60) % 60, rem % 60);
  if (nanos != 0) {
    if (nanos % 1'000'000 == 0)
      out += fmt::format(".{:03}", nanos / 1'000'000);
    else if (nanos % 1000 == 0)
      out += fmt::format(".{:06}", nanos / 1000);
    else
      out += fmt::format(".{:09}", nanos);
  }
  out.push_back('Z');
  return out;
}

}  // namespace aftk::eventlog
