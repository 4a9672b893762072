// SPDX-License-Identifier: Apache-2.0
// The shared -b/-X/-F flags.
#include "aftk/kafka/options.h"

#include <algorithm>

namespace aftk::kafka {

void add_options(CLI::App& app, Options& options) {
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

int handle_list(const Options& options, const cli::Io& io) {
  if (std::find(options.overrides.begin(), options.overrides.end(), "list") ==
      options.overrides.end()) {
    return -1;
  }
  list_properties(io.out);
  return cli::kExitOk;
}

Result<ClientConfig> resolve(const Options& options) {
  Sources src = sources_from_environment();
  src.files = options.files;
  if (!options.brokers.empty()) src.brokers = options.brokers;
  src.overrides = options.overrides;
  return resolve(src);
}

}  // namespace aftk::kafka
