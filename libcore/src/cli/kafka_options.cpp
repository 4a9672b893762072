// SPDX-License-Identifier: Apache-2.0
// The shared -b/-X/-F flags.
#include "aftk/cli/kafka_options.h"

#include <algorithm>

namespace aftk::cli {

void add_kafka_options(CLI::App& app, KafkaOptions& options) {
  const std::string group = "Kafka";
  app.add_option("-b,--brokers", options.brokers,
                 "Bootstrap brokers host:port,... (default: $AFTK_BROKERS)")
      ->group(group);
  app.add_option("-X", options.overrides,
                 "librdkafka property key=value, repeatable; '-X list' lists them")
      ->group(group)
      ->allow_extra_args(false);
  app.add_option("-F", options.files,
                 "Read librdkafka properties from FILE (after $AFTK_KAFKA_CONFIG or "
                 "~/.config/aftk/kafka.properties), repeatable")
      ->group(group)
      ->allow_extra_args(false);
}

std::optional<int> handle_kafka_list(const KafkaOptions& options, const Io& io) {
  if (std::find(options.overrides.begin(), options.overrides.end(), "list") ==
      options.overrides.end()) {
    return std::nullopt;
  }
  kafka::list_properties(io.out);
  return kExitOk;
}

Result<kafka::ClientConfig> resolve_kafka(const KafkaOptions& options) {
  kafka::Sources src = kafka::sources_from_environment();
  src.files = options.files;
  if (!options.brokers.empty()) src.brokers = options.brokers;
  src.overrides = options.overrides;
  return kafka::resolve(src);
}

}  // namespace aftk::cli
