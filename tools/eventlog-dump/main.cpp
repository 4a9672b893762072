// SPDX-License-Identifier: Apache-2.0
// eventlog-dump: hands argv to the tool through the shared main (signals, exit codes).
#include "eventlog_dump.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "eventlog-dump", aftk::tools::eventlog_dump::main);
}
