// SPDX-License-Identifier: Apache-2.0
// One state whole, and a key's timeline, for the terminal and as JSON.
#include "aftk/cli/state_show.h"

#include <ctime>

#include <fmt/format.h>

#include "aftk/actionstate/inspect.h"
#include "aftk/actionstate/payload.h"
#include "aftk/actionstate/serde.h"
#include "aftk/cli/state_listing.h"
#include "aftk/json/base64.h"
#include "aftk/json/writer.h"

namespace aftk::cli {

using actionstate::ActionState;
using actionstate::CallResult;
using actionstate::CallStatus;
using actionstate::KeyFormat;

std::string iso_timestamp(std::int64_t millis) {
  if (millis < 0) return {};
  const std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis % 1000);
}

void append_decoded_payload(std::string& out, const std::optional<std::string>& payload) {
  if (!payload) {
    out.append("null");
    return;
  }
  auto d = actionstate::decode_payload(*payload);
  if (d) {
    actionstate::append_payload_json(out, *d);
    return;
  }
  json::Writer w(out);
  w.begin_object().field("kind", "bytes").key("value").value(json::base64_encode(*payload));
  w.field("error", d.error().message).end_object();
}

void append_decoded_state(std::string& out, const ActionState& state) {
  // Everything before the call results is the exact JSON form: encode the state without them
  // and cut off the tail that encode() always ends with.
  ActionState head = state;
  head.call_results.clear();
  std::string text = actionstate::encode(head);
  const std::string_view tail = state.completed ? "\"callResults\":[],\"completed\":true}"
                                                : "\"callResults\":[],\"completed\":false}";
  text.resize(text.size() - tail.size());
  out.append(text).append("\"callResults\":[");
  for (size_t i = 0; i < state.call_results.size(); ++i) {
    const CallResult& c = state.call_results[i];
    if (i) out.push_back(',');
    json::Writer w(out, json::Escape::kSurrogatePairs);
    w.begin_object().field("functionId", c.function_id).field("argsDigest", c.args_digest);
    append_decoded_payload(w.key("resultPayload").raw_target(), c.result_payload);
    append_decoded_payload(w.key("exceptionPayload").raw_target(), c.exception_payload);
    if (c.status)
      w.field("status", actionstate::call_status_name(*c.status));
    else
      w.key("status").null();
    w.end_object();
  }
  out.append(state.completed ? "],\"completed\":true}" : "],\"completed\":false}");
}

void write_call_kind(json::Writer& w, const actionstate::CallIdentity& id,
                     std::optional<size_t> call_slot) {
  w.field("kind", actionstate::call_kind_name(id.kind));
  if (!id.is_subagent()) return;
  w.field("sessionId", id.session_id).field("callId", id.call_id);
  if (call_slot)
    w.field("callSlot", *call_slot);
  else
    w.key("callSlot").null();
}

std::string call_kind_text(const actionstate::CallIdentity& id, std::optional<size_t> call_slot) {
  const std::string_view name = actionstate::call_kind_name(id.kind);
  if (id.kind != actionstate::CallKind::kSubagentAwait) return std::string(name);
  if (!call_slot) return fmt::format("{} of a call not in this state", name);
  return fmt::format("{} of slot {}", name, *call_slot);
}

void append_show_json(std::string& out, const ShownRecord& shown, bool raw) {
  const auto& r = *shown.record;
  if (!r.value || !r.state_key) {  // a tombstone, or a key that does not parse
    json::Writer w(out);
    w.begin_object()
        .field("partition", r.position.partition)
        .field("offset", r.position.offset)
        .field("key", r.key)
        .field("timestamp", r.position.timestamp)
        .field("tombstone", !r.value)
        .end_object();
    return;
  }
  actionstate::StateCache::Entry entry{*r.state_key, *r.value, r.position};
  actionstate::InspectedState s;
  s.entry = &entry;
  s.state = shown.state;
  s.error = shown.error;
  actionstate::append_state_json(out, s, true);
  out.pop_back();  // the closing brace: more members follow
  out.append(",\"timestamp\":").append(std::to_string(r.position.timestamp));
  out.append(",\"tombstone\":false");
  if (shown.state) {
    const auto& calls = shown.state->call_results;
    out.append(",\"calls\":");
    json::Writer w(out);
    w.begin_array();
    for (size_t i = 0; i < calls.size(); ++i) {
      w.begin_object().field("slot", i);
      write_call_kind(w, actionstate::classify_function_id(calls[i].function_id),
                      actionstate::owning_slot(calls, i));
      w.end_object();
    }
    w.end_array();
  }
  if (!raw && shown.state) {
    out.append(",\"decoded\":");
    append_decoded_state(out, *shown.state);
  }
  out.push_back('}');
}

namespace {

struct TreeItem {
  std::string text;
  std::vector<TreeItem> children;
};

void render_tree(const TreeItem& item, const std::string& prefix, bool last, bool root,
                 std::string& out) {
  const std::string cont = root ? "" : prefix + (last ? "   " : "\u2502  ");
  size_t start = 0;
  bool first = true;
  while (start <= item.text.size()) {
    auto nl = item.text.find('\n', start);
    if (nl == std::string::npos) nl = item.text.size();
    if (first)
      out.append(root ? "" : prefix + (last ? "\u2514\u2500 " : "\u251c\u2500 "));
    else
      out.append(cont);
    out.append(item.text, start, nl - start).push_back('\n');
    first = false;
    start = nl + 1;
  }
  for (size_t i = 0; i < item.children.size(); ++i)
    render_tree(item.children[i], cont, i + 1 == item.children.size(), false, out);
}

std::string paint(bool color, std::string text, const char* code) {
  return color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
}

// The status; a legacy record's inferred one is marked '*' (or explained, when `explain`).
std::string status_text(const CallResult& c, bool color, bool explain) {
  const CallStatus s = c.effective_status();
  std::string name(actionstate::call_status_name(s));
  if (!c.status) name += explain ? " (inferred: the record has no status)" : "*";
  const char* code = s == CallStatus::kSucceeded ? "32" : s == CallStatus::kFailed ? "31" : "33";
  return paint(color, name, code);
}

std::string json_quoted(const std::optional<std::string>& s) {
  if (!s) return "null";
  std::string out;
  json::append_string(out, *s, json::Escape::kRawUnicode);
  return out;
}

// "json {...}" with the value pretty-printed below when it spans several lines.
std::string payload_text(const std::optional<std::string>& payload, bool raw) {
  if (!payload) return "null";
  if (raw) return fmt::format("base64 {}", json::base64_encode(*payload));
  auto d = actionstate::decode_payload(*payload);
  if (!d)
    return fmt::format("bytes {} ({})", json::base64_encode(*payload), d.error().message);
  const auto kind = actionstate::payload_kind_name(d->kind);
  if (d->kind == actionstate::PayloadKind::kKryo)
    return fmt::format("kryo, {} bytes (opaque)", d->size);
  const std::string value = json::pretty(d->value);
  if (value.find('\n') == std::string::npos) return fmt::format("{} {}", kind, value);
  return fmt::format("{}\n{}", kind, value);
}

TreeItem event_item(std::string title, const actionstate::Event& e) {
  TreeItem t{std::move(title), {}};
  t.children.push_back({"class " + e.class_name, {}});
  t.children.push_back({"id " + e.id, {}});
  t.children.push_back({"type " + e.type, {}});
  t.children.push_back({"attributes " + json::pretty(e.attributes), {}});
  if (e.upstream_event_id) t.children.push_back({"upstream event " + *e.upstream_event_id, {}});
  if (e.upstream_action_name)
    t.children.push_back({"upstream action " + *e.upstream_action_name, {}});
  return t;
}

TreeItem memory_item(std::string title, const std::vector<actionstate::MemoryUpdate>& updates,
                     bool raw) {
  TreeItem t{fmt::format("{} ({})", title, updates.size()), {}};
  for (const auto& m : updates) {
    std::string value;
    switch (m.value.kind) {
      case actionstate::MemoryValue::Kind::kNull: value = "null"; break;
      case actionstate::MemoryValue::Kind::kPlainJson: value = json::pretty(m.value.text); break;
      case actionstate::MemoryValue::Kind::kKryo: {
        std::string bytes;
        const bool ok = static_cast<bool>(json::base64_decode(m.value.text, bytes));
        value = raw || !ok ? "kryo base64 " + m.value.text
                           : fmt::format("kryo, {} bytes (opaque)", bytes.size());
        break;
      }
    }
    t.children.push_back({json_quoted(m.path) + " = " + value, {}});
  }
  return t;
}

}  // namespace

std::string show_tree(const ShownRecord& shown, bool raw, bool color) {
  const auto& r = *shown.record;
  TreeItem root{paint(color, r.key, "1"), {}};
  std::string where =
      fmt::format("partition {}, offset {}", r.position.partition, r.position.offset);
  if (r.position.timestamp >= 0) where += ", " + iso_timestamp(r.position.timestamp);
  if (r.line > 0) where += fmt::format(", line {}", r.line);
  root.children.push_back({"record " + where, {}});
  if (r.state_key) {
    const auto& k = *r.state_key;
    if (k.format == KeyFormat::kV03)
      root.children.push_back(
          {fmt::format("business key {} (0.3 key), seq {}", k.business_key, k.seq), {}});
    else
      root.children.push_back({fmt::format("business key id {} (0.4 key, key group {}), seq {}",
                                           k.business_key_id, k.key_group, k.seq), {}});
    root.children.push_back({"event " + k.event_uuid, {}});
    root.children.push_back({"action " + k.action_uuid, {}});
  }
  if (!r.value) {
    root.children.push_back({paint(color, "tombstone", "33") + " (deletes the key)", {}});
  } else if (!shown.state) {
    root.children.push_back({paint(color, "CORRUPT", "31") + " " + shown.error->message, {}});
    root.children.push_back({"value " + *r.value, {}});
  } else {
    const ActionState& s = *shown.state;
    const std::string done = s.completed ? paint(color, "yes", "32") : "no";
    root.children.push_back({"completed " + done, {}});
    if (s.task_event)
      root.children.push_back(event_item("trigger event", *s.task_event));
    else
      root.children.push_back({"trigger event null", {}});
    root.children.push_back(memory_item("sensory memory updates", s.sensory_memory_updates, raw));
    root.children.push_back(
        memory_item("short-term memory updates", s.short_term_memory_updates, raw));
    TreeItem outputs{fmt::format("output events ({})", s.output_events.size()), {}};
    for (size_t i = 0; i < s.output_events.size(); ++i)
      outputs.children.push_back(event_item(fmt::format("[{}]", i), s.output_events[i]));
    root.children.push_back(std::move(outputs));
    TreeItem calls{fmt::format("call results ({}, {} pending)", s.call_results.size(),
                               s.pending_calls()),
                   {}};
    for (size_t i = 0; i < s.call_results.size(); ++i) {
      const CallResult& c = s.call_results[i];
      TreeItem call{fmt::format("[{}] {}", i, status_text(c, color, true)), {}};
      call.children.push_back({"function " + json_quoted(c.function_id), {}});
      const auto id = actionstate::classify_function_id(c.function_id);
      std::string kind = "kind " + call_kind_text(id, actionstate::owning_slot(s.call_results, i));
      if (id.kind == actionstate::CallKind::kToolCall)
        kind += " (Java's built-in tool-call action)";
      if (id.kind == actionstate::CallKind::kSubagentCall)
        kind += fmt::format(": call {} of session {}", id.call_number, id.session_id);
      if (id.kind == actionstate::CallKind::kSubagentAwait) kind += ": awaits call " + id.call_id;
      call.children.push_back({std::move(kind), {}});
      call.children.push_back({"digest " + json_quoted(c.args_digest), {}});
      call.children.push_back({"result " + payload_text(c.result_payload, raw), {}});
      call.children.push_back({"exception " + payload_text(c.exception_payload, raw), {}});
      calls.children.push_back(std::move(call));
    }
    root.children.push_back(std::move(calls));
  }
  std::string out;
  render_tree(root, "", true, true, out);
  return out;
}

TimelineListing::TimelineListing(const Io& io, Format format, bool color, bool wide)
    : io_(io), format_(format), color_(color), wide_(wide) {
  if (format_ != Format::kTable) return;
  add_state_key_columns(table_);
  table_.add_column("TIMESTAMP");
  table_.add_column("DONE");
  table_.add_column("CALLS");
}

void TimelineListing::add(const ShownRecord& shown) {
  const auto& r = *shown.record;
  const auto& k = *r.state_key;
  if (format_ == Format::kTable) {
    std::string done, calls;
    if (!r.value) {
      done = paint(color_, "tombstone", "33");
    } else if (!shown.state) {
      done = paint(color_, "CORRUPT", "31");
    } else {
      done = shown.state->completed ? paint(color_, "yes", "32") : "no";
      for (const auto& c : shown.state->call_results) {
        if (!calls.empty()) calls.push_back(' ');
        calls += status_text(c, color_, false);
      }
      if (calls.empty()) calls = "-";
    }
    auto cells = state_key_cells(k, r.position, wide_);
    cells.insert(cells.end(), {iso_timestamp(r.position.timestamp), done, calls});
    table_.add_row(std::move(cells));
    return;
  }
  line_.clear();
  json::Writer w(line_);
  w.begin_object()
      .field("partition", r.position.partition)
      .field("offset", r.position.offset)
      .field("timestamp", r.position.timestamp);
  const std::string time = iso_timestamp(r.position.timestamp);
  if (time.empty())
    w.key("time").null();
  else
    w.field("time", time);
  w.field("key", r.key);
  actionstate::write_key_fields(w, k);
  w.field("tombstone", !r.value);
  if (shown.state) {
    w.field("completed", shown.state->completed).key("calls").begin_array();
    for (const auto& c : shown.state->call_results) {
      w.begin_object().field("functionId", c.function_id).field("argsDigest", c.args_digest);
      w.field("status", actionstate::call_status_name(c.effective_status())).end_object();
    }
    w.end_array();
  } else {
    w.key("completed").null().key("calls").null();
    if (shown.error)
      w.key("error")
          .begin_object()
          .field("code", errc_name(shown.error->code))
          .field("message", shown.error->message)
          .end_object();
  }
  w.end_object();
  line_.push_back('\n');
  std::fwrite(line_.data(), 1, line_.size(), io_.out);
}

void TimelineListing::finish() {
  if (format_ == Format::kTable) table_.print(io_.out, color_);
}

}  // namespace aftk::cli
