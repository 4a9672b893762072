// SPDX-License-Identifier: Apache-2.0
// replay-sim: crash simulations of durable execution, and replay divergence reports.
#pragma once

#include "aftk/cli/tool.h"

namespace aftk::tools::replay_sim {

/// Runs the tool; returns its exit code.
int main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::replay_sim
