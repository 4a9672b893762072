// SPDX-License-Identifier: Apache-2.0
// Opening the store a command works on.
#include "aftk/cli/store_source.h"

#include <algorithm>

#include <fmt/format.h>

#include "aftk/actionstate/file_store.h"
#include "aftk/cli/tool.h"
#include "aftk/kafka/store.h"

namespace aftk::cli {

void add_store_source(CLI::App& app, StoreSource& source) {
  app.add_option("FILE", source.file, "Topic-dump file (the embedded default store)");
  app.add_option("-t,--topic", source.topic, "Read the Kafka topic instead (kafkaActionStateTopic)");
  add_kafka_options(app, source.kafka);
  app.add_option("--partitions", source.partitions, "Partitions of the topic a dump stands for")
      ->default_val(64)
      ->check(CLI::Range(1, 100000));
}

std::string check_store_source(const StoreSource& source) {
  if (source.file.empty() == source.topic.empty())
    return "give a topic-dump FILE or a Kafka topic with -t, not both and not neither";
  if (!source.is_kafka() &&
      (!source.kafka.brokers.empty() || !source.kafka.overrides.empty() || !source.kafka.files.empty()))
    return "Kafka settings (-b, -X, -F) need -t TOPIC; a dump FILE takes none";
  return {};
}

std::optional<int> handle_store_args(const StoreSource& source, const Io& io) {
  if (auto rc = handle_kafka_args(source.kafka, io)) return rc;
  if (const auto why = check_store_source(source); !why.empty()) {
    error(io, why);
    return kExitUsage;
  }
  return std::nullopt;
}

std::string StoreSource::describe() const {
  if (!is_kafka()) return fmt::format("'{}'", file);
  return fmt::format("topic '{}'", topic);
}

std::string problem_text(const StoreSource& source, const Problem& problem) {
  const Error& e = problem.error;
  if (!source.is_kafka() && problem.line > 0 && problem.partition >= 0 &&
      e.where.rfind("partition ", 0) == 0)
    return fmt::format("{}:{} ({}): {}", source.file, problem.line, e.where, e.message);
  if (e.where.empty()) return e.message;
  return fmt::format("{}: {}", e.where, e.message);
}

std::vector<const Problem*> ordered_problems(const actionstate::RebuildReport& report) {
  std::vector<const Problem*> all;
  all.reserve(report.unreadable.size() + report.problems.size());
  for (const auto& p : report.unreadable) all.push_back(&p);
  for (const auto& p : report.problems) all.push_back(&p);
  // Lines are 0 for a topic, so this keeps a topic's order as it is.
  std::stable_sort(all.begin(), all.end(),
                   [](const Problem* a, const Problem* b) { return a->line < b->line; });
  return all;
}

Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source,
                                                          StoreAccess access) {
  const bool create = access == StoreAccess::kCreate;
  if (source.is_kafka()) {
    AFTK_TRY_ASSIGN(kafka::ClientConfig config, resolve_kafka(source.kafka));
    kafka::StoreOptions o;
    o.topic = source.topic;
    o.num_partitions = source.partitions;
    o.create_topic = create;
    // Readers and pruners must work on any topic (open notes it); a workload's own topic must
    // be compacted, or every put grows it.
    o.require_compaction = create;
    o.should_stop = [] { return interrupted(); };
    AFTK_TRY_ASSIGN(auto store, kafka::KafkaActionStateStore::open(config, std::move(o)));
    return std::unique_ptr<actionstate::LogStore>(std::move(store));
  }
  actionstate::FileStoreOptions o;
  o.num_partitions = source.partitions;
  o.create = create;
  o.read_only = access == StoreAccess::kRead;
  AFTK_TRY_ASSIGN(auto store, actionstate::FileStore::open(source.file, o));
  return std::unique_ptr<actionstate::LogStore>(std::move(store));
}

Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source, bool read_only) {
  return open_store(source, read_only ? StoreAccess::kRead : StoreAccess::kWrite);
}

}  // namespace aftk::cli
