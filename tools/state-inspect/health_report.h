// SPDX-License-Identifier: Apache-2.0
// state-inspect's health modes: --pending (calls with age and verdict), --stats and --check.
#pragma once

#include "aftk/actionstate/health.h"
#include "aftk/cli/store_source.h"
#include "aftk/cli/tool.h"

namespace aftk::tools::state_inspect {

struct HealthRequest {
  enum class Mode { kPending, kStats, kCheck };
  Mode mode = Mode::kPending;
  actionstate::PendingOptions pending;
  actionstate::DecodeOptions decode;          // how --check validates records
  std::optional<std::int32_t> expected_partitions;  // --partitions, when given, for -t
  cli::Format format = cli::Format::kJsonl;
  bool color = false;
  bool wide = false;
};

/// Reads the store once and prints the report the mode asks for; returns the exit code (3 for a
/// stuck call, a finding, or records that could not be read).
int run_health(const HealthRequest& request, const cli::StoreSource& source, const cli::Io& io);

}  // namespace aftk::tools::state_inspect
