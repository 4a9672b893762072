// SPDX-License-Identifier: Apache-2.0
// eventlog-dump: read, filter, merge and summarise Flink Agents event logs.
#pragma once

#include "aftk/cli/tool.h"

namespace aftk::tools::eventlog_dump {

/// Runs the tool on argv with output on `io`; returns the exit code.
int main(int argc, const char* const* argv, aftk::cli::Io& io);

}  // namespace aftk::tools::eventlog_dump
