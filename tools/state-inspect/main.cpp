// SPDX-License-Identifier: Apache-2.0
// state-inspect: hands argv to the tool.
#include "state_inspect.h"

int main(int argc, char** argv) {
  aftk::cli::install_signal_handlers();
  aftk::cli::Io io = aftk::cli::process_io("state-inspect");
  return aftk::tools::state_inspect::main(argc, argv, io);
}
