// SPDX-License-Identifier: Apache-2.0
// feedback-bench: hands argv to the tool through the shared main (signals, exit codes).
#include "feedback_bench.h"

int main(int argc, char** argv) {
  return aftk::cli::main(argc, argv, "feedback-bench", aftk::tools::feedback_bench::main);
}
