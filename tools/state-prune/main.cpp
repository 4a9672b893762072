// SPDX-License-Identifier: Apache-2.0
// state-prune: hands argv to the tool.
#include "state_prune.h"

int main(int argc, char** argv) {
  aftk::cli::install_signal_handlers();
  aftk::cli::Io io = aftk::cli::process_io("state-prune");
  return aftk::tools::state_prune::main(argc, argv, io);
}
