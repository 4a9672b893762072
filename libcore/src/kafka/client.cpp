// SPDX-License-Identifier: Apache-2.0
// librdkafka helpers: handles, topic admin, offsets and exact per-partition reads.
#include "aftk/kafka/client.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

namespace aftk::kafka {
namespace {

int ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, 1 << 30));
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const noexcept { rd_kafka_event_destroy(e); }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter>;
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const noexcept { rd_kafka_topic_destroy(t); }
};
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

// A numeric setting of a handle as librdkafka resolved it (its default when nobody set it).
std::int64_t conf_int(rd_kafka_t* rk, const char* key, std::int64_t fallback) {
  char buf[64];
  size_t size = sizeof buf;
  if (rd_kafka_conf_get(rd_kafka_conf(rk), key, buf, &size) != RD_KAFKA_CONF_OK) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(buf, &end, 10);
  return end != buf ? v : fallback;
}

// libcore does not log: librdkafka's own log lines are dropped unless the user asked for them
// with -X debug=... or -X log_level=..., in which case they go to stderr as librdkafka prints them.
void quiet_log(const rd_kafka_t*, int, const char*, const char*) {}

Result<Handle> make_handle(rd_kafka_type_t type, const ClientConfig& config,
                           const Overrides& overrides,
                           const std::function<void(rd_kafka_conf_t*)>& on_conf) {
  AFTK_TRY_ASSIGN(rd_kafka_conf_t * raw, config.to_rdkafka());
  ConfPtr conf(raw);
  if (!config.get("debug") && !config.get("log_level")) rd_kafka_conf_set_log_cb(conf.get(), quiet_log);
  for (const auto& [k, v] : overrides) AFTK_TRY(set_property(conf.get(), k, v, "aftk"));
  if (on_conf) on_conf(conf.get());
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) {
    return fail(Errc::kKafka, fmt::format("cannot create Kafka {}: {}",
                                          type == RD_KAFKA_PRODUCER ? "producer" : "consumer",
                                          config.redact_secrets(errstr)));
  }
  (void)conf.release();  // rd_kafka_new took it
  return Handle(rk);
}

AdminOptionsPtr admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                              std::chrono::milliseconds timeout) {
  AdminOptionsPtr o(rd_kafka_AdminOptions_new(rk, op));
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(o.get(), ms(timeout), errstr, sizeof errstr);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(o.get(), ms(timeout), errstr, sizeof errstr);
  }
  return o;
}

// Waits for the admin result event of one request on `q`.
Result<EventPtr> admin_wait(rd_kafka_queue_t* q, std::chrono::milliseconds timeout,
                            std::string_view what) {
  EventPtr ev(rd_kafka_queue_poll(q, ms(timeout) + 1000));
  if (!ev) return fail(Errc::kTimeout, fmt::format("{}: no answer within {} ms", what, timeout.count()));
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Error e = kafka_error(rd_kafka_event_error(ev.get()), what);
    e.message += fmt::format(" ({})", rd_kafka_event_error_string(ev.get()));
    return fail(std::move(e));
  }
  return ev;
}

}  // namespace

Error kafka_error(int rd_err, std::string_view what, std::string where, bool retriable) {
  auto err = static_cast<rd_kafka_resp_err_t>(rd_err);
  Error e;
  e.code = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? Errc::kTimeout : Errc::kKafka;
  e.message = fmt::format("{}: {} ({})", what, rd_kafka_err2str(err), rd_kafka_err2name(err));
  e.where = std::move(where);
  e.kafka_code = rd_err;
  e.kafka_name = rd_kafka_err2name(err);
  e.fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  e.retriable = retriable && !e.fatal;
  return e;
}

Error kafka_error(rd_kafka_s* rk, int rd_err, std::string_view what, std::string where,
                  bool retriable) {
  char reason[512] = "";
  const rd_kafka_resp_err_t underlying =
      rk != nullptr ? rd_kafka_fatal_error(rk, reason, sizeof reason) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (underlying == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_error(rd_err, what, std::move(where), retriable);
  }
  Error e = kafka_error(underlying, what, std::move(where), false);
  e.message = fmt::format("{}: {} ({})", what, reason, rd_kafka_err2name(underlying));
  e.fatal = true;
  return e;
}

void HandleDeleter::operator()(rd_kafka_s* rk) const noexcept {
  if (rk != nullptr) rd_kafka_destroy(rk);
}

Result<Handle> make_producer(const ClientConfig& config, const Overrides& overrides,
                             const std::function<void(rd_kafka_conf_s*)>& on_conf) {
  return make_handle(RD_KAFKA_PRODUCER, config, overrides, on_conf);
}

Result<Handle> make_reader(const ClientConfig& config, const Overrides& overrides) {
  Overrides all = {
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"allow.auto.create.topics", "false"},
      // Upstream reads with Java's default read_uncommitted; read_committed would also stall at
      // the last stable offset when a writer left a transaction open.
      {"isolation.level", "read_uncommitted"},
      {"auto.offset.reset", "error"},
  };
  all.insert(all.end(), overrides.begin(), overrides.end());
  return make_handle(RD_KAFKA_CONSUMER, config, all, {});
}

Result<TopicInfo> describe_topic(rd_kafka_s* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout) {
  TopicPtr rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt.get(), &md, ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fail(kafka_error(err, fmt::format("cannot read metadata of topic '{}'", topic), {},
                            err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(
      md, rd_kafka_metadata_destroy);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      return fail(Errc::kNotFound, fmt::format("topic '{}' does not exist", topic));
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(kafka_error(t.err, fmt::format("cannot read metadata of topic '{}'", topic)));
    }
    return TopicInfo{topic, t.partition_cnt};
  }
  return fail(Errc::kNotFound, fmt::format("topic '{}' does not exist", topic));
}

Status create_topic(rd_kafka_s* rk, const std::string& topic, std::int32_t partitions,
                    std::int32_t replication_factor,
                    const std::vector<std::pair<std::string, std::string>>& configs,
                    std::chrono::milliseconds timeout) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, errstr, sizeof errstr);
  if (nt == nullptr) {
    return fail(Errc::kInvalidArgument, fmt::format("cannot create topic '{}': {}", topic, errstr));
  }
  std::unique_ptr<rd_kafka_NewTopic_t, void (*)(rd_kafka_NewTopic_t*)> guard(nt, rd_kafka_NewTopic_destroy);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  QueuePtr q(rd_kafka_queue_new(rk));
  auto opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  rd_kafka_CreateTopics(rk, &nt, 1, opts.get(), q.get());
  std::string what = fmt::format("cannot create topic '{}'", topic);
  AFTK_TRY_ASSIGN(EventPtr ev, admin_wait(q.get(), timeout, what));
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    Error e = kafka_error(err, what);
    if (const char* s = rd_kafka_topic_result_error_string(results[i]); s != nullptr && *s) {
      e.message += fmt::format(": {}", s);
    }
    return fail(std::move(e));
  }
  return {};
}

Result<std::map<std::string, std::string>> topic_configs(rd_kafka_s* rk, const std::string& topic,
                                                         std::chrono::milliseconds timeout) {
  rd_kafka_ConfigResource_t* cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  std::unique_ptr<rd_kafka_ConfigResource_t, void (*)(rd_kafka_ConfigResource_t*)> guard(
      cr, rd_kafka_ConfigResource_destroy);
  QueuePtr q(rd_kafka_queue_new(rk));
  auto opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  rd_kafka_DescribeConfigs(rk, &cr, 1, opts.get(), q.get());
  std::string what = fmt::format("cannot describe the configuration of topic '{}'", topic);
  AFTK_TRY_ASSIGN(EventPtr ev, admin_wait(q.get(), timeout, what));
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev.get());
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(res, &n);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(rs[i]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(kafka_error(err, what));
    }
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &cnt);
    for (size_t j = 0; j < cnt; ++j) {
      const char* v = rd_kafka_ConfigEntry_value(entries[j]);
      out[rd_kafka_ConfigEntry_name(entries[j])] = v != nullptr ? v : "";
    }
  }
  return out;
}

Result<std::map<std::int32_t, std::int64_t>> delete_records(
    rd_kafka_s* rk, const std::string& topic, const std::map<std::int32_t, std::int64_t>& before,
    std::chrono::milliseconds timeout) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(before.size())));
  for (const auto& [p, o] : before)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = o;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(list.get());
  std::unique_ptr<rd_kafka_DeleteRecords_t, void (*)(rd_kafka_DeleteRecords_t*)> guard(
      del, rd_kafka_DeleteRecords_destroy);
  QueuePtr q(rd_kafka_queue_new(rk));
  auto opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout);
  char errstr[256];
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), ms(timeout), errstr, sizeof errstr);
  rd_kafka_DeleteRecords(rk, &del, 1, opts.get(), q.get());
  const std::string what = fmt::format("cannot delete records of topic '{}'", topic);
  AFTK_TRY_ASSIGN(EventPtr ev, admin_wait(q.get(), timeout, what));
  const rd_kafka_DeleteRecords_result_t* res = rd_kafka_event_DeleteRecords_result(ev.get());
  const rd_kafka_topic_partition_list_t* out = rd_kafka_DeleteRecords_result_offsets(res);
  std::map<std::int32_t, std::int64_t> low;
  for (int i = 0; out != nullptr && i < out->cnt; ++i) {
    const auto& e = out->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail(kafka_error(e.err, what,
                              fmt::format("partition {} offset {}", e.partition,
                                          before.count(e.partition) ? before.at(e.partition) : -1),
                              is_retriable(e.err)));
    low[e.partition] = e.offset;
  }
  return low;
}

bool is_retriable(int rd_err) {
  switch (static_cast<rd_kafka_resp_err_t>(rd_err)) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:  // metadata lagging a creation
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
      return true;
    default:
      return false;
  }
}

Result<Watermarks> watermarks(rd_kafka_s* rk, const std::string& topic, std::int32_t partitions,
                              std::chrono::milliseconds timeout) {
  Watermarks w;
  w.low.resize(static_cast<size_t>(partitions));
  w.high.resize(static_cast<size_t>(partitions));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // ListOffsets by logical timestamp: -2 earliest, -1 latest; one batched request per leader.
  // Retriable errors (a leader moving, a topic just created) are retried until the deadline.
  for (int pass = 0; pass < 2; ++pass) {
    for (int attempt = 0;; ++attempt) {
      PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
      for (std::int32_t p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = pass == 0 ? -2 : -1;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::optional<Error> error;
      rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list.get(), std::max(1, ms(left)));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = kafka_error(err, fmt::format("cannot list offsets of topic '{}'", topic), {},
                            is_retriable(err) || err == RD_KAFKA_RESP_ERR__TIMED_OUT);
      } else {
        for (int i = 0; i < list->cnt && !error; ++i) {
          const auto& e = list->elems[i];
          if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error = kafka_error(e.err, fmt::format("cannot list offsets of topic '{}'", topic),
                                fmt::format("partition {}", e.partition), is_retriable(e.err));
          } else {
            (pass == 0 ? w.low : w.high)[static_cast<size_t>(e.partition)] = e.offset;
          }
        }
      }
      if (!error) break;
      if (!error->retriable || std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline) {
        if (attempt > 0) error->message += fmt::format(" (after {} retries)", attempt);
        return fail(std::move(*error));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * (attempt + 1), 1000)));
    }
  }
  return w;
}

namespace {

// The settings a reader needs on top of the user's for an exact read on `workers` threads.
Overrides read_settings(const ClientConfig& config, const ReadOptions& options, unsigned workers) {
  // Each partition's fetch queue is forwarded to its worker's queue, and librdkafka measures a
  // forwarded queue by the queue it forwards to, so queued.max.messages.kbytes and
  // queued.min.messages cap each worker's queue, not each partition's: the budget is split
  // over the workers.
  Overrides prefetch;
  const std::int64_t budget = config.get("queued.max.messages.kbytes") ? 0 : options.prefetch_budget_kb;
  if (budget > 0) {
    const std::int64_t per = std::max<std::int64_t>(1024, budget / static_cast<std::int64_t>(workers));
    prefetch.emplace_back("queued.max.messages.kbytes", std::to_string(per));
  }
  // Fetch answers of at most 16 MiB rather than librdkafka's 50 MiB, and with a budget at most
  // half of it: an answer's buffer lives until the last of its records is consumed, and as an
  // answer carries records of several workers' partitions, a queue's few records can keep many
  // answers alive. Buffers of this size stay in the heap where they are reused (see
  // cli::tune_allocator) instead of being mapped afresh each time. The broker still sends a
  // whole record batch when a single one is larger.
  if (!config.get("fetch.max.bytes")) {
    std::int64_t fetch_max = 16 << 20;
    if (budget > 0) fetch_max = std::clamp<std::int64_t>(budget * 1024 / 2, 1 << 20, fetch_max);
    if (auto m = config.get("message.max.bytes")) {  // librdkafka wants fetch.max.bytes >= it
      fetch_max = std::max<std::int64_t>(fetch_max, std::strtoll(m->c_str(), nullptr, 10));
    }
    prefetch.emplace_back("fetch.max.bytes", std::to_string(fetch_max));
  }
  // Every offset asked for exists already, so a broker never has anything to wait for. When the
  // only partitions librdkafka may fetch are ones at their log end (their records read, the
  // others' queues full), the broker holds the fetch for fetch.wait.max.ms (500 ms) hoping for
  // more, and no other fetch can go out to it meanwhile: the workers starve. 10 ms bounds that.
  if (!config.get("fetch.wait.max.ms")) prefetch.emplace_back("fetch.wait.max.ms", "10");
  return prefetch;
}

// Which worker reads which partition, and each partition's progress. Indexed by partition.
struct Assignment {
  std::vector<std::int64_t> end;   // stop before this offset; -1: not read
  std::vector<std::int64_t> next;  // the next offset expected (for messages)
  std::vector<unsigned> worker_of;
  std::vector<std::vector<std::int32_t>> parts_of;  // per worker

  Assignment(const std::vector<ReadRange>& todo, unsigned workers) : parts_of(workers) {
    std::int32_t max_p = 0;
    for (const auto& r : todo) max_p = std::max(max_p, r.partition);
    const size_t n = static_cast<size_t>(max_p) + 1;
    end.assign(n, -1);
    next.assign(n, -1);
    worker_of.assign(n, 0);
    for (size_t i = 0; i < todo.size(); ++i) {
      const auto& r = todo[i];
      const auto w = static_cast<unsigned>(i % workers);
      const auto p = static_cast<size_t>(r.partition);
      end[p] = r.end;
      next[p] = r.start;
      worker_of[p] = w;
      parts_of[w].push_back(r.partition);
    }
  }
  bool reads(std::int32_t partition) const {
    return partition >= 0 && static_cast<size_t>(partition) < end.size() &&
           end[static_cast<size_t>(partition)] >= 0;
  }
};

// librdkafka 2.0 decides whether to fetch a partition only when its broker thread wakes up:
// after a fetch answer, an operation sent to it, or a second of sleep. Once every queue it
// feeds is over its cap no fetch is outstanding, and consuming from a queue wakes nothing, so it
// would sleep out that second with the workers idle (fetch.queue.backoff.ms came in 2.1). Any
// request sent to the broker wakes it up and makes it decide afresh, without touching the
// partitions' fetch state (pausing or seeking would drop what is queued). So a worker whose
// queue came near its cap asks, once it has drained that queue to half, for a cheap request:
// the latest offsets of its partitions, one ListOffsets per leader. A thread of its own sends
// it so that no worker waits for the answer, which is not needed.
class WakeUps {
 public:
  WakeUps(rd_kafka_t* rk, const std::string& topic, const Assignment& assignment)
      : rk_(rk), topic_(topic), assignment_(assignment),
        wanted_(assignment.parts_of.size(), 0), thread_([this] { loop(); }) {}
  ~WakeUps() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  WakeUps(const WakeUps&) = delete;
  WakeUps& operator=(const WakeUps&) = delete;

  // Asks for a request that wakes the broker threads serving worker `w`'s partitions.
  void request(unsigned w) {
    {
      std::lock_guard lock(mu_);
      wanted_[w] = 1;
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] {
        return quit_ || std::find(wanted_.begin(), wanted_.end(), 1) != wanted_.end();
      });
      if (quit_) return;
      PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
      for (unsigned w = 0; w < wanted_.size(); ++w) {
        if (!wanted_[w]) continue;
        wanted_[w] = 0;
        for (auto p : assignment_.parts_of[w])
          rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
      }
      lock.unlock();
      rd_kafka_offsets_for_times(rk_, list.get(), 500);  // only the request matters
      lock.lock();
    }
  }

  rd_kafka_t* rk_;
  const std::string& topic_;
  const Assignment& assignment_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<char> wanted_;
  bool quit_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Watches one worker's queue against librdkafka's caps and says when to ask for a wake-up.
class QueueWatch {
 public:
  QueueWatch(std::int64_t cap_bytes, std::int64_t cap_msgs) : cap_bytes_(cap_bytes), cap_msgs_(cap_msgs) {}
  // After a batch of `n` messages and `bytes` payload bytes, with `len` messages still queued;
  // true when the queue, once near its cap, has drained to half.
  bool after_batch(std::int64_t n, std::int64_t bytes, std::int64_t len) {
    // librdkafka counts a queue's size in payload bytes and has no call that tells it, so it is
    // estimated from the length and the mean size so far. A queue that reached its cap holds,
    // after one batch, at least the cap less that batch; three quarters leaves room for the
    // estimate's error. Once such a queue is down to half (at once when a batch takes more than
    // half the cap), librdkafka may be asleep.
    taken_bytes_ += bytes;
    taken_msgs_ += n;
    const std::int64_t est = len * (taken_bytes_ / std::max<std::int64_t>(1, taken_msgs_));
    if (4 * (est + bytes) >= 3 * cap_bytes_ || 4 * (len + n) >= 3 * cap_msgs_) near_cap_ = true;
    if (near_cap_ && 2 * est <= cap_bytes_ && 2 * len <= cap_msgs_) {
      near_cap_ = false;
      return true;
    }
    return false;
  }

 private:
  std::int64_t cap_bytes_, cap_msgs_;
  std::int64_t taken_bytes_ = 0, taken_msgs_ = 0;
  bool near_cap_ = false;
};

// One exact read: the shared state of its workers, and the loop each of them runs.
class ExactRead {
 public:
  ExactRead(rd_kafka_t* rk, const std::string& topic, const ReadOptions& options,
            Assignment& assignment, std::vector<QueuePtr>& queues, WakeUps& wake_ups,
            const std::function<Status(unsigned, const RecordView&)>& on_record)
      : rk_(rk), topic_(topic), options_(options), a_(assignment), queues_(queues),
        wake_ups_(wake_ups), on_record_(on_record),
        cap_bytes_(conf_int(rk, "queued.max.messages.kbytes", 65536) * 1024),
        cap_msgs_(conf_int(rk, "queued.min.messages", 100000)) {}

  // Reads worker `w`'s partitions to their ends, or until another worker fails.
  void work(unsigned w) {
    size_t remaining = a_.parts_of[w].size();
    std::vector<rd_kafka_message_t*> batch(1024);
    std::vector<char> done(a_.end.size(), 0);
    QueueWatch watch(cap_bytes_, cap_msgs_);
    while (remaining > 0 && !stop_.load(std::memory_order_relaxed)) {
      if (options_.should_stop && options_.should_stop()) {
        set_error(Error{Errc::kInterrupted, "interrupted while reading the topic", {}, false});
        break;
      }
      // consume_batch_queue blocks until the batch is full or the timeout passes, so take what
      // is queued without waiting, and block only for the first message when nothing is.
      ssize_t n = rd_kafka_consume_batch_queue(queues_[w].get(), 0, batch.data(), batch.size());
      if (n == 0) {
        if (rd_kafka_message_t* m = rd_kafka_consume_queue(queues_[w].get(), 100); m != nullptr) {
          batch[0] = m;
          n = 1;
        }
      }
      if (n < 0) {
        set_error(kafka_error(rd_kafka_last_error(), fmt::format("cannot read topic '{}'", topic_)));
        break;
      }
      bool progressed = false;
      std::int64_t batch_bytes = 0;
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
        batch_bytes += static_cast<std::int64_t>(m->len);
        progressed |= take(w, m, done, remaining);
        rd_kafka_message_destroy(m);
      }
      if (watch.after_batch(n, batch_bytes, rd_kafka_queue_length(queues_[w].get())))
        wake_ups_.request(w);
      const std::int64_t t = now_ns();
      if (progressed)
        last_progress_.store(t, std::memory_order_relaxed);
      else if (t - last_progress_.load(std::memory_order_relaxed) >
               std::chrono::duration_cast<std::chrono::nanoseconds>(options_.idle_timeout).count())
        set_error(idle_error(w, done));
    }
  }

  std::optional<Error> take_error() { return std::move(first_error_); }

 private:
  // Handles one message of worker `w`; true when a partition advanced.
  bool take(unsigned w, rd_kafka_message_t* m, std::vector<char>& done, size_t& remaining) {
    const auto p = static_cast<size_t>(m->partition);
    const bool known = a_.reads(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The reader is at the log end; a partition whose captured end lies behind it is done
      // even if compaction or transaction markers left its last offsets empty.
      if (!known || done[p] || m->offset < a_.end[p]) return false;
      done[p] = 1;
      --remaining;
      return true;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (ends_read(m->err)) {
        Error e = kafka_error(rk_, m->err, fmt::format("cannot read topic '{}'", topic_),
                              fmt::format("partition {} offset {}", m->partition,
                                          known ? a_.next[p] : m->offset));
        if (m->payload != nullptr && m->len > 0)
          e.message += fmt::format(": {}", std::string_view(static_cast<const char*>(m->payload), m->len));
        set_error(std::move(e));
      }
      // Otherwise transient (transport, leader change): librdkafka retries; idle_timeout bounds it.
      return false;
    }
    if (!known || done[p]) return false;
    if (m->offset < a_.end[p]) {
      RecordView rv;
      rv.partition = m->partition;
      rv.offset = m->offset;
      rd_kafka_timestamp_type_t tstype;
      rv.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
      rv.key = m->key != nullptr ? std::string_view(static_cast<const char*>(m->key), m->key_len)
                                 : std::string_view();
      rv.value = static_cast<const char*>(m->payload);
      rv.value_size = m->len;
      if (Status st = on_record_(w, rv); !st) set_error(std::move(st).error());
      a_.next[p] = m->offset + 1;
    }
    if (m->offset + 1 >= a_.end[p]) {
      done[p] = 1;
      --remaining;
    }
    return true;
  }

  // Errors after which a partition cannot be read on: the offset is gone, the topic is gone or
  // forbidden, or the handle failed for good.
  static bool ends_read(rd_kafka_resp_err_t err) {
    switch (err) {
      case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR__FATAL:
        return true;
      default:
        return false;
    }
  }

  // The TIMEOUT error naming (up to eight of) worker `w`'s partitions that are not done.
  Error idle_error(unsigned w, const std::vector<char>& done) const {
    std::string which;
    size_t listed = 0;
    for (auto part : a_.parts_of[w]) {
      const auto p = static_cast<size_t>(part);
      if (done[p]) continue;
      if (listed++ < 8)
        which += fmt::format("{}{} (at {} of {})", which.empty() ? "" : ", ", part, a_.next[p], a_.end[p]);
    }
    if (listed > 8) which += fmt::format(" and {} more", listed - 8);
    return Error{Errc::kTimeout,
                 fmt::format("reading topic '{}' made no progress for {} ms", topic_,
                             options_.idle_timeout.count()),
                 "partitions " + which, true};
  }

  void set_error(Error e) {
    std::lock_guard lock(err_mu_);
    if (!first_error_) first_error_ = std::move(e);
    stop_ = true;
  }

  rd_kafka_t* rk_;  // asked for its fatal error, when a read ends with one
  const std::string& topic_;
  const ReadOptions& options_;
  Assignment& a_;
  std::vector<QueuePtr>& queues_;
  WakeUps& wake_ups_;
  const std::function<Status(unsigned, const RecordView&)>& on_record_;
  const std::int64_t cap_bytes_, cap_msgs_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> last_progress_{now_ns()};
  std::mutex err_mu_;
  std::optional<Error> first_error_;
};

}  // namespace

Status read_exact(const ClientConfig& config, const std::string& topic,
                  const std::vector<ReadRange>& ranges, const ReadOptions& options,
                  const std::function<Status(unsigned, const RecordView&)>& on_record) {
  std::vector<ReadRange> todo;
  for (const auto& r : ranges)
    if (r.start < r.end) todo.push_back(r);
  if (todo.empty()) return {};
  const unsigned workers = std::max(1u, std::min<unsigned>(options.workers, static_cast<unsigned>(todo.size())));
  AFTK_TRY_ASSIGN(Handle rk, make_reader(config, read_settings(config, options, workers)));
  TopicPtr rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  if (!rkt) return fail(kafka_error(rd_kafka_last_error(), fmt::format("cannot open topic '{}'", topic)));

  Assignment assignment(todo, workers);
  std::vector<QueuePtr> queues;
  for (unsigned w = 0; w < workers; ++w) queues.emplace_back(rd_kafka_queue_new(rk.get()));
  std::vector<std::int32_t> started;
  const auto stop_all = [&] {
    for (auto p : started) rd_kafka_consume_stop(rkt.get(), p);
  };
  for (const auto& r : todo) {
    rd_kafka_queue_t* q = queues[assignment.worker_of[static_cast<size_t>(r.partition)]].get();
    if (rd_kafka_consume_start_queue(rkt.get(), r.partition, r.start, q) != 0) {
      Error e = kafka_error(rd_kafka_last_error(), fmt::format("cannot start reading topic '{}'", topic),
                            fmt::format("partition {} offset {}", r.partition, r.start));
      stop_all();
      return fail(std::move(e));
    }
    started.push_back(r.partition);
  }

  std::optional<Error> error;
  {
    WakeUps wake_ups(rk.get(), topic, assignment);
    ExactRead read(rk.get(), topic, options, assignment, queues, wake_ups, on_record);
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; ++w) threads.emplace_back([&read, w] { read.work(w); });
    read.work(0);
    for (auto& t : threads) t.join();
    error = read.take_error();
  }
  stop_all();
  if (error) return fail(std::move(*error));
  return {};
}

}  // namespace aftk::kafka
