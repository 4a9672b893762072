// SPDX-License-Identifier: Apache-2.0
// Filters over decoded records, time bounds, globs, and needles for the reader's prefilter.
#include "aftk/detail/scratch.h"
#include "aftk/eventlog/filter.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>

// GCC 12 reports -Wmaybe-uninitialized inside libstdc++'s <regex> (its _Executor and
// std::function internals) when optimizing with sanitizers: a false positive in the header, not
// in code of ours, so it is silenced for that header alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::eventlog {

namespace od = simdjson::ondemand;

struct Regex {
  std::regex re;
};

bool is_glob(std::string_view p) { return p.find_first_of("*?[") != std::string_view::npos; }

namespace {

// Matches one [set] at p (p points at '['); advances p past ']'. -1 when malformed.
int match_set(std::string_view pat, size_t& p, char c) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pat.size() && (pat[i] == '!' || pat[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  bool first = true;
  while (i < pat.size() && (first || pat[i] != ']')) {
    first = false;
    char lo = pat[i];
    char hi = lo;
    if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
      hi = pat[i + 2];
      i += 3;
    } else {
      ++i;
    }
    if (c >= lo && c <= hi) found = true;
  }
  if (i >= pat.size()) return -1;
  p = i + 1;
  return found != negate ? 1 : 0;
}

}  // namespace

bool glob_match(std::string_view pat, std::string_view s) {
  size_t p = 0, t = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_p = p++;
      star_t = t;
      continue;
    }
    if (p < pat.size() && pat[p] == '?') {
      ++p;
      ++t;
      continue;
    }
    if (p < pat.size() && pat[p] == '[') {
      size_t q = p;
      int m = match_set(pat, q, s[t]);
      if (m == 1) {
        p = q;
        ++t;
        continue;
      }
      if (m == -1 && s[t] == '[') {  // a lone '[' is literal
        ++p;
        ++t;
        continue;
      }
    } else if (p < pat.size() && pat[p] == s[t]) {
      ++p;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

Result<std::int64_t> parse_time_bound(std::string_view text, std::int64_t now_ns) {
  if (text == "now") return now_ns;
  std::string_view s = text;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '+')
      return fail(Errc::kInvalidArgument,
                  fmt::format("invalid time '{}': relative times lie in the past", text));
    s.remove_prefix(1);
  }
  // Relative: digits then a unit.
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i > 0 && i < s.size() && (s.size() - i) <= 2 && !(s.size() >= 10 && s[4] == '-')) {
    std::int64_t n = 0;
    const auto too_far = [&] {
      return fail(Errc::kInvalidArgument,
                  fmt::format("invalid time '{}': too far back (timestamps reach 1677 at most)",
                              text));
    };
    if (std::from_chars(s.data(), s.data() + i, n).ec != std::errc()) return too_far();
    const std::string_view unit = s.substr(i);
    std::int64_t mult = 0;
    if (unit == "ms")
      mult = 1'000'000;
    else if (unit == "s")
      mult = 1'000'000'000;
    else if (unit == "m")
      mult = 60'000'000'000;
    else if (unit == "h")
      mult = 3'600'000'000'000;
    else if (unit == "d")
      mult = 86'400'000'000'000;
    else if (unit == "w")
      mult = 7 * 86'400'000'000'000;
    std::int64_t back = 0, at = 0;
    if (mult != 0) {
      if (__builtin_mul_overflow(n, mult, &back) || __builtin_sub_overflow(now_ns, back, &at))
        return too_far();
      return at;
    }
  }
  auto t = parse_time(text);
  if (!t && t.error().code == Errc::kUnsupported) return t;  // out of range: say so
  if (!t)
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid time '{}': expected RFC 3339 (2026-11-18T11:06:43Z), a date, "
                            "'now', or a relative time like -15m, 2h, 1d",
                            text));
  return *t;
}

Result<FieldPredicate> FieldPredicate::parse(std::string_view text) {
  FieldPredicate f;
  size_t at = std::string_view::npos;
  // The first operator wins, so values may contain '=' or '~'.
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "~=") == 0) {
      f.op = Op::kContains;
      at = i;
      f.value = std::string(text.substr(i + 2));
      break;
    }
    if (text.compare(i, 2, "=~") == 0) {
      f.op = Op::kRegex;
      at = i;
      f.value = std::string(text.substr(i + 2));
      break;
    }
    if (text[i] == '=') {
      f.op = Op::kEquals;
      at = i;
      f.value = std::string(text.substr(i + 1));
      break;
    }
  }
  if (at == std::string_view::npos || at == 0)
    return fail(
        Errc::kInvalidArgument,
        fmt::format("invalid field predicate '{}': expected path=value, path~=text or path=~regex",
                    text));
  std::string_view path = text.substr(0, at);
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    if (dot == start)
      return fail(Errc::kInvalidArgument,
                  fmt::format("invalid field path '{}': empty segment", path));
    f.path.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  if (f.op == Op::kRegex) {
    try {
      f.regex = std::make_shared<const Regex>(Regex{std::regex(f.value, std::regex::ECMAScript)});
    } catch (const std::regex_error& e) {
      return fail(Errc::kInvalidArgument,
                  fmt::format("invalid regular expression '{}': {}", f.value, e.what()));
    }
  }
  return f;
}

namespace {

std::string trim_json(std::string_view raw) {
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
    raw.remove_suffix(1);
  return std::string(raw);
}

// Walks `path` from `from` inside a JSON document; the selected value's text.
std::optional<std::string> json_path(std::string_view json_text,
                                     const std::vector<std::string>& path, size_t from,
                                     bool as_json = false) {
  auto& scratch = aftk::detail::thread_scratch(aftk::detail::ParseSite::kEventFilter);
  auto padded = scratch.buffer.wrap(json_text);
  od::document doc;
  if (scratch.parser.iterate(padded).get(doc)) return std::nullopt;
  od::value v;
  if (doc.get_value().get(v)) return std::nullopt;
  for (size_t i = from; i < path.size(); ++i) {
    od::json_type t;
    if (v.type().get(t)) return std::nullopt;
    if (t == od::json_type::object) {
      od::object o;
      if (v.get_object().get(o)) return std::nullopt;
      od::value child;
      if (o.find_field_unordered(path[i]).get(child)) return std::nullopt;
      v = child;
    } else if (t == od::json_type::array) {
      size_t idx = 0;
      auto r = std::from_chars(path[i].data(), path[i].data() + path[i].size(), idx);
      if (r.ec != std::errc() || r.ptr != path[i].data() + path[i].size()) return std::nullopt;
      od::array a;
      if (v.get_array().get(a)) return std::nullopt;
      od::value child;
      if (a.at(idx).get(child)) return std::nullopt;
      v = child;
    } else {
      return std::nullopt;
    }
  }
  od::json_type t;
  if (v.type().get(t)) return std::nullopt;
  if (t == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return std::nullopt;
    if (as_json) {
      std::string q;
      json::append_string(q, s, json::Escape::kRawUnicode);
      return q;
    }
    return std::string(s);
  }
  if (t == od::json_type::object || t == od::json_type::array) {
    std::string out;
    const json::NormalizeOptions o{json::Escape::kRawUnicode, false,
                                   static_cast<int>(path.size() - from)};
    if (json::append_normalized(v, out, o)) return std::nullopt;
    return out;
  }
  return trim_json(v.raw_json_token());
}

const std::optional<std::string>* top_optional(const Record& r, std::string_view name) {
  if (name == "upstreamEventId") return &r.upstream_event_id;
  if (name == "upstreamActionName") return &r.upstream_action_name;
  if (name == "status") return &r.status;
  if (name == "problemCategory") return &r.problem_category;
  if (name == "inputRunId") return &r.input_run_id;
  if (name == "businessKey") return &r.business_key;
  if (name == "agentName") return &r.agent_name;
  if (name == "executionId") return &r.execution_id;
  if (name == "parentExecutionId") return &r.parent_execution_id;
  if (name == "entityType") return &r.entity_type;
  if (name == "entityName") return &r.entity_name;
  return nullptr;
}

}  // namespace

std::optional<std::string> field_text(const Record& r, const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  const std::string& head = path[0];
  if (path.size() == 1) {
    if (head == "timestamp") return r.timestamp;
    if (head == "logLevel" || head == "level" || head == "detail") return r.level;
    if (head == "eventId" || head == "id") return r.event_id;
    if (head == "eventType" || head == "type") return r.event_type;
    if (const auto* o = top_optional(r, head)) {
      if (*o) return **o;
      // A lifecycle status may still sit in the attributes (older writers): fall through.
      if (head != "status" && head != "problemCategory") return std::nullopt;
    }
  }
  if (head == "eventAttributes" || head == "attributes") {
    if (path.size() == 1) return json_path(r.attributes, path, 1);
    return json_path(r.attributes, path, 1);
  }
  if (head == "entityMetadata") {
    if (!r.entity_metadata) return std::nullopt;
    return json_path(*r.entity_metadata, path, 1);
  }
  return json_path(r.attributes, path, 0);
}

std::optional<std::string> field_json(const Record& r, const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  const std::string& head = path[0];
  if (head == "eventAttributes" || head == "attributes")
    return json_path(r.attributes, path, 1, true);
  if (head == "entityMetadata") {
    if (!r.entity_metadata) return std::nullopt;
    return json_path(*r.entity_metadata, path, 1, true);
  }
  const bool top = path.size() == 1 &&
                   (head == "timestamp" || head == "logLevel" || head == "level" ||
                    head == "detail" || head == "eventId" || head == "id" || head == "eventType" ||
                    head == "type" || top_optional(r, head) != nullptr);
  if (top) {
    auto v = field_text(r, path);
    if (!v) return std::nullopt;
    std::string q;
    json::append_string(q, *v, json::Escape::kRawUnicode);
    return q;
  }
  return json_path(r.attributes, path, 0, true);
}

bool Filter::empty() const {
  return types.empty() && keys.empty() && event_ids.empty() && !since_ns && !until_ns &&
         levels.empty() && statuses.empty() && fields.empty();
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

bool Filter::matches(const Record& r) const {
  if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const std::string& t) {
        return is_glob(t) ? glob_match(t, r.event_type) : t == r.event_type;
      }))
    return false;
  if (!keys.empty() &&
      (!r.business_key || std::find(keys.begin(), keys.end(), *r.business_key) == keys.end()))
    return false;
  if (!event_ids.empty() &&
      std::find(event_ids.begin(), event_ids.end(), r.event_id) == event_ids.end())
    return false;
  if (since_ns && (!r.time_ns || *r.time_ns < *since_ns)) return false;
  if (until_ns && (!r.time_ns || *r.time_ns >= *until_ns)) return false;
  if (!levels.empty() && std::none_of(levels.begin(), levels.end(),
                                      [&](const std::string& l) { return iequals(l, r.level); }))
    return false;
  if (!statuses.empty()) {
    std::optional<std::string> st = r.status;
    if (!st && is_lifecycle_type(r.event_type)) st = field_text(r, {"status"});
    if (!st || std::none_of(statuses.begin(), statuses.end(),
                            [&](const std::string& s) { return iequals(s, *st); }))
      return false;
  }
  for (const auto& f : fields) {
    auto v = field_text(r, f.path);
    if (!v) return false;
    switch (f.op) {
      case FieldPredicate::Op::kEquals:
        if (*v != f.value) return false;
        break;
      case FieldPredicate::Op::kContains:
        if (v->find(f.value) == std::string::npos) return false;
        break;
      case FieldPredicate::Op::kRegex:
        if (!std::regex_search(*v, f.regex->re)) return false;
        break;
    }
  }
  return true;
}

std::vector<std::string> Filter::needles(Scope scope) const {
  auto quoted = [](std::string_view s) {
    std::string out;
    json::append_string(out, s, json::Escape::kRawUnicode);
    return out;
  };
  std::vector<std::string> out;
  // The most selective condition alone is enough: a record must satisfy all of them.
  if (!event_ids.empty()) {
    for (const auto& id : event_ids) out.push_back(quoted(id));
    return out;
  }
  if (!keys.empty()) {
    for (const auto& k : keys) out.push_back("\"businessKey\":" + quoted(k));
    return out;
  }
  if (!types.empty()) {
    for (const auto& t : types) {
      std::string lit = t;
      bool exact = true;
      if (is_glob(t)) {
        lit = t.substr(0, t.find_first_of("*?["));
        exact = false;
      }
      if (lit.empty() && !exact) return {};  // "*foo": no literal prefix to look for
      std::string q = quoted(lit);
      if (!exact) q.pop_back();  // a prefix: drop the closing quote
      if (scope != Scope::kTraceLog) out.push_back("\"eventType\":" + q);
      if (scope != Scope::kEventLog) out.push_back("\"entityName\":" + q);
    }
    return out;
  }
  return out;
}

Filter::Scope needle_scope_for(std::string_view path) {
  std::string_view name =
      path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  if (name.ends_with(".gz")) name.remove_suffix(3);
  if (!name.ends_with(".log")) return Filter::Scope::kAny;
  if (name.starts_with("traces-") || name.ends_with(".trace-log.log"))
    return Filter::Scope::kTraceLog;
  if (name.starts_with("events-") || name.ends_with(".event-log.log"))
    return Filter::Scope::kEventLog;
  return Filter::Scope::kAny;
}

}  // namespace aftk::eventlog
