// SPDX-License-Identifier: Apache-2.0
// feedback-bench: measures the feedback queue and channel against peers and hardware floors.
#pragma once

#include <map>
#include <string>

#include "aftk/cli/tool.h"

namespace aftk::tools::feedback_bench {

/// One measured figure: median, min and max over repetitions.
struct Figure {
  std::string impl;    // aftk, aftk-channel, two-deque-spin, mutex-deque, moodycamel, ...
  std::string metric;  // throughput, rtt_spin_p50, ..., cacheline_rtt, futex_rtt
  unsigned producers = 1;
  unsigned payload_bytes = 8;
  double median = 0, min = 0, max = 0;
  std::string unit;  // items/s or ns
  int reps = 0;
  double ratio = 0;                     // median / the reference's median
  std::string ratio_to;                 // the reference: an impl or a floor metric
  std::map<std::string, double> extra;  // mb_per_s, allocs_per_item, wakes_per_batch, ...
};

/// A target from the issue and whether this run met it.
struct Target {
  std::string name;
  double value = 0;
  double limit = 0;
  bool at_least = false;  // value >= limit (else value <= limit)
  std::string unit;
  std::string note;  // what to read the value against, e.g. the floor's own figure
  bool met() const;
};

/// The tool: parses argv, runs the selected measurements, prints a table or JSON Lines.
int main(int argc, const char* const* argv, cli::Io& io);

}  // namespace aftk::tools::feedback_bench
