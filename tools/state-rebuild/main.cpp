// SPDX-License-Identifier: Apache-2.0
// state-rebuild: hands argv to the tool.
#include "state_rebuild.h"

int main(int argc, char** argv) {
  aftk::cli::install_signal_handlers();
  aftk::cli::Io io = aftk::cli::process_io("state-rebuild");
  return aftk::tools::state_rebuild::main(argc, argv, io);
}
