// SPDX-License-Identifier: Apache-2.0
// Trace parsing, call comparison and the store-backed replay check.
#include "aftk/durable/divergence.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/actionstate/ids.h"
#include "aftk/json/line_reader.h"

namespace aftk::durable {

namespace od = simdjson::ondemand;
using actionstate::CallResult;

namespace {

Result<std::optional<std::string>> nullable_string(od::value v, std::string_view what) {
  bool null = false;
  if (!v.is_null().get(null) && null) return std::optional<std::string>{};
  std::string_view s;
  if (v.get_string().get(s))
    return fail(Errc::kInvalidArgument, fmt::format("{} is not a string or null", what));
  return std::optional<std::string>(std::string(s));
}

Result<CallId> parse_call(od::value v, size_t i) {
  CallId id;
  const std::string what = fmt::format("calls[{}]", i);
  od::json_type type;
  if (v.type().get(type)) return fail(Errc::kInvalidArgument, fmt::format("{} is not JSON", what));
  if (type == od::json_type::array) {
    od::array a;
    if (v.get_array().get(a)) return fail(Errc::kInvalidArgument, what + " is not an array");
    size_t n = 0;
    for (auto item : a) {
      od::value x;
      if (item.get(x)) return fail(Errc::kInvalidArgument, what + " is not valid JSON");
      AFTK_TRY_ASSIGN(auto s, nullable_string(x, what));
      if (n == 0)
        id.function_id = std::move(s);
      else if (n == 1)
        id.args_digest = std::move(s);
      ++n;
    }
    if (n != 2) return fail(Errc::kInvalidArgument, what + " must be [functionId, argsDigest]");
    return id;
  }
  od::object o;
  if (v.get_object().get(o))
    return fail(Errc::kInvalidArgument,
                what + " is neither {\"functionId\",\"argsDigest\"} nor a pair");
  bool has_fid = false;
  for (auto f : o) {
    std::string_view k;
    od::value x;
    if (f.unescaped_key().get(k) || f.value().get(x))
      return fail(Errc::kInvalidArgument, what + " is not valid JSON");
    if (k == "functionId") {
      AFTK_TRY_ASSIGN(id.function_id, nullable_string(x, what + ".functionId"));
      has_fid = true;
    } else if (k == "argsDigest") {
      AFTK_TRY_ASSIGN(id.args_digest, nullable_string(x, what + ".argsDigest"));
    }
  }
  if (!has_fid) return fail(Errc::kInvalidArgument, what + " has no \"functionId\"");
  return id;
}

}  // namespace

Result<TraceEntry> parse_trace_line(std::string_view line) {
  simdjson::padded_string padded(line);
  od::parser parser;
  od::document doc;
  od::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj))
    return fail(Errc::kInvalidArgument, "not a JSON object");
  TraceEntry e;
  bool has_key = false, has_seq = false, has_action = false, has_calls = false;
  for (auto field : obj) {
    std::string_view k;
    od::value v;
    if (field.unescaped_key().get(k) || field.value().get(v))
      return fail(Errc::kInvalidArgument, "not valid JSON");
    std::string_view s;
    if (k == "key" || k == "action" || k == "actionUuid" || k == "eventUuid") {
      if (v.get_string().get(s))
        return fail(Errc::kInvalidArgument, fmt::format("\"{}\" is not a string", k));
      if (k == "key")
        e.key = std::string(s), has_key = true;
      else if (k == "action")
        e.action = std::string(s), has_action = true;
      else if (k == "actionUuid")
        e.action_uuid = std::string(s);
      else
        e.event_uuid = std::string(s);
    } else if (k == "seq") {
      if (v.get_int64().get(e.seq) || e.seq < 0)
        return fail(Errc::kInvalidArgument, "\"seq\" is not a non-negative integer");
      has_seq = true;
    } else if (k == "calls") {
      od::array a;
      if (v.get_array().get(a)) return fail(Errc::kInvalidArgument, "\"calls\" is not an array");
      for (auto item : a) {
        od::value x;
        if (item.get(x)) return fail(Errc::kInvalidArgument, "\"calls\" is not valid JSON");
        AFTK_TRY_ASSIGN(CallId id, parse_call(x, e.calls.size()));
        e.calls.push_back(std::move(id));
      }
      has_calls = true;
    }
  }
  if (!doc.current_location().error())
    return fail(Errc::kInvalidArgument, "trailing content after the object");
  if (!has_key) return fail(Errc::kInvalidArgument, "missing \"key\"");
  if (!has_seq) return fail(Errc::kInvalidArgument, "missing \"seq\"");
  if (!has_action && !e.action_uuid)
    return fail(Errc::kInvalidArgument, "missing \"action\" (or \"actionUuid\")");
  if (!has_calls) return fail(Errc::kInvalidArgument, "missing \"calls\"");
  return e;
}

Status read_trace(const std::string& path, const std::function<Status(TraceEntry&)>& sink) {
  AFTK_TRY_ASSIGN(auto reader, json::LineReader::open(path));
  json::Line line;
  while (true) {
    AFTK_TRY_ASSIGN(const bool more, reader.next(line));
    if (!more) break;
    if (line.text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto e = parse_trace_line(line.text);
    const std::string where = fmt::format("{}:{}", path, line.number);
    if (!e) {
      auto err = std::move(e).error();
      err.message = fmt::format("bad trace line: {}", err.message);
      err.where = where;
      return fail(std::move(err));
    }
    e->where = where;
    AFTK_TRY(sink(*e));
  }
  return {};
}

std::string_view cause_name(Cause c) {
  switch (c) {
    case Cause::kNone:
      return "none";
    case Cause::kArgumentsChanged:
      return "arguments changed";
    case Cause::kFunctionRenamed:
      return "function renamed";
    case Cause::kCallInserted:
      return "call inserted";
    case Cause::kCallRemoved:
      return "call removed";
    case Cause::kCallReplaced:
      return "call replaced";
  }
  return "?";
}

Divergence compare_calls(std::span<const CallResult> recorded, std::span<const CallId> traced) {
  Divergence d;
  const auto same = [](const CallResult& r, const CallId& c) {
    return r.matches(c.function_id, c.args_digest);
  };
  size_t i = 0;
  for (; i < recorded.size() && i < traced.size() && same(recorded[i], traced[i]); ++i) {
    ++d.replayed;
    if (recorded[i].is_pending()) ++d.pending;
  }
  d.runs = traced.size() - i;
  if (i == recorded.size()) return d;  // the record is used up: the rest are new calls
  d.first_index = static_cast<std::int64_t>(i);
  d.recorded = CallId{recorded[i].function_id, recorded[i].args_digest};
  if (i == traced.size()) {
    // The trace stops early: nothing is truncated (completion clears the rest), nothing re-runs.
    d.cause = Cause::kCallRemoved;
    return d;
  }
  const CallId& t = traced[i];
  const CallResult& r = recorded[i];
  d.traced = t;
  bool recorded_later_in_trace = false, traced_later_in_record = false;
  for (size_t j = i + 1; j < traced.size(); ++j) recorded_later_in_trace |= same(r, traced[j]);
  for (size_t j = i + 1; j < recorded.size(); ++j) traced_later_in_record |= same(recorded[j], t);
  if (r.function_id == t.function_id)
    d.cause = Cause::kArgumentsChanged;
  else if (recorded_later_in_trace)
    d.cause = Cause::kCallInserted;
  else if (traced_later_in_record)
    d.cause = Cause::kCallRemoved;
  else if (r.args_digest == t.args_digest && r.args_digest && !r.args_digest->empty())
    d.cause = Cause::kFunctionRenamed;
  else
    d.cause = Cause::kCallReplaced;
  // Everything from i on runs; the calls among them that the dropped record had already done
  // (a terminal outcome) happen a second time.
  std::vector<bool> used(recorded.size(), false);
  for (size_t j = i; j < traced.size(); ++j) {
    for (size_t k = i; k < recorded.size(); ++k) {
      if (!used[k] && !recorded[k].is_pending() && same(recorded[k], traced[j])) {
        used[k] = true;
        ++d.re_executes;
        break;
      }
    }
  }
  return d;
}

std::string_view status_name(ReplayCheck::Status s) {
  switch (s) {
    case ReplayCheck::Status::kReplays:
      return "replays";
    case ReplayCheck::Status::kDiverges:
      return "diverges";
    case ReplayCheck::Status::kCompleted:
      return "completed";
    case ReplayCheck::Status::kNoState:
      return "no-state";
    case ReplayCheck::Status::kAmbiguous:
      return "ambiguous";
    case ReplayCheck::Status::kCorrupt:
      return "corrupt";
  }
  return "?";
}

ReplayChecker::ReplayChecker(const actionstate::ActionStateStore& store,
                             actionstate::DecodeOptions decode)
    : decoder_(decode) {
  store.cache().for_each([&](const actionstate::StateCache::Entry& e) {
    index_[{std::string(e.key.identity()), e.key.seq}].push_back(&e);
  });
}

ReplayCheck ReplayChecker::check(const TraceEntry& t) {
  ReplayCheck c;
  const std::string action_uuid =
      t.action_uuid ? *t.action_uuid : actionstate::action_uuid_from_name(t.action);
  auto it = index_.find({t.key, t.seq});
  std::vector<const actionstate::StateCache::Entry*> found;
  if (it != index_.end())
    for (auto* e : it->second)
      if (e->key.action_uuid == action_uuid &&
          (!t.event_uuid || *t.event_uuid == e->key.event_uuid))
        found.push_back(e);
  c.candidates = found.size();
  if (found.empty()) {
    // Nothing recorded: every call runs (for the first time).
    c.status = ReplayCheck::Status::kNoState;
    c.divergence.runs = t.calls.size();
    return c;
  }
  if (found.size() > 1) {
    c.status = ReplayCheck::Status::kAmbiguous;
    c.detail = fmt::format(
        "{} states of this action at this sequence (different trigger events); give \"eventUuid\"",
        found.size());
    return c;
  }
  c.entry = found[0];
  if (auto st = decoder_.decode(c.entry->value, scratch_); !st) {
    c.status = ReplayCheck::Status::kCorrupt;
    c.detail = st.error().message;
    return c;
  }
  if (scratch_.completed) {
    // Replay skips a completed action as a whole and re-emits its outputs: no call runs.
    c.status = ReplayCheck::Status::kCompleted;
    return c;
  }
  c.recorded = scratch_.call_results.size();
  c.divergence = compare_calls(scratch_.call_results, t.calls);
  c.status =
      c.divergence.diverged() ? ReplayCheck::Status::kDiverges : ReplayCheck::Status::kReplays;
  return c;
}

}  // namespace aftk::durable
