// SPDX-License-Identifier: Apache-2.0
// The Kafka flags every tool that talks to a broker takes: -b, -X key=value (-X list), -F file.
// They live in the CLI layer so that libcore's kafka module never depends on CLI11.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aftk/cli/tool.h"
#include "aftk/kafka/config.h"

namespace aftk::cli {

struct KafkaOptions {
  std::string brokers;                 // -b/--brokers
  std::vector<std::string> overrides;  // -X key=value, repeatable; "list" lists them
  std::vector<std::string> files;      // -F file, repeatable
};

/// Adds -b/--brokers, -X and -F to `app` (in an option group "Kafka").
void add_kafka_options(CLI::App& app, KafkaOptions& options);

/// After parsing, before anything connects: checks that every -X is KEY=VALUE, `list` or
/// `dump` (a usage error, exit 2, otherwise); with `-X list` prints librdkafka's property
/// table, with `-X dump` the effective settings as "key = value" lines (secrets shown as
/// "[redacted]"), and returns the exit code to stop with; otherwise nullopt to go on.
std::optional<int> handle_kafka_args(const KafkaOptions& options, const Io& io);

/// The resolved settings: environment and default file, then -F, -b, -X (later wins; `list`
/// and `dump` are not settings and are left out). Errors: as kafka::resolve.
Result<kafka::ClientConfig> resolve_kafka(const KafkaOptions& options);

}  // namespace aftk::cli
