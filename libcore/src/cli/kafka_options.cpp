// SPDX-License-Identifier: Apache-2.0
// The shared -b/-X/-F flags.
#include "aftk/cli/kafka_options.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

namespace aftk::cli {

void add_kafka_options(CLI::App& app, KafkaOptions& options) {
  const std::string group = "Kafka";
  app.add_option("-b,--brokers", options.brokers,
                 "Bootstrap brokers host:port,... (default: $AFTK_BROKERS)")
      ->group(group);
  app.add_option("-X", options.overrides,
                 "librdkafka property key=value, repeatable; '-X list' lists them, "
                 "'-X dump' prints the effective settings")
      ->group(group)
      ->allow_extra_args(false);
  app.add_option("-F", options.files,
                 "Read librdkafka properties from FILE (after $AFTK_KAFKA_CONFIG or "
                 "~/.config/aftk/kafka.properties), repeatable")
      ->group(group)
      ->allow_extra_args(false);
}

namespace {
constexpr std::string_view kList = "list";
constexpr std::string_view kDump = "dump";

bool has(const std::vector<std::string>& overrides, std::string_view word) {
  return std::find(overrides.begin(), overrides.end(), word) != overrides.end();
}
}  // namespace

std::optional<int> handle_kafka_args(const KafkaOptions& options, const Io& io) {
  for (const auto& x : options.overrides) {
    if (x == kList || x == kDump) continue;
    const size_t eq = x.find('=');
    if (eq == std::string::npos || eq == 0) {
      // Without '=' there is no telling key from value: hide all of it if it names a secret.
      error(io, fmt::format("-X expects KEY=VALUE, 'list' or 'dump', got '{}'",
                            kafka::is_secret(x) ? std::string("***") : x));
      fmt::print(io.err, "Try '{} --help' for more information.\n", io.tool);
      return kExitUsage;
    }
  }
  if (has(options.overrides, kList)) {
    kafka::list_properties(io.out);
    return kExitOk;
  }
  if (has(options.overrides, kDump)) {
    auto config = resolve_kafka(options);
    if (!config) return report_error(io, config.error());
    auto settings = config->effective();
    if (!settings) return report_error(io, settings.error());
    for (const auto& [key, value] : *settings) fmt::print(io.out, "{} = {}\n", key, value);
    return kExitOk;
  }
  return std::nullopt;
}

Result<kafka::ClientConfig> resolve_kafka(const KafkaOptions& options) {
  kafka::Sources src = kafka::sources_from_environment();
  src.files = options.files;
  if (!options.brokers.empty()) src.brokers = options.brokers;
  for (const auto& x : options.overrides) {
    if (x != kList && x != kDump) src.overrides.push_back(x);
  }
  return kafka::resolve(src);
}

}  // namespace aftk::cli
