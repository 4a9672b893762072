// SPDX-License-Identifier: Apache-2.0
// The agent configuration table, its text forms and its start-up checks.
#include "aftk/agent_options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <variant>

#include <fmt/format.h>

namespace aftk {

namespace {

using O = AgentExecutionOptions;
using Member = std::variant<bool O::*, std::int64_t O::*, std::string O::*>;

struct Row {
  AgentOptionInfo info;
  Member member;
};

// One row a key. Enum kinds list their names; Flink compares them case-insensitively and the
// value is stored in upper case, as Flink prints it.
const Row kRows[] = {
    {{"actionStateStoreBackend", "string", "", "0.3", "kafka or fluss; unset: durable execution off"},
     &O::action_state_store_backend},
    {{"kafkaBootstrapServers", "string", "localhost:9092", "0.3", "brokers of the state topic"},
     &O::kafka_bootstrap_servers},
    {{"kafkaActionStateTopic", "string", "", "0.3", "the action-state topic (required for kafka)"},
     &O::kafka_action_state_topic},
    {{"kafkaActionStateTopicNumPartitions", "integer", "64", "0.3", "partitions, used on creation"},
     &O::kafka_action_state_topic_num_partitions},
    {{"kafkaActionStateTopicReplicationFactor", "integer", "1", "0.3",
      "replication factor, used on creation"},
     &O::kafka_action_state_topic_replication_factor},
    {{"kafkaActionStateTombstoneEnabled", "boolean", "false", "0.4",
      "prune writes tombstones (#885)"},
     &O::kafka_action_state_tombstone_enabled},
    {{"kafkaActionStateCleanupControlTopic", "string", "", "0.4",
      "control topic of checkpoint-aligned cleanup (#1101)"},
     &O::kafka_action_state_cleanup_control_topic},
    {{"job-identifier", "string", "", "0.3", "unset: the job id is kept in operator state"},
     &O::job_identifier},
    {{"event-listeners", "list", "", "0.3", "listener classes, 'a;b' or '[a, b]'"},
     &O::event_listeners},
    // The Fluss keys: the spec reads them at main @ 8ad3a32 only; "0.3" as the other S keys.
    {{"flussBootstrapServers", "string", "localhost:9123", "0.3", "Fluss servers"},
     &O::fluss_bootstrap_servers},
    {{"flussActionStateDatabase", "string", "flink_agents", "0.3", "Fluss database"},
     &O::fluss_action_state_database},
    {{"flussActionStateTable", "string", "", "0.3", "Fluss log table of the action states"},
     &O::fluss_action_state_table},
    {{"flussActionStateTableBuckets", "integer", "64", "0.3", "buckets, used on creation"},
     &O::fluss_action_state_table_buckets},
    {{"flussSecurityProtocol", "string", "PLAINTEXT", "0.3", "Fluss client security protocol"},
     &O::fluss_security_protocol},
    {{"flussSaslMechanism", "string", "PLAIN", "0.3", "Fluss SASL mechanism"},
     &O::fluss_sasl_mechanism},
    {{"flussSaslJaasConfig", "string", "", "0.3", "Fluss SASL JAAS config (secret)"},
     &O::fluss_sasl_jaas_config},
    {{"flussSaslUsername", "string", "", "0.3", "Fluss SASL user"}, &O::fluss_sasl_username},
    {{"flussSaslPassword", "string", "", "0.3", "Fluss SASL password (secret)"},
     &O::fluss_sasl_password},
    {{"eventLoggerType", "SLF4J|FILE", "SLF4J", "0.3", "where the event log goes"},
     &O::event_logger_type},
    {{"baseLogDir", "string", "", "0.3", "event-log directory; setting it selects FILE"},
     &O::base_log_dir},
    {{"prettyPrint", "boolean", "false", "0.3", "event-log records pretty-printed"},
     &O::pretty_print},
    {{"event-log.level", "OFF|STANDARD|VERBOSE", "STANDARD", "0.3", "default event-log level"},
     &O::event_log_level},
    {{"event-log.trace.enabled", "boolean", "false", "0.3", "trace fields and lifecycle events"},
     &O::event_log_trace_enabled},
    {{"event-log.standard.max-string-length", "integer", "2000", "0.3", "STANDARD truncation"},
     &O::event_log_max_string_length},
    {{"event-log.standard.max-array-elements", "integer", "20", "0.3", "STANDARD truncation"},
     &O::event_log_max_array_elements},
    {{"event-log.standard.max-depth", "integer", "5", "0.3", "STANDARD truncation"},
     &O::event_log_max_depth},
    {{"trace-log.output-type", "SLF4J|FILE", "SLF4J", "0.4", "where the trace log goes"},
     &O::trace_log_output_type},
    {{"trace-log.base-dir", "string", "", "0.4", "trace-log directory; setting it selects FILE"},
     &O::trace_log_base_dir},
    {{"trace-log.pretty-print", "boolean", "false", "0.4", "trace records pretty-printed"},
     &O::trace_log_pretty_print},
    {{"trace-log.targets", "list", "[{scope: EVENT_ONLY, detail: STANDARD}]", "0.4",
      "what is traced at which detail"},
     &O::trace_log_targets},
    {{"trace-log.standard.max-string-length", "integer", "2000", "0.4", "STANDARD truncation"},
     &O::trace_log_max_string_length},
    {{"trace-log.standard.max-array-elements", "integer", "20", "0.4", "STANDARD truncation"},
     &O::trace_log_max_array_elements},
    {{"trace-log.standard.max-depth", "integer", "5", "0.4", "STANDARD truncation"},
     &O::trace_log_max_depth},
    {{"error-handling-strategy", "FAIL|RETRY|IGNORE", "FAIL", "0.3", "what a failed action does"},
     &O::error_handling_strategy},
    {{"max-retries", "integer", "3", "0.3", "retries under RETRY"}, &O::max_retries},
    {{"retry-wait-interval", "integer", "1", "0.3", "wait between retries"},
     &O::retry_wait_interval},
    {{"num-async-threads", "integer", "", "0.3", "async pool size; unset: 2 x processors"},
     &O::num_async_threads},
    {{"chat.async", "boolean", "true", "0.3", "chat model calls run async"}, &O::chat_async},
    {{"tool-call.async", "boolean", "true", "0.3", "tool calls run async"}, &O::tool_call_async},
    {{"rag.async", "boolean", "true", "0.3", "retrieval runs async"}, &O::rag_async},
    {{"agent-run.begin-event", "boolean", "false", "0.3", "emit a begin event per run"},
     &O::agent_run_begin_event},
    {{"short-term-memory.state-ttl.ms", "integer", "0", "0.3", "short-term memory TTL; 0: none"},
     &O::short_term_memory_state_ttl_ms},
    {{"short-term-memory.state-ttl.update-type", "ON_CREATE_AND_WRITE|ON_READ_AND_WRITE",
      "ON_READ_AND_WRITE", "0.3", "when the TTL is refreshed"},
     &O::short_term_memory_state_ttl_update_type},
    {{"short-term-memory.state-ttl.visibility", "RETURN_EXPIRED_IF_NOT_CLEANED_UP|NEVER_RETURN_EXPIRED",
      "NEVER_RETURN_EXPIRED", "0.3", "whether expired entries are read"},
     &O::short_term_memory_state_ttl_visibility},
    {{"action.trigger-condition.evaluate-failure-strategy", "WARN_AND_SKIP|FAIL", "WARN_AND_SKIP",
      "0.3", "a trigger condition that fails to evaluate"},
     &O::action_trigger_condition_evaluate_failure_strategy},
    {{"tool-call.parallelism", "integer", "", "0.4", "tools of one batch run at once; unset: processors"},
     &O::tool_call_parallelism},
    {{"tool-call.batch.timeout.ms", "integer", "-1", "0.4", "batch timeout; non-positive: none"},
     &O::tool_call_batch_timeout_ms},
};

constexpr std::string_view kTypeLevelPrefix = "event-log.type.";
constexpr std::string_view kTypeLevelSuffix = ".level";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// YAML scalars may be quoted; Flink takes the text inside.
std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

const Row* find_row(std::string_view key) {
  for (const Row& r : kRows)
    if (r.info.key == key) return &r;
  return nullptr;
}

// Checks an enum value against "A|B|C" and returns its upper-case form.
Result<std::string> enum_value(const AgentOptionInfo& info, std::string_view value) {
  std::string_view names = info.kind;
  while (!names.empty()) {
    const size_t bar = names.find('|');
    const std::string_view name = names.substr(0, bar);
    if (iequals(name, value)) return std::string(name);
    if (bar == std::string_view::npos) break;
    names.remove_prefix(bar + 1);
  }
  return fail(Errc::kInvalidArgument,
              fmt::format("{} takes one of {}, not '{}'", info.key, info.kind, value));
}

void remember(O& o, std::string_view key) {
  if (std::find(o.given.begin(), o.given.end(), key) == o.given.end()) o.given.emplace_back(key);
}

}  // namespace

std::span<const AgentOptionInfo> agent_option_table() {
  static const std::vector<AgentOptionInfo> infos = [] {
    std::vector<AgentOptionInfo> v;
    for (const Row& r : kRows) v.push_back(r.info);
    return v;
  }();
  return infos;
}

Status set_agent_option(AgentExecutionOptions& o, std::string_view key, std::string_view value) {
  if (key.starts_with("agent.")) key.remove_prefix(6);
  if (key.starts_with(kTypeLevelPrefix) && key.ends_with(kTypeLevelSuffix) &&
      key.size() > kTypeLevelPrefix.size() + kTypeLevelSuffix.size()) {
    const std::string type(key.substr(kTypeLevelPrefix.size(),
                                      key.size() - kTypeLevelPrefix.size() - kTypeLevelSuffix.size()));
    static constexpr AgentOptionInfo kLevel{"event-log.type.<TYPE>.level", "OFF|STANDARD|VERBOSE",
                                            "", "0.3", ""};
    AFTK_TRY_ASSIGN(std::string level, enum_value(kLevel, value));
    o.event_log_type_levels[type] = std::move(level);
    remember(o, key);
    return {};
  }
  const Row* row = find_row(key);
  if (row == nullptr) {
    o.unknown[std::string(key)] = std::string(value);
    return {};
  }
  const AgentOptionInfo& info = row->info;
  if (auto* b = std::get_if<bool O::*>(&row->member)) {
    if (iequals(value, "true"))
      o.**b = true;
    else if (iequals(value, "false"))
      o.**b = false;
    else
      return fail(Errc::kInvalidArgument,
                  fmt::format("{} takes true or false, not '{}'", info.key, value));
  } else if (auto* i = std::get_if<std::int64_t O::*>(&row->member)) {
    std::int64_t n = 0;
    const char* end = value.data() + value.size();
    auto [p, ec] = std::from_chars(value.data() + (value.starts_with('+') ? 1 : 0), end, n);
    if (ec != std::errc() || p != end || value.empty())
      return fail(Errc::kInvalidArgument,
                  fmt::format("{} takes an integer, not '{}'", info.key,
                              value.size() > 40 ? std::string(value.substr(0, 40)) + "..."
                                                : std::string(value)));
    o.**i = n;
  } else {
    auto* s = std::get_if<std::string O::*>(&row->member);
    if (info.kind.find('|') != std::string_view::npos) {
      AFTK_TRY_ASSIGN(o.**s, enum_value(info, value));
    } else {
      o.**s = std::string(value);
    }
  }
  remember(o, info.key);
  return {};
}

Status read_agent_config(AgentExecutionOptions& o, std::string_view text, std::string_view source) {
  size_t number = 0;
  // Indentation of the `agent:` block while inside one (npos: outside); its keys are ours. A
  // plain size_t, not an optional: g++ 12 sees an optional's payload as maybe-uninitialized.
  constexpr size_t kOutside = std::string_view::npos;
  size_t agent_indent = kOutside;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (const size_t hash = line.find('#');
        hash != std::string_view::npos && (hash == 0 || line[hash - 1] == ' '))
      line = line.substr(0, hash);
    const size_t indent = line.find_first_not_of(" \t");
    if (indent == std::string_view::npos) continue;
    line = trim(line);
    if (agent_indent != kOutside && indent <= agent_indent) agent_indent = kOutside;
    if (line.starts_with("-D")) line.remove_prefix(2);
    const size_t colon = line.find(':');
    const size_t eq = line.find('=');
    size_t split = std::string_view::npos;
    // `key: value` (YAML) or `key=value` (properties, -D): whichever comes first.
    if (colon != std::string_view::npos && (eq == std::string_view::npos || colon < eq))
      split = colon;
    else
      split = eq;
    if (split == std::string_view::npos)
      return fail(Errc::kInvalidArgument,
                  fmt::format("expected 'key: value' or 'key=value', not '{}'", line),
                  fmt::format("{}:{}", source, number));
    const std::string_view key = trim(line.substr(0, split));
    const std::string_view value = unquote(trim(line.substr(split + 1)));
    if (key == "agent" && value.empty() && split == colon) {
      agent_indent = indent;
      continue;
    }
    if (value.empty() && split == colon) continue;  // another YAML block: not ours
    if (indent > 0 && agent_indent == kOutside) continue;      // a nested key of another block
    auto st = set_agent_option(o, key, value);
    if (!st) {
      Error e = std::move(st).error();
      e.where = fmt::format("{}:{}", source, number);
      return fail(std::move(e));
    }
  }
  return {};
}

Result<std::string> agent_option_value(const AgentExecutionOptions& o, std::string_view key) {
  const Row* row = find_row(key);
  if (row == nullptr) return fail(Errc::kNotFound, fmt::format("no agent option '{}'", key));
  if (auto* b = std::get_if<bool O::*>(&row->member)) return std::string(o.**b ? "true" : "false");
  if (auto* i = std::get_if<std::int64_t O::*>(&row->member)) {
    // The two "processors" defaults are unset until given.
    if (o.**i == 0 && row->info.default_value.empty()) return std::string();
    return std::to_string(o.**i);
  }
  return o.**std::get_if<std::string O::*>(&row->member);
}

std::vector<std::string> check_agent_options(const AgentExecutionOptions& o, std::string_view line) {
  std::vector<std::string> out;
  const auto given = [&](std::string_view key) {
    return std::find(o.given.begin(), o.given.end(), key) != o.given.end();
  };
  if (iequals(o.action_state_store_backend, "kafka") && o.kafka_action_state_topic.empty())
    out.push_back("actionStateStoreBackend is kafka but kafkaActionStateTopic is not set");
  if (!o.action_state_store_backend.empty() && !iequals(o.action_state_store_backend, "kafka") &&
      !iequals(o.action_state_store_backend, "fluss"))
    out.push_back(fmt::format("actionStateStoreBackend '{}' is neither kafka nor fluss",
                              o.action_state_store_backend));
  if (o.kafka_action_state_topic_num_partitions <= 0 ||
      o.kafka_action_state_topic_num_partitions > INT32_MAX)
    out.push_back(fmt::format("kafkaActionStateTopicNumPartitions {} is not a positive int",
                              o.kafka_action_state_topic_num_partitions));
  if (o.kafka_action_state_topic_replication_factor <= 0 ||
      o.kafka_action_state_topic_replication_factor > 32767)
    out.push_back(fmt::format("kafkaActionStateTopicReplicationFactor {} is outside 1..32767",
                              o.kafka_action_state_topic_replication_factor));
  if (o.kafka_action_state_tombstone_enabled && !o.kafka_action_state_cleanup_control_topic.empty())
    out.push_back(
        "kafkaActionStateTombstoneEnabled and kafkaActionStateCleanupControlTopic exclude each "
        "other: per-key tombstones cannot be combined with checkpoint-aligned cleanup");
  if (line == "0.3") {
    for (const Row& r : kRows)
      if (r.info.since == "0.4" && given(r.info.key))
        out.push_back(fmt::format("{} is not read by the 0.3 line", r.info.key));
  } else {
    // The 0.4 line replaced the event log by the trace log and refuses to start on the old keys.
    for (const std::string& key : o.given)
      if (key.starts_with("event-log.") || key == "eventLoggerType" || key == "baseLogDir" ||
          key == "prettyPrint")
        out.push_back(fmt::format("{} is rejected at start-up by the 0.4 line's trace log "
                                  "(use trace-log.*)",
                                  key));
  }
  return out;
}

}  // namespace aftk
