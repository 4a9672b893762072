// SPDX-License-Identifier: Apache-2.0
// feedback-bench entry point.
#include "feedback_bench.h"

int main(int argc, char** argv) {
  aftk::cli::Io io = aftk::cli::process_io("feedback-bench");
  return aftk::tools::feedback_bench::main(argc, argv, io);
}
