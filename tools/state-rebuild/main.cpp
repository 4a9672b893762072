// SPDX-License-Identifier: Apache-2.0
// state-rebuild: hands argv to the tool through the shared main (signals, exit codes).
#include "state_rebuild.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "state-rebuild", aftk::tools::state_rebuild::main);
}
