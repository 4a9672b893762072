// SPDX-License-Identifier: Apache-2.0
// replay-sim: hands argv to the tool.
#include "replay_sim.h"

int main(int argc, char** argv) {
  aftk::cli::install_signal_handlers();
  aftk::cli::Io io = aftk::cli::process_io("replay-sim");
  return aftk::tools::replay_sim::main(argc, argv, io);
}
