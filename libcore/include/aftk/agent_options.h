// SPDX-License-Identifier: Apache-2.0
// The agent job's configuration in one place: every upstream config key aftk knows, with its
// default, the versions that read it, and the `key: value` / `-Dkey=value` forms it is set in.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/result.h"

namespace aftk {

/// The settings of a Flink Agents job that decide how its durable state is written and read.
/// Named after upstream's AgentExecutionOptions, though it holds AgentConfigOptions' keys too
/// (the state store, the event and trace logs): aftk's stores, event-log writer and simulations
/// take their settings from here, so that one job configuration drives every tool the same way.
/// Member names follow the keys; defaults are upstream's.
struct AgentExecutionOptions {
  // The action-state store (AgentConfigOptions).
  std::string action_state_store_backend;  // actionStateStoreBackend: "" (off), kafka, fluss
  std::string kafka_bootstrap_servers = "localhost:9092";
  std::string kafka_action_state_topic;  // required for the kafka backend
  std::int64_t kafka_action_state_topic_num_partitions = 64;
  std::int64_t kafka_action_state_topic_replication_factor = 1;
  bool kafka_action_state_tombstone_enabled = false;     // 0.4 (#885)
  std::string kafka_action_state_cleanup_control_topic;  // 0.4 (#1101)
  std::string job_identifier;
  std::string event_listeners;  // event-listeners: a list, kept as given ("a;b" or "[a, b]")

  // The Fluss action-state store (AgentConfigOptions; read at 8ad3a32, spec formats section 6).
  std::string fluss_bootstrap_servers = "localhost:9123";
  std::string fluss_action_state_database = "flink_agents";
  std::string fluss_action_state_table;
  std::int64_t fluss_action_state_table_buckets = 64;
  std::string fluss_security_protocol = "PLAINTEXT";
  std::string fluss_sasl_mechanism = "PLAIN";
  std::string fluss_sasl_jaas_config;  // a secret: never printed
  std::string fluss_sasl_username;
  std::string fluss_sasl_password;  // a secret: never printed

  // The event log (0.3.x and main @ 8ad3a32; replaced by the trace log on the 0.4 line).
  std::string event_logger_type = "SLF4J";  // SLF4J or FILE; a base log dir forces FILE
  std::string base_log_dir;
  bool pretty_print = false;
  std::string event_log_level = "STANDARD";  // OFF, STANDARD, VERBOSE
  std::map<std::string, std::string> event_log_type_levels;  // event-log.type.<TYPE>.level
  bool event_log_trace_enabled = false;
  std::int64_t event_log_max_string_length = 2000;
  std::int64_t event_log_max_array_elements = 20;
  std::int64_t event_log_max_depth = 5;

  // The trace log (0.4 line).
  std::string trace_log_output_type = "SLF4J";  // SLF4J or FILE; a base dir selects FILE
  std::string trace_log_base_dir;
  bool trace_log_pretty_print = false;
  // trace-log.targets: a list of {scope, detail} maps, kept as given in its flow form.
  std::string trace_log_targets = "[{scope: EVENT_ONLY, detail: STANDARD}]";
  std::int64_t trace_log_max_string_length = 2000;
  std::int64_t trace_log_max_array_elements = 20;
  std::int64_t trace_log_max_depth = 5;

  // AgentExecutionOptions proper.
  std::string error_handling_strategy = "FAIL";  // FAIL, RETRY, IGNORE
  std::int64_t max_retries = 3;
  std::int64_t retry_wait_interval = 1;
  std::int64_t num_async_threads = 0;  // 0: twice the available processors, as upstream
  bool chat_async = true;
  bool tool_call_async = true;
  bool rag_async = true;
  bool agent_run_begin_event = false;
  std::int64_t short_term_memory_state_ttl_ms = 0;
  std::string short_term_memory_state_ttl_update_type = "ON_READ_AND_WRITE";
  std::string short_term_memory_state_ttl_visibility = "NEVER_RETURN_EXPIRED";
  std::string action_trigger_condition_evaluate_failure_strategy = "WARN_AND_SKIP";
  std::int64_t tool_call_parallelism = 0;  // 0: the available processors, as upstream (#926)
  std::int64_t tool_call_batch_timeout_ms = -1;  // non-positive: no timeout (#926)

  /// Keys given that aftk does not know, kept as given (they may belong to a newer runtime).
  std::map<std::string, std::string> unknown;
  /// Every key that was set, as spelled in the table (event-log.type.<TYPE>.level as such).
  std::vector<std::string> given;
};

/// One key of the table: its name, its kind, upstream's default as text, and what it means.
struct AgentOptionInfo {
  std::string_view key;
  std::string_view kind;           // "boolean", "integer", "string" or "A|B|C" (an enum)
  std::string_view default_value;  // as upstream prints it; "" for none
  std::string_view since;          // "0.3" or "0.4": the first line that reads the key
  std::string_view what;
};

/// Every key aftk knows, in the order of upstream's documentation tables.
std::span<const AgentOptionInfo> agent_option_table();

/// Sets one key from its text form: booleans true/false, decimal integers, enum names in any
/// case (as Flink's configuration does), strings as given. The `agent.` prefix Flink's YAML
/// nesting gives is accepted. Unknown keys go to `unknown`. Errors: INVALID_ARGUMENT naming the
/// key and what it takes (which keys a version rejects is check_agent_options' work).
Status set_agent_option(AgentExecutionOptions& options, std::string_view key,
                        std::string_view value);

/// Reads a job's configuration text: Flink YAML (`key: value`, or nested under `agent:`),
/// properties (`key=value`) or `-Dkey=value` lines; `#` starts a comment. `source` names the
/// text in errors ("flink-conf.yaml:12"). Errors: INVALID_ARGUMENT with the line.
Status read_agent_config(AgentExecutionOptions& options, std::string_view text,
                         std::string_view source);

/// The value of a key as text ("" when unset), or NOT_FOUND for a key not in the table.
Result<std::string> agent_option_value(const AgentExecutionOptions& options, std::string_view key);

/// Problems of the configuration as a job of `line` ("0.3" or "0.4") would meet them at
/// start-up: tombstones together with a cleanup control topic, the event-log keys the 0.4 line
/// rejects, the kafka backend without a topic, counts out of range. Empty when it would start.
std::vector<std::string> check_agent_options(const AgentExecutionOptions& options,
                                             std::string_view line);

}  // namespace aftk
