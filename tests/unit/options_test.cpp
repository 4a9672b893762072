// SPDX-License-Identifier: Apache-2.0
// Tests of the agent configuration: defaults, text forms, and the start-up checks per line.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "aftk/agent_options.h"

using namespace aftk;

namespace {
bool mentions(const std::vector<std::string>& problems, std::string_view what) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(what) != std::string::npos; });
}
}  // namespace

TEST_CASE("AgentExecutionOptions.defaults are upstream's") {
  const AgentExecutionOptions o;
  CHECK(o.kafka_bootstrap_servers == "localhost:9092");
  CHECK(o.kafka_action_state_topic_num_partitions == 64);
  CHECK(o.kafka_action_state_topic_replication_factor == 1);
  CHECK_FALSE(o.kafka_action_state_tombstone_enabled);
  CHECK(o.event_log_max_string_length == 2000);
  CHECK(o.event_log_max_array_elements == 20);
  CHECK(o.event_log_max_depth == 5);
  CHECK(o.max_retries == 3);
  CHECK(o.tool_call_batch_timeout_ms == -1);
  CHECK(o.error_handling_strategy == "FAIL");
  CHECK(o.short_term_memory_state_ttl_update_type == "ON_READ_AND_WRITE");
  CHECK(o.tool_call_parallelism == 0);  // unset: the available processors
  CHECK(o.fluss_bootstrap_servers == "localhost:9123");
  CHECK(o.fluss_action_state_database == "flink_agents");
  CHECK(o.fluss_action_state_table_buckets == 64);
  CHECK(o.fluss_security_protocol == "PLAINTEXT");
  CHECK(o.fluss_sasl_mechanism == "PLAIN");
  CHECK(o.trace_log_targets == "[{scope: EVENT_ONLY, detail: STANDARD}]");
  // Every key of the spec's tables (formats section 6 and the 0.4 line's additions).
  for (const char* key :
       {"actionStateStoreBackend", "kafkaBootstrapServers", "kafkaActionStateTopic",
        "kafkaActionStateTopicNumPartitions", "kafkaActionStateTopicReplicationFactor",
        "kafkaActionStateTombstoneEnabled", "kafkaActionStateCleanupControlTopic",
        "flussBootstrapServers", "flussActionStateDatabase", "flussActionStateTable",
        "flussActionStateTableBuckets", "flussSecurityProtocol", "flussSaslMechanism",
        "flussSaslJaasConfig", "flussSaslUsername", "flussSaslPassword", "eventLoggerType",
        "baseLogDir", "prettyPrint", "event-log.level", "event-log.trace.enabled",
        "event-log.standard.max-string-length", "event-log.standard.max-array-elements",
        "event-log.standard.max-depth", "job-identifier", "event-listeners",
        "error-handling-strategy", "max-retries", "retry-wait-interval", "num-async-threads",
        "chat.async", "tool-call.async", "rag.async", "agent-run.begin-event",
        "short-term-memory.state-ttl.ms", "short-term-memory.state-ttl.update-type",
        "short-term-memory.state-ttl.visibility",
        "action.trigger-condition.evaluate-failure-strategy", "tool-call.parallelism",
        "tool-call.batch.timeout.ms", "trace-log.output-type", "trace-log.base-dir",
        "trace-log.pretty-print", "trace-log.targets", "trace-log.standard.max-string-length",
        "trace-log.standard.max-array-elements", "trace-log.standard.max-depth"}) {
    CAPTURE(key);
    CHECK(agent_option_value(o, key).has_value());
  }
  // The table's default texts agree with the struct's defaults.
  for (const AgentOptionInfo& info : agent_option_table()) {
    CAPTURE(info.key);
    auto v = agent_option_value(o, info.key);
    REQUIRE(v.has_value());
    CHECK(*v == info.default_value);
  }
}

TEST_CASE("AgentExecutionOptions.every key in the table is distinct and settable") {
  std::set<std::string_view> seen;
  for (const AgentOptionInfo& info : agent_option_table()) {
    CAPTURE(info.key);
    CHECK(seen.insert(info.key).second);
    AgentExecutionOptions o;
    std::string value = "x";
    if (info.kind == "boolean") value = "TRUE";
    if (info.kind == "integer") value = "7";
    if (info.kind.find('|') != std::string_view::npos)
      value = std::string(info.kind.substr(0, info.kind.find('|')));
    REQUIRE(set_agent_option(o, info.key, value).has_value());
    CHECK(o.unknown.empty());
    CHECK(o.given == std::vector<std::string>{std::string(info.key)});
  }
}

TEST_CASE("AgentExecutionOptions.values are typed, enums case-insensitive") {
  AgentExecutionOptions o;
  CHECK(set_agent_option(o, "kafkaActionStateTombstoneEnabled", "true"));
  CHECK(o.kafka_action_state_tombstone_enabled);
  CHECK(set_agent_option(o, "error-handling-strategy", "retry"));
  CHECK(o.error_handling_strategy == "RETRY");
  CHECK(set_agent_option(o, "agent.max-retries", "+5"));
  CHECK(o.max_retries == 5);
  CHECK(set_agent_option(o, "event-log.type.my.custom.level", "verbose"));
  CHECK(o.event_log_type_levels.at("my.custom") == "VERBOSE");

  auto bad_bool = set_agent_option(o, "chat.async", "yes");
  REQUIRE_FALSE(bad_bool);
  CHECK(bad_bool.error().code == Errc::kInvalidArgument);
  CHECK(bad_bool.error().message == "chat.async takes true or false, not 'yes'");
  auto bad_int = set_agent_option(o, "max-retries", "3.5");
  REQUIRE_FALSE(bad_int);
  CHECK(bad_int.error().message == "max-retries takes an integer, not '3.5'");
  auto huge = set_agent_option(o, "max-retries", std::string(300, '9'));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().message.size() < 100);
  auto bad_enum = set_agent_option(o, "error-handling-strategy", "maybe");
  REQUIRE_FALSE(bad_enum);
  CHECK(bad_enum.error().message ==
        "error-handling-strategy takes one of FAIL|RETRY|IGNORE, not 'maybe'");
  CHECK(o.max_retries == 5);  // a rejected value changes nothing

  CHECK(set_agent_option(o, "some.future.key", "1"));
  CHECK(o.unknown.at("some.future.key") == "1");
}

TEST_CASE("AgentExecutionOptions.reads Flink YAML, properties and -D lines") {
  AgentExecutionOptions o;
  const std::string_view yaml =
      "# a Flink config.yaml\n"
      "taskmanager:\n"
      "  numberOfTaskSlots: 4\n"
      "agent:\n"
      "  actionStateStoreBackend: kafka\n"
      "  kafkaActionStateTopic: \"agent-state\"   # the topic\n"
      "  kafkaActionStateTopicNumPartitions: 8\n"
      "parallelism.default: 2\n"
      "tool-call.parallelism: 3\n"
      "-Dtool-call.batch.timeout.ms=1500\n"
      "agent.event-listeners: com.example.A;com.example.B\n"
      "trace-log.targets: [{scope: ALL, detail: VERBOSE}]\n"
      "max-retries=9\n";
  REQUIRE(read_agent_config(o, yaml, "config.yaml"));
  CHECK(o.action_state_store_backend == "kafka");
  CHECK(o.kafka_action_state_topic == "agent-state");
  CHECK(o.kafka_action_state_topic_num_partitions == 8);
  CHECK(o.tool_call_parallelism == 3);
  CHECK(o.tool_call_batch_timeout_ms == 1500);
  CHECK(o.max_retries == 9);
  CHECK(o.event_listeners == "com.example.A;com.example.B");
  CHECK(o.trace_log_targets == "[{scope: ALL, detail: VERBOSE}]");
  // Keys of other blocks are neither ours nor unknown agent keys.
  CHECK(o.unknown.count("numberOfTaskSlots") == 0);
  CHECK(o.unknown.at("parallelism.default") == "2");

  AgentExecutionOptions bad;
  auto st = read_agent_config(bad, "agent:\n  max-retries: many\n", "job.yaml");
  REQUIRE_FALSE(st);
  CHECK(st.error().where == "job.yaml:2");
  auto st2 = read_agent_config(bad, "just words\n", "job.yaml");
  REQUIRE_FALSE(st2);
  CHECK(st2.error().where == "job.yaml:1");
}

TEST_CASE("AgentExecutionOptions.start-up checks follow the version line") {
  AgentExecutionOptions o;
  CHECK(check_agent_options(o, "0.3").empty());
  CHECK(check_agent_options(o, "0.4").empty());

  REQUIRE(set_agent_option(o, "actionStateStoreBackend", "kafka"));
  CHECK(mentions(check_agent_options(o, "0.3"), "kafkaActionStateTopic is not set"));
  REQUIRE(set_agent_option(o, "kafkaActionStateTopic", "t"));
  CHECK(check_agent_options(o, "0.3").empty());

  REQUIRE(set_agent_option(o, "kafkaActionStateTombstoneEnabled", "true"));
  REQUIRE(set_agent_option(o, "kafkaActionStateCleanupControlTopic", "ctl"));
  const auto p04 = check_agent_options(o, "0.4");
  CHECK(mentions(p04, "exclude each other"));
  const auto p03 = check_agent_options(o, "0.3");
  CHECK(mentions(p03, "kafkaActionStateTombstoneEnabled is not read by the 0.3 line"));

  AgentExecutionOptions logs;
  REQUIRE(set_agent_option(logs, "event-log.level", "VERBOSE"));
  CHECK(check_agent_options(logs, "0.3").empty());
  CHECK(mentions(check_agent_options(logs, "0.4"), "event-log.level is rejected"));

  AgentExecutionOptions counts;
  REQUIRE(set_agent_option(counts, "kafkaActionStateTopicReplicationFactor", "40000"));
  CHECK(mentions(check_agent_options(counts, "0.3"), "outside 1..32767"));
}
