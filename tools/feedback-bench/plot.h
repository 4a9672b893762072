// SPDX-License-Identifier: Apache-2.0
// A hand-written SVG chart of feedback-bench figures.
#pragma once

#include <string>
#include <vector>

#include "feedback_bench.h"

namespace aftk::tools::feedback_bench {

/// An SVG document: throughput bars per implementation and producer count (items of
/// `payload_bytes`), and round-trip latency bars on a log scale with the floors drawn as lines.
std::string render_svg(const std::vector<Figure>& figures, const std::string& title,
                       unsigned payload_bytes);

}  // namespace aftk::tools::feedback_bench
