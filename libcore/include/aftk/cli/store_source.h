// SPDX-License-Identifier: Apache-2.0
// Where a command's action states come from: a topic-dump file (the embedded default).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "aftk/actionstate/store.h"
#include "aftk/result.h"

namespace aftk::cli {

struct StoreSource {
  std::string file;                  // a topic dump
  std::int32_t partitions = 64;      // partitions of a new dump
};

/// Adds the positional FILE and --partitions.
void add_store_source(CLI::App& app, StoreSource& source);

/// Opens the store named by `source`. Errors: IO, INVALID_ARGUMENT.
Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source, bool read_only);

}  // namespace aftk::cli
