// SPDX-License-Identifier: Apache-2.0
// state-inspect: hands argv to the tool through the shared main (signals, exit codes).
#include "state_inspect.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "state-inspect", aftk::tools::state_inspect::main);
}
