// SPDX-License-Identifier: Apache-2.0
// Where a command's action states come from: a topic-dump file (the embedded default) or a
// Kafka topic (-t, with kcat-style -b/-X/-F).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aftk/actionstate/store.h"
#include "aftk/cli/tool.h"
#include "aftk/cli/kafka_options.h"
#include "aftk/problem.h"
#include "aftk/result.h"

namespace aftk::cli {

struct StoreSource {
  std::string file;              // a topic dump
  std::string topic;             // a Kafka topic instead (kafkaActionStateTopic)
  KafkaOptions kafka;            // -b, -X, -F
  std::int32_t partitions = 64;  // partitions of the topic a dump stands for

  bool is_kafka() const { return !topic.empty(); }
  /// "'state.jsonl'" or "topic 'x' on localhost:9092", for messages.
  std::string describe() const;
};

/// Adds the positional FILE, -t/--topic, the Kafka client flags and --partitions.
void add_store_source(CLI::App& app, StoreSource& source);

/// Checks that exactly one of FILE and --topic was given; returns a usage message otherwise.
std::string check_store_source(const StoreSource& source);

/// After parse(): answers -X list, and reports a bad combination of FILE, -t and Kafka flags as
/// a usage error. Returns nullopt to go on, or the exit code to return now.
std::optional<int> handle_store_args(const StoreSource& source, const Io& io);

/// How a command uses its store.
enum class StoreAccess {
  kRead,    // reads only; the file or topic must exist
  kWrite,   // appends (tombstones); it must exist, any cleanup policy
  kCreate,  // a workload's own store: created when missing, a topic compacted, with partitions
};

/// Opens the store named by `source`. Errors: IO, INVALID_ARGUMENT, NOT_FOUND, KAFKA, TIMEOUT.
Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source,
                                                          StoreAccess access);
/// open_store with kRead when `read_only`, else kWrite: a topic must exist (never created).
Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source, bool read_only);

/// One problem as a line for stderr: "FILE:LINE (partition P offset O): message" for a record
/// of a dump, "where: message" otherwise.
std::string problem_text(const StoreSource& source, const Problem& problem);

/// Every problem of a load or rebuild (unreadable input and bad records) in input order: by
/// line for a dump, unreadable input first for a topic.
std::vector<const Problem*> ordered_problems(const actionstate::RebuildReport& report);

/// When it goes out of scope (declare it after the store), and the tool runs as its own process,
/// leaves the store's cache to the operating system instead of freeing it entry by entry: the
/// store itself is still closed as usual (a Kafka producer still flushes). In-process callers
/// such as tests free everything.
class CacheLeftAtExit {
 public:
  CacheLeftAtExit(const Io& io, actionstate::LogStore* store) : exits_after_(io.exits_after), store_(store) {}
  ~CacheLeftAtExit() {
    if (exits_after_ && store_ != nullptr) store_->abandon_cache();
  }
  CacheLeftAtExit(const CacheLeftAtExit&) = delete;
  CacheLeftAtExit& operator=(const CacheLeftAtExit&) = delete;

 private:
  bool exits_after_;
  actionstate::LogStore* store_;
};

}  // namespace aftk::cli
