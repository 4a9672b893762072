// SPDX-License-Identifier: Apache-2.0
// Action executions derived from event logs, and their state in a store.
#include "aftk/durable/logged.h"

#include <fmt/format.h>

#include <map>

#include "aftk/actionstate/ids.h"
#include "aftk/eventlog/reader.h"

namespace aftk::durable {

Result<std::vector<LoggedExecution>> derive_executions(const std::vector<std::string>& paths,
                                                       std::vector<std::string>* problems) {
  struct Trigger {
    std::string type;
    std::optional<std::string> event_uuid;
    std::optional<std::string> business_key;
  };
  std::map<std::string, Trigger> events;  // every event id seen -> what a key needs of it
  std::vector<LoggedExecution> out;
  std::map<std::pair<std::string, std::string>, size_t> index;  // (trigger, action) -> out
  eventlog::ReadOptions options;
  options.on_problem = [&](const eventlog::Problem& p) {
    if (problems) problems->push_back(p.to_string());
  };
  for (const auto& path : paths) {
    AFTK_TRY(eventlog::read_all(path, options, [&](eventlog::Record& r) {
      if (!r.event_id.empty()) {
        Trigger t{r.event_type, std::nullopt, r.business_key};
        if (auto attrs = r.event_attributes()) {
          if (auto uuid = actionstate::event_uuid(*attrs)) t.event_uuid = std::move(*uuid);
        }
        events[r.event_id] = std::move(t);
      }
      if (r.upstream_action_name && r.upstream_event_id) {
        auto [it, inserted] =
            index.try_emplace({*r.upstream_event_id, *r.upstream_action_name}, out.size());
        if (inserted) {
          LoggedExecution e;
          e.action = *r.upstream_action_name;
          e.trigger_id = *r.upstream_event_id;
          e.business_key = r.business_key;
          e.where = fmt::format("{}:{}", path, r.line);
          out.push_back(std::move(e));
        }
        ++out[it->second].events_sent;
      }
      return true;
    }));
  }
  // Triggers may be logged after what they caused (several files, clocks): resolve at the end.
  for (auto& e : out) {
    auto t = events.find(e.trigger_id);
    if (t == events.end()) continue;
    e.trigger_type = t->second.type;
    e.event_uuid = t->second.event_uuid;
    if (!e.business_key) e.business_key = t->second.business_key;
  }
  return out;
}

std::string_view logged_status_name(LoggedCheck::Status s) {
  switch (s) {
    case LoggedCheck::Status::kCompleted:
      return "completed";
    case LoggedCheck::Status::kInFlight:
      return "in-flight";
    case LoggedCheck::Status::kNoState:
      return "no-state";
    case LoggedCheck::Status::kUnknown:
      return "unknown";
    case LoggedCheck::Status::kCorrupt:
      return "corrupt";
  }
  return "?";
}

LoggedChecker::LoggedChecker(const actionstate::ActionStateStore& store) {
  store.cache().for_each(
      [&](const actionstate::StateCache::Entry& e) { by_event_.emplace(e.key.event_uuid, &e); });
}

LoggedCheck LoggedChecker::check(const LoggedExecution& e) {
  LoggedCheck c;
  if (!e.event_uuid) {
    c.status = LoggedCheck::Status::kUnknown;
    return c;
  }
  const std::string action_uuid = actionstate::action_uuid_from_name(e.action);
  auto [lo, hi] = by_event_.equal_range(*e.event_uuid);
  std::vector<const actionstate::StateCache::Entry*> same_event;
  for (auto it = lo; it != hi; ++it) {
    if (e.business_key && it->second->key.format == actionstate::KeyFormat::kV03 &&
        it->second->key.business_key != *e.business_key)
      continue;
    same_event.push_back(it->second);
    if (it->second->key.action_uuid == action_uuid) c.entry = it->second;
  }
  if (!c.entry && same_event.size() == 1) {
    c.entry = same_event[0];
    c.by_event_only = true;
  }
  if (!c.entry) return c;  // kNoState
  if (!decoder_.decode(c.entry->value, scratch_)) {
    c.status = LoggedCheck::Status::kCorrupt;
    return c;
  }
  if (scratch_.completed) {
    c.status = LoggedCheck::Status::kCompleted;
    c.outputs = scratch_.output_events.size();
  } else {
    c.status = LoggedCheck::Status::kInFlight;
    c.calls = scratch_.call_results.size();
    c.pending = scratch_.pending_calls();
  }
  return c;
}

}  // namespace aftk::durable
