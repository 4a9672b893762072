// SPDX-License-Identifier: Apache-2.0
// Test helpers for the real broker: its address, unique topic names, a raw producer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aftk/kafka/client.h"
#include "aftk/kafka/config.h"

namespace aftk::testing {

/// $AFTK_BROKERS; fails the test with instructions when it is not set.
std::string brokers();
/// A client config for the test broker.
kafka::ClientConfig broker_config();
/// "aftk-test-<what>-<random>".
std::string unique_topic(const std::string& what);

struct RawRecord {
  std::int32_t partition;
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

/// Produces records to explicit partitions and waits for every delivery (REQUIREs success).
/// Returns the offsets assigned.
std::vector<std::int64_t> produce(const std::string& topic, const std::vector<RawRecord>& records,
                                  const kafka::Overrides& extra = {});

/// Creates a topic (REQUIREs success).
void create(const std::string& topic, int partitions,
            const std::vector<std::pair<std::string, std::string>>& configs = {
                {"cleanup.policy", "compact"}});

}  // namespace aftk::testing
