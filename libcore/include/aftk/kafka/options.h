// SPDX-License-Identifier: Apache-2.0
// The Kafka flags every tool that talks to a broker takes: -b, -X key=value (-X list), -F file.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aftk/cli/tool.h"
#include "aftk/kafka/config.h"

namespace aftk::kafka {

struct Options {
  std::string brokers;                 // -b/--brokers
  std::vector<std::string> overrides;  // -X key=value, repeatable; "list" lists them
  std::vector<std::string> files;      // -F file, repeatable
};

/// Adds -b/--brokers, -X and -F to `app` (in an option group "Kafka").
void add_options(CLI::App& app, Options& options);

/// After parsing: prints librdkafka's property table and returns 0 when `-X list` was given,
/// otherwise returns -1 to go on.
int handle_list(const Options& options, const cli::Io& io);

/// The resolved settings: environment and default file, then -F, -b, -X (later wins).
/// Errors: as kafka::resolve.
Result<ClientConfig> resolve(const Options& options);

}  // namespace aftk::kafka
