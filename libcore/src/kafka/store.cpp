// SPDX-License-Identifier: Apache-2.0
// KafkaActionStateStore: verify-or-create the topic, acknowledged puts, exact parallel rebuild.
#include "aftk/kafka/store.h"

#include "aftk/kafka/topic_id.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/format.h>

namespace aftk::kafka {

using actionstate::OffsetMap;
using actionstate::RecordPosition;
using actionstate::TopicRecord;

namespace {

static_assert(RD_KAFKA_RESP_ERR__IN_PROGRESS == -178, "Delivery::err starts as __IN_PROGRESS");

// Delivery reports are served by rd_kafka_poll/flush on the thread calling put, so the
// pending table needs no lock. A report for a put that already gave up finds no entry.
void store_on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* pending = static_cast<std::unordered_map<std::uint64_t, KafkaActionStateStore::Delivery>*>(opaque);
  auto it = pending->find(reinterpret_cast<std::uintptr_t>(m->_private));
  if (it == pending->end()) return;
  it->second.err = m->err;
  it->second.partition = m->partition;
  it->second.offset = m->offset;
}

bool contains_policy(std::string_view policy, std::string_view want) {
  size_t start = 0;
  while (start <= policy.size()) {
    size_t comma = policy.find(',', start);
    std::string_view item = policy.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == want) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> topic_configs_for(TopicLayout layout) {
  if (layout == TopicLayout::kV04) {
    return {{"cleanup.policy", "compact,delete"}, {"retention.ms", "-1"}, {"retention.bytes", "-1"}};
  }
  return {{"cleanup.policy", "compact"}};
}

KafkaActionStateStore::KafkaActionStateStore(ClientConfig config, StoreOptions options,
                                             std::int32_t partitions)
    : LogStore(partitions), config_(std::move(config)), options_(std::move(options)) {}

KafkaActionStateStore::~KafkaActionStateStore() {
  if (producer_) rd_kafka_flush(producer_.get(), 5000);
}

Result<std::unique_ptr<KafkaActionStateStore>> KafkaActionStateStore::open(const ClientConfig& config,
                                                                           StoreOptions options) {
  if (options.topic.empty()) {
    return fail(Errc::kInvalidArgument, "no action-state topic given (kafkaActionStateTopic)");
  }
  if (options.num_partitions <= 0 || options.replication_factor <= 0) {
    return fail(Errc::kInvalidArgument, "partitions and replication factor must be positive");
  }
  if (config.brokers().empty()) {
    return fail(Errc::kInvalidArgument, "no Kafka brokers given (-b, $AFTK_BROKERS or bootstrap.servers)");
  }
  AFTK_TRY_ASSIGN(Handle admin, make_reader(config));
  std::vector<std::string> notes;
  auto info = describe_topic(admin.get(), options.topic, options.timeout);
  if (!info && info.error().code == Errc::kNotFound && options.create_topic) {
    AFTK_TRY(create_topic(admin.get(), options.topic, options.num_partitions,
                          options.replication_factor, topic_configs_for(options.layout),
                          options.timeout));
    notes.push_back(fmt::format("created topic '{}' with {} partitions", options.topic,
                                options.num_partitions));
    // Metadata may lag the creation for a moment.
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    do {
      info = describe_topic(admin.get(), options.topic, options.timeout);
      if (info && info->partitions > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
  }
  if (!info) return fail(std::move(info).error());
  if (info->partitions != options.num_partitions) {
    notes.push_back(fmt::format("topic '{}' has {} partitions (not {}); records go where the "
                                "partitioner puts them for {}",
                                options.topic, info->partitions, options.num_partitions,
                                info->partitions));
  }
  std::unique_ptr<KafkaActionStateStore> store(
      new KafkaActionStateStore(config, options, info->partitions));
  store->admin_ = std::move(admin);
  store->notes_ = std::move(notes);
  if (auto id = fetch_topic_id(config, options.topic, options.timeout); id) {
    store->topic_id_ = std::move(*id);
  } else {
    store->notes_.push_back(fmt::format("topic id unknown, so only legacy recovery markers can be "
                                        "used: {}", id.error().to_string()));
  }
  if (options.verify_config) {
    AFTK_TRY_ASSIGN(auto configs, topic_configs(store->admin_.get(), options.topic, options.timeout));
    store->cleanup_policy_ = configs.count("cleanup.policy") ? configs["cleanup.policy"] : "";
    if (!contains_policy(store->cleanup_policy_, "compact")) {
      std::string msg = fmt::format(
          "topic '{}' is not compacted (cleanup.policy={}): each put writes a whole state under "
          "its own key, so only compaction keeps the topic bounded; set cleanup.policy=compact",
          options.topic, store->cleanup_policy_);
      if (options.require_compaction) return fail(Errc::kConflict, std::move(msg));
      store->notes_.push_back(std::move(msg));
    }
  }

  return store;
}

// The producer is made on the first write: reading tools (inspect, rebuild, a prune's plan) never
// connect one, so they need no write or idempotent-write rights and start faster.
Status KafkaActionStateStore::ensure_producer() {
  if (producer_) return {};
  ClientConfig pcfg = config_;
  // A put should fail within the store's timeout rather than librdkafka's 5 minutes; the user's
  // own message.timeout.ms still wins.
  if (!pcfg.get("message.timeout.ms") && !pcfg.get("delivery.timeout.ms")) {
    pcfg.set("message.timeout.ms", std::to_string(options_.timeout.count()), "default");
  }
  AFTK_TRY_ASSIGN(producer_, make_producer(pcfg, {{"acks", "all"}, {"enable.idempotence", "true"}},
                                           [&](rd_kafka_conf_t* c) {
                                             rd_kafka_conf_set_dr_msg_cb(c, store_on_delivery);
                                             rd_kafka_conf_set_opaque(c, &pending_);
                                           }));
  return {};
}

Result<RecordPosition> KafkaActionStateStore::append(std::int32_t partition, std::string_view key,
                                                     const std::string* value) {
  AFTK_TRY(ensure_producer());
  const std::uint64_t id = ++next_id_;
  pending_[id] = Delivery{};
  struct Forget {
    std::unordered_map<std::uint64_t, Delivery>& pending;
    std::uint64_t id;
    ~Forget() { pending.erase(id); }
  } forget{pending_, id};
  const auto where = [&] { return fmt::format("partition {} key '{}'", partition, key); };
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    const size_t size = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(payload, size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_poll(producer_.get(), 100);
      continue;
    }
    return fail(kafka_error(err, fmt::format("cannot write to topic '{}'", options_.topic), where()));
  }
  // Like upstream's put(), flush right away; unlike it, look at the outcome.
  rd_kafka_resp_err_t ferr = rd_kafka_flush(producer_.get(), static_cast<int>(options_.timeout.count()));
  const Delivery d = pending_[id];
  if (d.err == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
    // Not acknowledged in time. Purge it so that it cannot land after we reported a failure
    // (an in-flight request may still have reached the broker: the caller should treat the
    // outcome as unknown and retry the same put, which is idempotent at the state level).
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
    Error e = kafka_error(ferr == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__TIMED_OUT : ferr,
                          fmt::format("write to topic '{}' not acknowledged within {} ms",
                                      options_.topic, options_.timeout.count()),
                          where(), true);
    e.code = Errc::kTimeout;
    return fail(std::move(e));
  }
  if (d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A fatal producer error is named with its underlying cause, and marked fatal, not
    // retriable; any other delivery failure may pass on a retry of the same put.
    return fail(kafka_error(producer_.get(), d.err,
                            fmt::format("cannot write to topic '{}'", options_.topic), where(), true));
  }
  return RecordPosition{d.partition, d.offset};
}

Status KafkaActionStateStore::flush() {
  if (!producer_) return {};  // nothing was written
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), static_cast<int>(options_.timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fail(kafka_error(err, fmt::format("cannot flush writes to topic '{}'", options_.topic)));
  }
  return {};
}

Result<actionstate::RecoveryMarker> KafkaActionStateStore::recovery_marker() {
  AFTK_TRY_ASSIGN(OffsetMap end, end_offsets());
  if (options_.layout == TopicLayout::kV03) return actionstate::RecoveryMarker::legacy(std::move(end));
  if (topic_id_.empty()) {
    return fail(Errc::kUnsupported,
                fmt::format("a versioned recovery marker needs the id of topic '{}', which could "
                            "not be read", options_.topic));
  }
  return actionstate::RecoveryMarker{1, options_.topic, topic_id_, std::move(end)};
}

Result<actionstate::LogOffsets> KafkaActionStateStore::offsets() {
  // One ListOffsets request pair (earliest, latest) for every partition.
  AFTK_TRY_ASSIGN(Watermarks w, watermarks(admin_.get(), options_.topic, num_partitions_,
                                           options_.timeout));
  actionstate::LogOffsets o;
  for (std::int32_t p = 0; p < num_partitions_; ++p) {
    o.begin[p] = w.low[static_cast<size_t>(p)];
    o.end[p] = w.high[static_cast<size_t>(p)];
  }
  return o;
}

unsigned KafkaActionStateStore::read_workers() const {
  return options_.read_workers != 0 ? options_.read_workers
                                    : std::max(1u, std::thread::hardware_concurrency());
}

Result<actionstate::RebuildReport> KafkaActionStateStore::rebuild(
    std::span<const actionstate::RecoveryMarker> markers, const actionstate::RebuildOptions& options) {
  if (topic_id_.empty()) {
    for (const auto& m : markers) {
      if (m.versioned()) {
        return fail(Errc::kUnsupported,
                    fmt::format("versioned recovery markers name topic id {}, but this librdkafka "
                                "({}) cannot read topic ids, so the topic cannot be checked for "
                                "having been recreated; convert the markers to the legacy "
                                "offset map to restore without that check",
                                m.topic_id, rd_kafka_version_str()));
      }
    }
  }
  return LogStore::rebuild(markers, options);
}

Status KafkaActionStateStore::scan(std::span<const actionstate::ScanRange> ranges,
                                   unsigned workers, actionstate::ScanSink& sink) {
  std::vector<ReadRange> todo;
  todo.reserve(ranges.size());
  for (const auto& r : ranges)
    if (r.end > r.begin) todo.push_back({r.partition, r.begin, r.end});
  ReadOptions ro;
  ro.workers = std::max(1u, workers);
  ro.idle_timeout = options_.timeout;
  ro.prefetch_budget_kb = options_.prefetch_budget_kb;
  ro.should_stop = options_.should_stop;
  return read_exact(config_, options_.topic, todo, ro, [&](unsigned w, const RecordView& r) -> Status {
    TopicRecord tr;
    tr.partition = r.partition;
    tr.offset = r.offset;
    tr.timestamp = r.timestamp_ms;
    tr.key = r.key;
    if (r.value != nullptr) tr.value = std::string_view(r.value, r.value_size);
    return sink.record(w, tr);
  });
}

}  // namespace aftk::kafka
