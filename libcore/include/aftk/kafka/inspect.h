// SPDX-License-Identifier: Apache-2.0
// Listing the live states of an action-state topic (what state-inspect -t does).
#pragma once

#include <functional>
#include <string>

#include "aftk/actionstate/inspect.h"
#include "aftk/kafka/config.h"

namespace aftk::kafka {

/// Reads every partition of `topic` from its beginning to the end offsets captured first (no
/// group, no commits), then visits the live states as inspect_cache does. Unparsable keys are
/// in the summary's problems with partition and offset. The topic is never created, and one
/// that is not compacted is read all the same. Errors: as KafkaActionStateStore::open and
/// rebuild (KAFKA, TIMEOUT, NOT_FOUND for a missing topic, INTERRUPTED).
Result<actionstate::InspectSummary> inspect_topic(
    const ClientConfig& config, const std::string& topic, const actionstate::InspectOptions& options,
    const std::function<void(const actionstate::InspectedState&)>& visit,
    const std::function<void(std::uint64_t done, std::uint64_t total)>& progress = {},
    const std::function<bool()>& should_stop = {});

}  // namespace aftk::kafka
