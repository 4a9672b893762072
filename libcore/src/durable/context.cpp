// SPDX-License-Identifier: Apache-2.0
// DurableExecutionContext: upstream's replay-by-index algorithm, and Java failure payloads.
#include "aftk/durable/context.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/json/writer.h"

namespace aftk::durable {

using actionstate::CallResult;

std::string java_exception_payload(const JavaException& e) {
  std::string out = "{\"exceptionClass\":";
  json::append_string(out, e.exception_class);
  out.append(",\"message\":");
  if (e.message)
    json::append_string(out, *e.message);
  else
    out.append("null");
  out.push_back('}');
  return out;
}

Result<JavaException> parse_java_exception(std::string_view payload) {
  namespace od = simdjson::ondemand;
  simdjson::padded_string padded(payload);
  od::parser parser;
  od::document doc;
  od::object obj;
  const auto bad = [](std::string_view why) {
    return fail(Errc::kCorruptRecord, fmt::format("not a Java exception payload: {}", why));
  };
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) return bad("not a JSON object");
  JavaException e;
  bool has_class = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return bad("unreadable field name");
    od::value v;
    if (field.value().get(v)) return bad("unreadable value");
    if (key == "exceptionClass" || key == "message") {
      bool null = false;
      if (!v.is_null().get(null) && null) {
        if (key == "message") e.message.reset();
        continue;
      }
      std::string_view s;
      if (v.get_string().get(s)) return bad(fmt::format("\"{}\" is not a string", key));
      if (key == "exceptionClass") {
        e.exception_class = std::string(s);
        has_class = true;
      } else {
        e.message = std::string(s);
      }
    }
  }
  if (!has_class) return bad("no \"exceptionClass\"");
  return e;
}

std::string java_replay_message(const JavaException& e) {
  return fmt::format("{}: {}", e.exception_class, e.message ? *e.message : "null");
}

std::string_view point_name(Point p) {
  switch (p) {
    case Point::kActionStarted:
      return "action-started";
    case Point::kBeforeCall:
      return "before-call";
    case Point::kAfterCall:
      return "after-call";
    case Point::kAfterPersist:
      return "after-persist";
    case Point::kActionCompleted:
      return "action-completed";
  }
  return "?";
}

namespace {
CallResult terminal(const CallId& id, const Outcome& o) {
  if (o.is_thrown()) return CallResult::failure(id.function_id, id.args_digest, *o.exception());
  return CallResult::success(id.function_id, id.args_digest, o.result());
}
}  // namespace

DurableExecutionContext::DurableExecutionContext(actionstate::ActionState& state, Persist persist,
                                                 Probe probe)
    : state_(state), persist_(std::move(persist)), probe_(std::move(probe)) {}

Status DurableExecutionContext::persist() {
  ++stats_.persists;
  return persist_ ? persist_(state_) : Status{};
}

Status DurableExecutionContext::probe(Point p, const CallId& id, bool reconciling) {
  if (!probe_) return {};
  return probe_(ProbeInfo{p, static_cast<std::int64_t>(index_), &id, reconciling});
}

const CallResult* DurableExecutionContext::current_call_result() const {
  return index_ < state_.call_results.size() ? &state_.call_results[index_] : nullptr;
}

std::optional<DurableExecutionContext::Hit> DurableExecutionContext::match_next_or_clear(
    const CallId& id) {
  auto& results = state_.call_results;
  if (index_ >= results.size()) return std::nullopt;
  const CallResult& r = results[index_];
  if (r.matches(id.function_id, id.args_digest)) {
    ++index_;
    return Hit{r.result_payload, r.exception_payload};
  }
  // Non-deterministic call: what was recorded after this point belongs to another path. The
  // truncation is written with the next record, not now (upstream's behaviour).
  results.resize(index_);
  ++stats_.truncations;
  return std::nullopt;
}

Status DurableExecutionContext::record_call_completion(const CallId& id, const Outcome& outcome) {
  state_.call_results.push_back(terminal(id, outcome));
  AFTK_TRY(persist());
  ++index_;
  return {};
}

Status DurableExecutionContext::append_pending_call(const CallId& id) {
  if (index_ != state_.call_results.size())
    return fail(
        Errc::kConflict,
        fmt::format("cannot append a pending call at index {}: a recorded slot exists there",
                    index_));
  state_.call_results.push_back(CallResult::pending(id.function_id, id.args_digest));
  return persist();
}

Status DurableExecutionContext::finalize_current_call(const CallId& id, const Outcome& outcome) {
  const CallResult* current = current_call_result();
  if (!current)
    return fail(Errc::kConflict,
                fmt::format("cannot finalize the call at index {}: no recorded slot", index_));
  if (!current->matches(id.function_id, id.args_digest))
    return fail(
        Errc::kConflict,
        fmt::format("cannot finalize the call at index {}: the recorded slot is another call",
                    index_));
  if (!current->is_pending())
    return fail(
        Errc::kConflict,
        fmt::format("cannot finalize the call at index {}: the slot is not PENDING", index_));
  state_.call_results[index_] = terminal(id, outcome);
  AFTK_TRY(persist());
  ++index_;
  return {};
}

Status DurableExecutionContext::clear_from_current_index_and_persist() {
  state_.clear_call_results_from(static_cast<std::int64_t>(index_));
  ++stats_.truncations;
  return persist();
}

Result<Outcome> DurableExecutionContext::execute(const CallId& id, const Callable& call) {
  if (auto hit = match_next_or_clear(id)) {
    ++stats_.replayed;
    return hit->outcome();
  }
  AFTK_TRY(probe(Point::kBeforeCall, id, false));
  Outcome outcome = call();
  ++stats_.executed;
  AFTK_TRY(probe(Point::kAfterCall, id, false));
  AFTK_TRY(record_call_completion(id, outcome));
  // The index has advanced; report the call's own index.
  if (probe_) AFTK_TRY(probe_(ProbeInfo{Point::kAfterPersist, current_index() - 1, &id, false}));
  return outcome;
}

Result<Outcome> DurableExecutionContext::run_and_finalize(const CallId& id, const Callable& fn,
                                                          bool reconciling) {
  AFTK_TRY(probe(Point::kBeforeCall, id, reconciling));
  Outcome outcome = fn();
  ++(reconciling ? stats_.reconciled : stats_.executed);
  AFTK_TRY(probe(Point::kAfterCall, id, reconciling));
  AFTK_TRY(finalize_current_call(id, outcome));
  if (probe_)
    AFTK_TRY(probe_(ProbeInfo{Point::kAfterPersist, current_index() - 1, &id, reconciling}));
  return outcome;
}

Result<Outcome> DurableExecutionContext::execute(const CallId& id, const Callable& call,
                                                 const Callable& reconciler) {
  const CallResult* current = current_call_result();
  if (!current) {
    AFTK_TRY(append_pending_call(id));
    return run_and_finalize(id, call, false);
  }
  if (!current->matches(id.function_id, id.args_digest)) {
    AFTK_TRY(clear_from_current_index_and_persist());
    AFTK_TRY(append_pending_call(id));
    return run_and_finalize(id, call, false);
  }
  if (!current->is_pending()) {
    auto hit = match_next_or_clear(id);  // matches: it was just checked
    ++stats_.replayed;
    return hit->outcome();
  }
  // The call may or may not have happened before the crash: the reconciler finds out.
  return run_and_finalize(id, reconciler, true);
}

}  // namespace aftk::durable
