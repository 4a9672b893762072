// SPDX-License-Identifier: Apache-2.0
// replay-sim: hands argv to the tool through the shared main (signals, exit codes).
#include "replay_sim.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "replay-sim", aftk::tools::replay_sim::main);
}
