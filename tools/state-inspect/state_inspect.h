// SPDX-License-Identifier: Apache-2.0
// state-inspect: list the live action states of a store, decoded, with problems reported.
#pragma once

#include "aftk/cli/tool.h"

namespace aftk::tools::state_inspect {

/// Runs the tool; returns its exit code.
int main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::state_inspect
