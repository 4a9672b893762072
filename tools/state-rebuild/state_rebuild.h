// SPDX-License-Identifier: Apache-2.0
// state-rebuild: the state a job would restore from its recovery markers.
#pragma once

#include "aftk/cli/tool.h"

namespace aftk::tools::state_rebuild {

/// Runs the tool; returns its exit code.
int main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::state_rebuild
