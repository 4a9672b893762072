// SPDX-License-Identifier: Apache-2.0
// state-inspect's views of single states and key histories: `show` and `--timeline`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aftk/actionstate/serde.h"
#include "aftk/cli/store_source.h"
#include "aftk/cli/tool.h"

namespace aftk::tools::state_inspect {

/// What `show` was given on the command line.
struct ShowOptions {
  std::string key;  // a record key, or a business key (0.4: its id)
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  bool raw = false;
};

/// Adds the `show` subcommand; its options fall through to the tool's (FILE, -t, -o, ...).
CLI::App* add_show_command(CLI::App& app, ShowOptions& o);

/// What either view needs, resolved from the tool's options.
struct ViewConfig {
  cli::StoreSource source;
  actionstate::DecodeOptions decode;
  cli::Format format = cli::Format::kJsonl;
  bool color = false;
  bool wide = false;
};

/// Prints one state whole (or every live state of a business key); returns the exit code.
int show(const ShowOptions& o, const ViewConfig& config, const cli::Io& io);

/// Prints the history of the business keys `keys` (all keys when empty); returns the exit code.
int timeline(const std::vector<std::string>& keys, const ViewConfig& config, const cli::Io& io);

}  // namespace aftk::tools::state_inspect
