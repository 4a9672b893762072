// SPDX-License-Identifier: Apache-2.0
// KafkaActionStateStore: the action-state store on a real Kafka topic (librdkafka).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aftk/actionstate/store.h"
#include "aftk/kafka/client.h"
#include "aftk/kafka/config.h"

namespace aftk::kafka {

/// The topic settings upstream uses when it creates the topic.
enum class TopicLayout {
  kV03,  // 0.3.x: cleanup.policy=compact
  kV04,  // newer main: cleanup.policy=compact,delete with retention.ms=-1, retention.bytes=-1
};

struct StoreOptions {
  std::string topic;                     // kafkaActionStateTopic (required)
  std::int32_t num_partitions = 64;      // kafkaActionStateTopicNumPartitions, used on creation
  std::int32_t replication_factor = 1;   // kafkaActionStateTopicReplicationFactor, on creation
  /// kV03: topic created compacted, recovery_marker() the legacy map. kV04: created
  /// compact,delete with infinite retention, recovery_marker() the versioned marker (needs the
  /// topic id; see fetch_topic_id).
  TopicLayout layout = TopicLayout::kV03;
  bool create_topic = true;              // create the topic when it is missing
  /// Refuse a topic whose cleanup.policy lacks "compact": every put writes a whole snapshot, and
  /// without compaction the topic only grows.
  bool require_compaction = true;
  /// Read the topic's configuration (DescribeConfigs); off for clusters that deny it.
  bool verify_config = true;
  /// Deadline of each admin request, of each put's delivery, and the no-progress limit of a read.
  std::chrono::milliseconds timeout{30000};
  unsigned read_workers = 0;             // threads reading partitions; 0: hardware threads
  /// Prefetch budget of a rebuild over all partitions, in KiB (see ReadOptions).
  std::int64_t prefetch_budget_kb = ReadOptions{}.prefetch_budget_kb;
  std::function<bool()> should_stop;     // checked while reading (e.g. cli::interrupted)
};

/// The action-state store on a Kafka topic. put() produces with acks=all and idempotence to the
/// partition upstream's partitioner picks and waits for the delivery, so a failed write is an
/// error (upstream ignores delivery failures). rebuild() captures end offsets first and reads
/// every partition exactly up to them in parallel, never joining a group or committing offsets.
class KafkaActionStateStore : public actionstate::LogStore {
 public:
  /// Connects, verifies or creates the topic and starts the producer. Errors: INVALID_ARGUMENT
  /// (no topic, bad settings), NOT_FOUND (missing topic and create_topic off), CONFLICT (topic
  /// not compacted), KAFKA, TIMEOUT.
  static Result<std::unique_ptr<KafkaActionStateStore>> open(const ClientConfig& config,
                                                             StoreOptions options);
  ~KafkaActionStateStore() override;

  /// Versioned markers are checked against the topic id read at open; when it could not be read
  /// (not a plaintext listener: librdkafka 2.0.2 has no topic-id API) this fails with
  /// UNSUPPORTED instead of skipping the check.
  Result<actionstate::RebuildReport> rebuild(std::span<const actionstate::RecoveryMarker> markers,
                                             const actionstate::RebuildOptions& options = {}) override;
  /// The legacy map (kV03 layout) or the versioned marker with the topic id (kV04).
  /// Errors: KAFKA, TIMEOUT, UNSUPPORTED (kV04 without a known topic id).
  Result<actionstate::RecoveryMarker> recovery_marker() override;
  /// Both ends of every partition from one ListOffsets request pair. Errors: KAFKA, TIMEOUT.
  Result<actionstate::LogOffsets> offsets() override;
  /// Reads the ranges exactly (see read_exact) on `workers` threads, each partition on one.
  Status scan(std::span<const actionstate::ScanRange> ranges, unsigned workers,
              actionstate::ScanSink& sink) override;
  /// StoreOptions::read_workers, or the hardware threads.
  unsigned read_workers() const override;
  /// Waits for every outstanding delivery. Errors: KAFKA, TIMEOUT.
  Status flush() override;

  /// Things worth telling the user that are not errors (e.g. the topic exists with another
  /// partition count than asked for).
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& topic_name() const { return options_.topic; }
  /// The topic's cleanup.policy as read at open ("" when not verified).
  const std::string& cleanup_policy() const { return cleanup_policy_; }
  /// The topic id (Kafka Uuid text) read at open, or empty when it could not be read.
  const std::string& known_topic_id() const { return topic_id_; }

  /// The outcome of one put, filled by librdkafka's delivery report.
  struct Delivery {
    int err = -178;  // RD_KAFKA_RESP_ERR__IN_PROGRESS until the report arrives
    std::int32_t partition = -1;
    std::int64_t offset = -1;
  };

 protected:
  Result<actionstate::RecordPosition> append(std::int32_t partition, std::string_view key,
                                             const std::string* value) override;
  std::string topic() const override { return options_.topic; }
  std::string topic_id() const override { return topic_id_; }

 private:
  KafkaActionStateStore(ClientConfig config, StoreOptions options, std::int32_t partitions);
  ClientConfig config_;
  StoreOptions options_;
  Handle admin_;     // metadata, admin requests and offsets
  Status ensure_producer();
  Handle producer_;  // made by the first write
  std::string topic_id_;
  std::string cleanup_policy_;
  std::vector<std::string> notes_;
  std::unordered_map<std::uint64_t, Delivery> pending_;
  std::uint64_t next_id_ = 0;
};

/// The topic configs a layout creates the topic with.
std::vector<std::pair<std::string, std::string>> topic_configs_for(TopicLayout layout);

}  // namespace aftk::kafka
