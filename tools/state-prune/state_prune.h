// SPDX-License-Identifier: Apache-2.0
// state-prune: plan, then with --apply write, the tombstones that bound the state topic.
#pragma once

#include "aftk/cli/tool.h"

namespace aftk::tools::state_prune {

/// Runs the tool; returns its exit code.
int main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::state_prune
