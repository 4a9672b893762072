// SPDX-License-Identifier: Apache-2.0
// state-prune: hands argv to the tool through the shared main (signals, exit codes).
#include "state_prune.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "state-prune", aftk::tools::state_prune::main);
}
