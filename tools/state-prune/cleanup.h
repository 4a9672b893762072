// SPDX-License-Identifier: Apache-2.0
// state-prune plan, verify and apply: upstream's checkpoint-aligned cleanup plans.
#pragma once

#include <string_view>

#include "aftk/cli/tool.h"

namespace aftk::tools::state_prune {

/// Whether `word` (argv[1]) names a cleanup command: plan, verify or apply.
bool is_cleanup_command(std::string_view word);

/// Runs one cleanup command; argv[0] is the command's name. Returns the exit code.
int cleanup_main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::state_prune
