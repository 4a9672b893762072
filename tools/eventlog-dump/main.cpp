// SPDX-License-Identifier: Apache-2.0
// eventlog-dump: hands argv to the tool's run().
#include "eventlog_dump.h"

int main(int argc, char** argv) {
  aftk::cli::Io io = aftk::cli::process_io("eventlog-dump");
  return aftk::tools::eventlog_dump::main(argc, argv, io);
}
