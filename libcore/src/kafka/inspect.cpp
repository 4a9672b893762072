// SPDX-License-Identifier: Apache-2.0
// Listing the live states of an action-state topic.
#include "aftk/kafka/inspect.h"

#include "aftk/kafka/store.h"

namespace aftk::kafka {

Result<actionstate::InspectSummary> inspect_topic(
    const ClientConfig& config, const std::string& topic, const actionstate::InspectOptions& options,
    const std::function<void(const actionstate::InspectedState&)>& visit,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress,
    const std::function<bool()>& should_stop) {
  StoreOptions so;
  so.topic = topic;
  so.create_topic = false;
  so.require_compaction = false;
  so.should_stop = should_stop;
  AFTK_TRY_ASSIGN(auto store, KafkaActionStateStore::open(config, so));
  actionstate::RebuildOptions ro;
  ro.validate = false;  // inspect_cache decodes the live states, with the caller's options
  ro.progress = progress;
  AFTK_TRY_ASSIGN(const actionstate::RebuildReport report, store->load_all(ro));
  actionstate::InspectSummary summary = actionstate::inspect_cache(store->cache(), options, visit);
  summary.records = report.records;
  summary.tombstones = report.tombstones;
  for (const auto& p : report.problems) summary.problems.push_back(p.error);
  return summary;
}

}  // namespace aftk::kafka
