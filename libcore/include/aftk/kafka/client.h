// SPDX-License-Identifier: Apache-2.0
// Thin, Result-returning helpers over librdkafka: handles, topic admin, offsets, exact reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/kafka/config.h"
#include "aftk/result.h"

struct rd_kafka_s;

namespace aftk::kafka {

/// An Error with code KAFKA (TIMEOUT for librdkafka's _TIMED_OUT) whose message carries
/// librdkafka's error text and name, e.g. "cannot list offsets of 'x': Broker: Not leader for
/// partition (NOT_LEADER_FOR_PARTITION)", and whose kafka_code and kafka_name fields hold the
/// code. `retriable` as the caller classified it; `fatal` for librdkafka's _FATAL code (never
/// retriable then).
Error kafka_error(int rd_err, std::string_view what, std::string where = {}, bool retriable = false);

/// kafka_error for an error handle `rk` reported. When `rk` has raised a fatal error, the Error
/// is fatal, not retriable, and names the underlying error (librdkafka's code, name and reason)
/// rather than `rd_err`, which is then often just _FATAL.
Error kafka_error(rd_kafka_s* rk, int rd_err, std::string_view what, std::string where = {},
                  bool retriable = false);

/// True for librdkafka errors that a retry can cure (leader moves, metadata lag, transport).
bool is_retriable(int rd_err);

struct HandleDeleter {
  void operator()(rd_kafka_s* rk) const noexcept;
};
/// An owned rd_kafka_t.
using Handle = std::unique_ptr<rd_kafka_s, HandleDeleter>;

/// Settings a handle needs on top of the user's; these win over the user's.
using Overrides = std::vector<std::pair<std::string, std::string>>;

/// A producer from `config` plus `overrides`. Errors: INVALID_ARGUMENT (bad setting), KAFKA.
/// The delivery-report callback, when wanted, is set through `on_conf`.
Result<Handle> make_producer(const ClientConfig& config, const Overrides& overrides,
                             const std::function<void(struct rd_kafka_conf_s*)>& on_conf = {});
/// A consumer that never joins a group and never commits (the legacy per-partition API).
Result<Handle> make_reader(const ClientConfig& config, const Overrides& overrides = {});

struct TopicInfo {
  std::string name;
  std::int32_t partitions = 0;
};

/// The partition count of `topic`, or NOT_FOUND if the broker does not know it.
/// Errors: KAFKA, TIMEOUT.
Result<TopicInfo> describe_topic(rd_kafka_s* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout);

/// Creates `topic` with the given configs. An existing topic (a concurrent creator) is fine.
/// Errors: KAFKA naming the topic.
Status create_topic(rd_kafka_s* rk, const std::string& topic, std::int32_t partitions,
                    std::int32_t replication_factor,
                    const std::vector<std::pair<std::string, std::string>>& configs,
                    std::chrono::milliseconds timeout);

/// The topic's dynamic and default configs (DescribeConfigs). Errors: KAFKA, UNSUPPORTED.
Result<std::map<std::string, std::string>> topic_configs(rd_kafka_s* rk, const std::string& topic,
                                                         std::chrono::milliseconds timeout);

/// Log start offset and end offset (high watermark, the next offset to be written) of each
/// partition 0..n-1, index = partition. Retriable errors are retried until `timeout`.
/// Errors: KAFKA naming the partition, TIMEOUT.
struct Watermarks {
  std::vector<std::int64_t> low;
  std::vector<std::int64_t> high;
};
Result<Watermarks> watermarks(rd_kafka_s* rk, const std::string& topic, std::int32_t partitions,
                              std::chrono::milliseconds timeout);

/// Deletes every record before `before[p]` in each listed partition (DeleteRecords, what Java's
/// RecordsToDelete.beforeOffset asks), and returns each partition's log start offset after it.
/// An offset at or below the log start already is no error. Errors: KAFKA naming the partition
/// (OFFSET_OUT_OF_RANGE past the end offset), TIMEOUT.
Result<std::map<std::int32_t, std::int64_t>> delete_records(
    rd_kafka_s* rk, const std::string& topic, const std::map<std::int32_t, std::int64_t>& before,
    std::chrono::milliseconds timeout);

/// One record as read; `value` is null for a tombstone.
struct RecordView {
  std::int32_t partition;
  std::int64_t offset;
  std::int64_t timestamp_ms;  // -1 when the broker gave none
  std::string_view key;
  const char* value;  // nullptr: tombstone
  size_t value_size;
};

struct ReadRange {
  std::int32_t partition;
  std::int64_t start;  // first offset to read
  std::int64_t end;    // stop before this offset (an end offset captured beforehand)
};

struct ReadOptions {
  /// Worker threads; partitions are spread over them by partition % workers, so each
  /// partition's records arrive in offset order on one thread.
  unsigned workers = 2;
  /// Give up when no partition advanced for this long (broker down, partition offline).
  std::chrono::milliseconds idle_timeout{30000};
  /// Read-ahead budget over all workers, in KiB: librdkafka's queued.max.messages.kbytes caps
  /// each worker's queue at an equal share of it (at least 1 MiB), and fetch answers are limited
  /// to half of it (at most 16 MiB, or message.max.bytes if higher), so the records fetched but
  /// not yet handed to on_record hold about the budget plus a few answers, however long the
  /// read. librdkafka 2.0 stops fetching while the queues are full and would look again only
  /// after up to a second (fetch.queue.backoff.ms came in 2.1); read_exact wakes it as soon as
  /// a queue has drained to half, so the cap does not starve the workers. 0 leaves librdkafka's
  /// caps (64 MiB or 100000 records a worker) and 16 MiB answers. A user's own
  /// queued.max.messages.kbytes wins over the budget, and the wake-ups work with it too.
  std::int64_t prefetch_budget_kb = 16384;
  /// Checked between batches; returning true stops the read with INTERRUPTED.
  std::function<bool()> should_stop;
};

/// Reads every range exactly from start to end: records at offsets >= end are not delivered, and
/// a partition ends at its end offset even when compaction or transaction markers left the last
/// offsets empty. `on_record(worker, record)` runs on the worker threads; an error it returns
/// stops the read. Never joins a group, never commits. Errors: KAFKA with partition and offset
/// (offset out of range, topic gone), TIMEOUT naming the partitions that made no progress,
/// INTERRUPTED, or on_record's error.
Status read_exact(const ClientConfig& config, const std::string& topic,
                  const std::vector<ReadRange>& ranges, const ReadOptions& options,
                  const std::function<Status(unsigned worker, const RecordView&)>& on_record);

}  // namespace aftk::kafka
