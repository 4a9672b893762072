// SPDX-License-Identifier: Apache-2.0
// Against the real broker: topic admin, exact reads (with compaction gaps and transaction
// markers), and the Kafka action-state store.
#include <doctest/doctest.h>

#include <librdkafka/rdkafka.h>

#include <map>
#include <set>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "aftk/kafka/client.h"
#include "broker.h"

using namespace aftk;
using namespace std::chrono_literals;
using aftk::testing::broker_config;

namespace {

struct Seen {
  std::int32_t partition;
  std::int64_t offset;
  std::string key;
  std::optional<std::string> value;
};

std::vector<Seen> read_all(const std::string& topic, const std::vector<kafka::ReadRange>& ranges,
                           unsigned workers = 2) {
  std::mutex mu;
  std::vector<Seen> seen;
  kafka::ReadOptions opt;
  opt.workers = workers;
  opt.idle_timeout = 20s;
  auto st = kafka::read_exact(broker_config(), topic, ranges, opt,
                              [&](unsigned, const kafka::RecordView& r) -> Status {
                                std::lock_guard lock(mu);
                                seen.push_back({r.partition, r.offset, std::string(r.key),
                                                r.value ? std::optional<std::string>(std::string(r.value, r.value_size))
                                                        : std::nullopt});
                                return {};
                              });
  REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  return seen;
}


}  // namespace

TEST_CASE("KafkaClient.creates a compacted topic and reads its config and offsets") {
  auto topic = testing::unique_topic("admin");
  testing::create(topic, 3);
  auto rk = kafka::make_reader(broker_config());
  REQUIRE(rk);
  // Metadata can lag a creation for a moment.
  auto info = kafka::describe_topic(rk->get(), topic, 10s);
  for (int i = 0; i < 100 && !info; ++i) {
    std::this_thread::sleep_for(100ms);
    info = kafka::describe_topic(rk->get(), topic, 10s);
  }
  REQUIRE_MESSAGE(info, (info ? "" : info.error().to_string()));
  CHECK(info->partitions == 3);
  auto cfg = kafka::topic_configs(rk->get(), topic, 10s);
  REQUIRE(cfg);
  CHECK(cfg->at("cleanup.policy") == "compact");
  auto missing = kafka::describe_topic(rk->get(), topic + "-missing", 10s);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
  // Creating it again is not an error (a concurrent creator won).
  CHECK(kafka::create_topic(rk->get(), topic, 3, 1, {}, 10s));

  testing::produce(topic, {{0, "a", "1"}, {0, "b", "2"}, {2, "c", "3"}});
  auto w = kafka::watermarks(rk->get(), topic, 3, 10s);
  REQUIRE(w);
  CHECK(w->low == std::vector<std::int64_t>{0, 0, 0});
  CHECK(w->high == std::vector<std::int64_t>{2, 0, 1});
}

TEST_CASE("KafkaClient.read_exact stops at the captured end offsets") {
  auto topic = testing::unique_topic("exact");
  testing::create(topic, 4);
  std::vector<testing::RawRecord> first;
  for (int i = 0; i < 200; ++i) first.push_back({i % 4, fmt::format("k{}", i), fmt::format("v{}", i)});
  first.push_back({1, "tomb", std::nullopt});
  testing::produce(topic, first);
  auto rk = kafka::make_reader(broker_config());
  REQUIRE(rk);
  auto w = kafka::watermarks(rk->get(), topic, 4, 10s);
  REQUIRE(w);
  // Records written after the capture are not read.
  testing::produce(topic, {{0, "late", "x"}, {3, "late", "y"}});
  std::vector<kafka::ReadRange> ranges;
  for (int p = 0; p < 4; ++p) ranges.push_back({p, 0, w->high[static_cast<size_t>(p)]});
  SUBCASE("two workers") {
    auto seen = read_all(topic, ranges, 2);
    CHECK(seen.size() == 201);
    std::map<int, std::int64_t> last;
    bool tomb = false;
    for (const auto& s : seen) {
      CHECK(s.key != "late");
      // Per partition in offset order with no duplicates.
      if (last.count(s.partition)) CHECK(s.offset == last[s.partition] + 1);
      last[s.partition] = s.offset;
      if (s.key == "tomb") tomb = !s.value.has_value();
    }
    CHECK(tomb);
  }
  SUBCASE("start in the middle, one worker") {
    ranges = {{2, 10, w->high[2]}};
    auto seen = read_all(topic, ranges, 1);
    CHECK(seen.size() == static_cast<size_t>(w->high[2] - 10));
    CHECK(seen.front().offset == 10);
  }
  SUBCASE("an empty range reads nothing") {
    CHECK(read_all(topic, {{0, 5, 5}}).empty());
  }
}

TEST_CASE("KafkaClient.read_exact ends partitions whose last offsets are transaction markers") {
  auto topic = testing::unique_topic("txn");
  testing::create(topic, 2);
  // A transactional producer: every commit leaves a control record after the data.
  auto rk = kafka::make_producer(broker_config(), {{"transactional.id", topic}});
  REQUIRE(rk);
  char errstr[256];
  rd_kafka_error_t* e = rd_kafka_init_transactions(rk->get(), 30000);
  REQUIRE_MESSAGE(e == nullptr, (e ? rd_kafka_error_string(e) : ""));
  for (int round = 0; round < 2; ++round) {
    REQUIRE(rd_kafka_begin_transaction(rk->get()) == nullptr);
    for (int i = 0; i < 5; ++i) {
      std::string key = fmt::format("t{}-{}", round, i);
      REQUIRE(rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE((void*)"v", 1),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == 0);
    }
    e = rd_kafka_commit_transaction(rk->get(), 30000);
    REQUIRE_MESSAGE(e == nullptr, (e ? rd_kafka_error_string(e) : ""));
  }
  (void)errstr;
  auto reader = kafka::make_reader(broker_config());
  REQUIRE(reader);
  auto w = kafka::watermarks(reader->get(), topic, 2, 10s);
  REQUIRE(w);
  CHECK(w->high[0] == 12);  // 10 records and 2 commit markers
  auto seen = read_all(topic, {{0, 0, w->high[0]}, {1, 0, w->high[1]}});
  CHECK(seen.size() == 10);
  CHECK(seen.back().offset == 10);  // offset 5 and 11 are markers
}

TEST_CASE("KafkaClient.read_exact with a read-ahead cap far below the topic reads every record once") {
  // 4 partitions of 2000 records of ~2 KB: 16 MB, against queues capped at 1 MiB (by the
  // budget) or at 64 messages (queued.min.messages). librdkafka stops fetching whenever the
  // queues are full, and the reader must get it going again every time without losing,
  // repeating or reordering anything.
  auto topic = testing::unique_topic("capped");
  constexpr int kPartitions = 4, kPerPartition = 2000;
  testing::create(topic, kPartitions);
  auto value_of = [](int p, int i) {
    std::string v = fmt::format("p{}-r{}-", p, i);
    v.resize(2000, static_cast<char>('a' + (p * 7 + i) % 26));
    return v;
  };
  std::vector<testing::RawRecord> records;
  for (int i = 0; i < kPerPartition; ++i) {
    for (int p = 0; p < kPartitions; ++p) records.push_back({p, fmt::format("k{}-{}", p, i), value_of(p, i)});
  }
  testing::produce(topic, records);
  std::vector<kafka::ReadRange> ranges;
  for (int p = 0; p < kPartitions; ++p) ranges.push_back({p, 0, kPerPartition});

  kafka::ClientConfig config = broker_config();
  kafka::ReadOptions opt;
  opt.workers = 2;
  opt.idle_timeout = 60s;
  SUBCASE("a budget of 2 MiB over two workers") { opt.prefetch_budget_kb = 2048; }
  SUBCASE("the user's own queued.max.messages.kbytes, with few messages a queue") {
    opt.prefetch_budget_kb = 1 << 20;  // loses to the user's setting
    config.set("queued.max.messages.kbytes", "1024");
    config.set("queued.min.messages", "64");
  }
  std::mutex mu;
  std::vector<std::int64_t> next(kPartitions, 0);
  std::size_t bad = 0, total = 0;
  auto st = kafka::read_exact(config, topic, ranges, opt, [&](unsigned, const kafka::RecordView& r) -> Status {
    std::lock_guard lock(mu);
    ++total;
    const auto p = static_cast<size_t>(r.partition);
    // Exactly the next offset of its partition, with the value written there.
    if (p >= next.size() || r.offset != next[p] || r.value == nullptr ||
        std::string_view(r.value, r.value_size) != value_of(r.partition, static_cast<int>(r.offset)) ||
        r.key != fmt::format("k{}-{}", r.partition, r.offset)) {
      ++bad;
    } else {
      ++next[p];
    }
    return {};
  });
  REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
  CHECK(bad == 0);
  CHECK(total == static_cast<size_t>(kPartitions * kPerPartition));
  CHECK(next == std::vector<std::int64_t>(kPartitions, kPerPartition));
}

TEST_CASE("KafkaClient.read_exact names the partition when an offset is out of range") {
  auto topic = testing::unique_topic("range");
  testing::create(topic, 1);
  testing::produce(topic, {{0, "a", "1"}});
  kafka::ReadOptions opt;
  opt.idle_timeout = 20s;
  auto st = kafka::read_exact(broker_config(), topic, {{0, 5, 9}}, opt,
                              [](unsigned, const kafka::RecordView&) -> Status { return {}; });
  REQUIRE_FALSE(st);
  CHECK(st.error().where.find("partition 0") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// KafkaActionStateStore (upstream's KafkaActionStateStoreTest scenarios, on a real broker)

#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/serde.h"
#include "aftk/kafka/store.h"

namespace {

using actionstate::ActionState;
using actionstate::StateKey;

const std::string kAction = actionstate::name_uuid_from_bytes("process");
const std::string kOtherAction = actionstate::name_uuid_from_bytes("other");

StateKey key_for(const std::string& business_key, std::int64_t seq, const std::string& action = kAction) {
  return StateKey::v03(business_key, seq,
                       actionstate::name_uuid_from_bytes(fmt::format("{{\"input\":\"{}-{}\"}}", business_key, seq)),
                       action);
}

ActionState state_for(const std::string& input, int calls = 0, bool completed = false) {
  actionstate::Event e;
  e.class_name = std::string(actionstate::kInputEventClass);
  e.id = actionstate::name_uuid_from_bytes("id-" + input);
  e.type = "_input_event";
  e.attributes = fmt::format("{{\"input\":\"{}\"}}", input);
  ActionState s(e);
  for (int i = 0; i < calls; ++i) {
    s.call_results.push_back(actionstate::CallResult::success(fmt::format("mod.f{}", i), "0123456789abcdef",
                                                              std::string("\x01\x02result", 8)));
  }
  s.completed = completed;
  return s;
}

std::unique_ptr<kafka::KafkaActionStateStore> open_store(const std::string& topic, int partitions = 2,
                                                         bool create = true) {
  kafka::StoreOptions o;
  o.topic = topic;
  o.num_partitions = partitions;
  o.create_topic = create;
  o.timeout = 20s;
  auto s = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
  return std::move(*s);
}

// All entries of a cache as key -> value bytes.
std::map<std::string, std::string> contents(const actionstate::StateCache& cache) {
  std::map<std::string, std::string> out;
  cache.for_each([&](const actionstate::StateCache::Entry& e) { out[e.key.to_string()] = e.value; });
  return out;
}

std::vector<Seen> read_topic(const std::string& topic, int partitions) {
  auto rk = kafka::make_reader(broker_config());
  REQUIRE(rk);
  auto w = kafka::watermarks(rk->get(), topic, partitions, 10s);
  REQUIRE_MESSAGE(w, (w ? "" : w.error().to_string()));
  std::vector<kafka::ReadRange> ranges;
  for (int p = 0; p < partitions; ++p) ranges.push_back({p, w->low[static_cast<size_t>(p)], w->high[static_cast<size_t>(p)]});
  return read_all(topic, ranges);
}

}  // namespace

TEST_CASE("KafkaStore.put writes one record with upstream's key, value and partition") {
  auto topic = testing::unique_topic("put");
  auto store = open_store(topic, 64);
  CHECK(store->num_partitions() == 64);
  CHECK(store->cleanup_policy() == "compact");
  const auto key = key_for("test-key", 1);
  const auto state = state_for("hello", 1);
  REQUIRE(store->put(key, state));
  auto seen = read_topic(topic, 64);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].key.rfind("test-key_1_", 0) == 0);
  CHECK(seen[0].key == key.to_string());
  CHECK(seen[0].value == actionstate::encode(state));
  CHECK(seen[0].partition == 55);  // the spec's verified partition of "test-key" at 64
  auto got = store->get(key);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK(**got == state);
}

TEST_CASE("KafkaStore.get misses for another action and drops later sequences of that key only") {
  auto topic = testing::unique_topic("get");
  auto store = open_store(topic);
  for (int seq = 1; seq <= 4; ++seq) REQUIRE(store->put(key_for("test-key", seq), state_for(fmt::format("s{}", seq))));
  REQUIRE(store->put(key_for("other_key", 3), state_for("o3")));
  auto miss = store->get(key_for("test-key", 2, kOtherAction));
  REQUIRE(miss);
  CHECK_FALSE(miss->has_value());
  for (int seq = 1; seq <= 4; ++seq) {
    auto got = store->get(key_for("test-key", seq));
    REQUIRE(got);
    CHECK(got->has_value() == (seq <= 2));
  }
  // Scoped to one business key (newer upstream), unlike 0.3.x which dropped every key's seq > n.
  auto other = store->get(key_for("other_key", 3));
  REQUIRE(other);
  CHECK(other->has_value());
}

TEST_CASE("KafkaStore.get with a diverged sequence drops later sequences") {
  auto topic = testing::unique_topic("diverge");
  auto store = open_store(topic);
  for (int seq = 1; seq <= 4; ++seq) REQUIRE(store->put(key_for("test-key", seq), state_for(fmt::format("s{}", seq))));
  REQUIRE(store->put(key_for("test-key", 2, kOtherAction), state_for("s2-other")));
  auto got = store->get(key_for("test-key", 2));
  REQUIRE(got);
  CHECK(got->has_value());
  CHECK(store->cache().find(key_for("test-key", 1).to_string()) != nullptr);
  CHECK(store->cache().find(key_for("test-key", 2).to_string()) != nullptr);
  CHECK(store->cache().find(key_for("test-key", 3).to_string()) == nullptr);
  CHECK(store->cache().find(key_for("test-key", 4).to_string()) == nullptr);
}

TEST_CASE("KafkaStore.recovery marker holds every partition's end offset") {
  auto topic = testing::unique_topic("marker");
  testing::create(topic, 2);
  std::vector<testing::RawRecord> recs;
  for (int i = 0; i < 5; ++i) recs.push_back({0, fmt::format("a{}", i), "x"});
  for (int i = 0; i < 3; ++i) recs.push_back({1, fmt::format("b{}", i), "x"});
  testing::produce(topic, recs);
  auto store = open_store(topic, 2, false);
  auto m = store->recovery_marker();
  REQUIRE(m);
  CHECK_FALSE(m->versioned());  // the 0.3.x layout: the legacy map
  CHECK(m->offsets == actionstate::OffsetMap{{0, 5}, {1, 3}});
  CHECK(actionstate::to_json(*m) == R"({"0":5,"1":3})");
}

TEST_CASE("KafkaStore.prune evicts up to a sequence and writes tombstones when asked") {
  auto topic = testing::unique_topic("prune");
  auto store = open_store(topic, 8);
  for (int seq = 1; seq <= 3; ++seq) REQUIRE(store->put(key_for("a_b", seq), state_for(fmt::format("s{}", seq))));
  REQUIRE(store->put(key_for("a", 1), state_for("other")));
  SUBCASE("cache only") {
    auto r = store->prune("a_b", 2);
    REQUIRE(r);
    CHECK(r->evicted.size() == 2);
    CHECK(r->tombstones_written == 0);
    CHECK(store->cache().size() == 2);
    CHECK(read_topic(topic, 8).size() == 4);
  }
  SUBCASE("with tombstones, which a rebuild applies") {
    auto marker = actionstate::RecoveryMarker::legacy({});
    for (int p = 0; p < 8; ++p) marker.offsets[p] = 0;
    auto r = store->prune("a_b", 2, {.tombstones = true});
    REQUIRE(r);
    CHECK(r->tombstones_written == 2);
    auto seen = read_topic(topic, 8);
    CHECK(seen.size() == 6);
    int tombs = 0;
    for (const auto& s : seen) {
      if (!s.value) {
        ++tombs;
        auto p = actionstate::partition_for_key(s.key, 8);
        REQUIRE(p);
        CHECK(*p == s.partition);
      }
    }
    CHECK(tombs == 2);
    auto fresh = open_store(topic, 8, false);
    std::vector<actionstate::RecoveryMarker> markers{marker};
    auto rep = fresh->rebuild(markers);
    REQUIRE(rep);
    CHECK(rep->records == 6);
    CHECK(rep->tombstones == 2);
    CHECK(contents(fresh->cache()) == contents(store->cache()));
    CHECK(fresh->cache().size() == 2);
  }
}

TEST_CASE("KafkaStore.putting the same key twice writes two records; rebuild keeps the last") {
  auto topic = testing::unique_topic("twice");
  auto store = open_store(topic);
  const auto key = key_for("test-key", 1);
  REQUIRE(store->put(key, state_for("v1", 1)));
  REQUIRE(store->put(key, state_for("v1", 0, true)));
  CHECK(read_topic(topic, 2).size() == 2);
  auto fresh = open_store(topic, 2, false);
  std::vector<actionstate::RecoveryMarker> markers{actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}})};
  auto rep = fresh->rebuild(markers);
  REQUIRE(rep);
  CHECK(rep->records == 2);
  CHECK(rep->live == 1);
  auto got = fresh->get(key);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->completed);
}

TEST_CASE("KafkaStore.rebuild from {0:0,1:0} restores every state written") {
  auto topic = testing::unique_topic("rebuild");
  auto store = open_store(topic);
  REQUIRE(store->put(key_for("k1", 1), state_for("a")));
  REQUIRE(store->put(key_for("k2", 1), state_for("b", 2)));
  REQUIRE(store->put(key_for("k3", 1), state_for("c", 0, true)));
  auto fresh = open_store(topic, 2, false);
  std::vector<actionstate::RecoveryMarker> markers{actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}})};
  auto rep = fresh->rebuild(markers);
  REQUIRE(rep);
  CHECK(rep->problems.empty());
  CHECK(rep->records == 3);
  CHECK(contents(fresh->cache()) == contents(store->cache()));
  SUBCASE("an empty marker list is a fresh start") {
    auto none = fresh->rebuild({});
    REQUIRE(none);
    CHECK(fresh->cache().empty());
  }
  SUBCASE("markers merge by the minimum offset per partition") {
    auto offsets = fresh->end_offsets();
    REQUIRE(offsets);
    std::vector<actionstate::RecoveryMarker> two{actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}}),
                                                 actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}})};
    two[0].offsets[1] = (*offsets)[1];
    two[1].offsets[0] = (*offsets)[0];
    auto r = fresh->rebuild(two);
    REQUIRE(r);
    CHECK(r->records == 3);
  }
  SUBCASE("an offset past the end is refused") {
    std::vector<actionstate::RecoveryMarker> bad{actionstate::RecoveryMarker::legacy({{0, 1000}, {1, 0}})};
    auto r = fresh->rebuild(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidArgument);
  }
  SUBCASE("versioned markers must carry the topic's id") {
    REQUIRE(fresh->known_topic_id().size() == 22);
    actionstate::RecoveryMarker v{1, topic, fresh->known_topic_id(), {{0, 0}, {1, 0}}};
    std::vector<actionstate::RecoveryMarker> ok{v};
    auto r = fresh->rebuild(ok);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    CHECK(r->records == 3);
    v.topic_id = "AAAAAAAAAAAAAAAAAAAAAA";
    std::vector<actionstate::RecoveryMarker> other{v};
    auto bad = fresh->rebuild(other);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::kConflict);
  }
}

TEST_CASE("KafkaStore.refuses a topic that is not compacted") {
  auto topic = testing::unique_topic("delete");
  testing::create(topic, 2, {{"cleanup.policy", "delete"}});
  kafka::StoreOptions o;
  o.topic = topic;
  o.num_partitions = 2;
  auto s = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::kConflict);
  CHECK(s.error().message.find("not compacted") != std::string::npos);
  o.require_compaction = false;
  auto lenient = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE(lenient);
  CHECK_FALSE((*lenient)->notes().empty());
}

TEST_CASE("KafkaStore.uses the partition count the topic has") {
  auto topic = testing::unique_topic("parts");
  testing::create(topic, 3);
  kafka::StoreOptions o;
  o.topic = topic;  // asks for the default 64
  auto s = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE(s);
  CHECK((*s)->num_partitions() == 3);
  CHECK_FALSE((*s)->notes().empty());
  REQUIRE((*s)->put(key_for("test-key", 1), state_for("x")));
  auto seen = read_topic(topic, 3);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].partition == *actionstate::partition_for_key(seen[0].key, 3));
}

TEST_CASE("KafkaStore.rebuild agrees with the model before and after real compaction") {
  auto topic = testing::unique_topic("compact");
  // Segments roll every 100 ms once a record arrives, and the cleaner takes any dirty segment.
  testing::create(topic, 2, {{"cleanup.policy", "compact"}, {"segment.ms", "100"},
                             {"min.cleanable.dirty.ratio", "0.001"}, {"min.compaction.lag.ms", "0"},
                             {"delete.retention.ms", "0"}, {"file.delete.delay.ms", "0"}});
  auto store = open_store(topic, 2, false);
  size_t written = 0;
  for (int round = 0; round < 5; ++round) {
    for (int k = 0; k < 10; ++k) {
      REQUIRE(store->put(key_for(fmt::format("k_{}", k), 1), state_for(fmt::format("k{}-v{}", k, round), round)));
      ++written;
    }
    std::this_thread::sleep_for(150ms);
  }
  for (int k = 0; k < 3; ++k) {
    auto r = store->prune(fmt::format("k_{}", k), 1, {.tombstones = true});
    REQUIRE(r);
    written += r->tombstones_written;
  }
  std::this_thread::sleep_for(150ms);
  REQUIRE(store->put(key_for("filler", 1), state_for("roll the segment")));  // rolls the segment
  ++written;
  const auto model = contents(store->cache());
  REQUIRE(model.size() == 8);
  const std::vector<actionstate::RecoveryMarker> from_start{actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}})};

  auto before = open_store(topic, 2, false);
  auto r1 = before->rebuild(from_start);
  REQUIRE(r1);
  CHECK(r1->records <= written);  // the cleaner may already have run
  CHECK(contents(before->cache()) == model);

  // Wait for the cleaner: fewer records than written, and offsets with holes.
  std::vector<Seen> seen;
  bool compacted = false;
  for (int i = 0; i < 120 && !compacted; ++i) {
    std::this_thread::sleep_for(500ms);
    seen = read_topic(topic, 2);
    compacted = seen.size() < written - 20;
  }
  REQUIRE_MESSAGE(compacted, "the broker did not compact within 60 s");
  // The log still starts at offset 0, so any record not at the previous offset + 1 sits after a
  // hole left by the cleaner.
  std::map<int, std::int64_t> last{{0, -1}, {1, -1}};
  bool gap = false;
  for (const auto& s : seen) {
    if (s.offset != last[s.partition] + 1) gap = true;
    last[s.partition] = s.offset;
  }
  CHECK(gap);
  auto after = open_store(topic, 2, false);
  auto r2 = after->rebuild(from_start);
  REQUIRE(r2);
  CHECK(r2->records < written);
  CHECK(contents(after->cache()) == model);
  // A marker taken now still rebuilds nothing new, and reads end although the tail has holes.
  auto m = after->recovery_marker();
  REQUIRE(m);
  std::vector<actionstate::RecoveryMarker> now{*m};
  auto r3 = after->rebuild(now);
  REQUIRE(r3);
  CHECK(r3->records == 0);
}

TEST_CASE("KafkaStore.64 partitions, business keys with '_', markers taken mid-stream") {
  auto topic = testing::unique_topic("p64");
  kafka::StoreOptions o;
  o.topic = topic;
  o.read_workers = 4;
  auto opened = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE(opened);
  auto& store = *opened;
  REQUIRE(store->num_partitions() == 64);
  const std::vector<std::string> keys = {"tenant_a",  "tenant_b_c", "user-42", "x__y",
                                         "\xc3\xbc_\xd0\xba", "a_1",     "plain",   "1"};
  std::optional<actionstate::RecoveryMarker> mid, later;
  for (int seq = 0; seq < 6; ++seq) {
    for (const auto& k : keys) {
      REQUIRE(store->put(key_for(k, seq), state_for(fmt::format("{}-{}", k, seq), seq % 3)));
      REQUIRE(store->put(key_for(k, seq, kOtherAction), state_for(fmt::format("{}-{}-b", k, seq), 0, true)));
    }
    if (seq == 2) {
      auto m = store->recovery_marker();
      REQUIRE(m);
      mid = *m;
    }
    if (seq == 4) {
      auto m = store->recovery_marker();
      REQUIRE(m);
      later = *m;
    }
  }
  REQUIRE(mid->offsets.size() == 64);
  // Expected: what was written at or after the marker's offset in its partition.
  std::map<std::string, std::string> expected;
  std::set<std::int32_t> partitions_used;
  store->cache().for_each([&](const actionstate::StateCache::Entry& e) {
    partitions_used.insert(e.position.partition);
    CHECK(e.position.partition == *actionstate::partition_for_key(e.key.to_string(), 64));
    if (e.position.offset >= mid->offsets.at(e.position.partition)) expected[e.key.to_string()] = e.value;
  });
  CHECK(partitions_used.size() > 3);
  REQUIRE(expected.size() == keys.size() * 2 * 3);
  auto fresh = open_store(topic, 64, false);
  SUBCASE("one marker") {
    std::vector<actionstate::RecoveryMarker> ms{*mid};
    auto r = fresh->rebuild(ms);
    REQUIRE(r);
    CHECK(r->problems.empty());
    CHECK(contents(fresh->cache()) == expected);
  }
  SUBCASE("two subtasks' markers merge to the older") {
    std::vector<actionstate::RecoveryMarker> ms{*later, *mid};
    auto r = fresh->rebuild(ms);
    REQUIRE(r);
    CHECK(contents(fresh->cache()) == expected);
    // And get works on keys whose business key contains '_'.
    auto got = fresh->get(key_for("tenant_b_c", 4));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->task_event->attributes == R"({"input":"tenant_b_c-4"})");
  }
}

TEST_CASE("KafkaStore.rebuild names the partition and offset of records it cannot take in") {
  auto topic = testing::unique_topic("problems");
  auto store = open_store(topic, 2);
  const auto good = key_for("good", 1);
  REQUIRE(store->put(good, state_for("ok")));
  const auto bad_value_key = key_for("bad", 1);
  const std::int32_t p_bad = *actionstate::partition_for_key(bad_value_key.to_string(), 2);
  auto offs = testing::produce(topic, {{p_bad, bad_value_key.to_string(), std::string(R"({"taskEvent":null,"surprise":1})")},
                                       {0, "not a state key", std::string("{}")}});
  auto fresh = open_store(topic, 2, false);
  std::vector<actionstate::RecoveryMarker> markers{actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}})};
  auto r = fresh->rebuild(markers);
  REQUIRE(r);
  REQUIRE(r->problems.size() == 2);
  bool saw_value = false, saw_key = false;
  for (const auto& p : r->problems) {
    if (p.key == bad_value_key.to_string()) {
      saw_value = true;
      CHECK(p.error.where == fmt::format("partition {} offset {}", p_bad, offs[0]));
      CHECK(p.error.code == Errc::kCorruptRecord);
    }
    if (p.key == "not a state key") {
      saw_key = true;
      CHECK(p.error.where == fmt::format("partition 0 offset {}", offs[1]));
    }
  }
  CHECK(saw_value);
  CHECK(saw_key);
  // A value that does not decode is kept (nothing dropped silently); a key that does not parse
  // cannot be cached.
  CHECK(fresh->cache().find(bad_value_key.to_string()) != nullptr);
  CHECK(fresh->cache().find(good.to_string()) != nullptr);
  CHECK(fresh->cache().size() == 2);
}

// ---------------------------------------------------------------------------------------------
// state-inspect -b/-t, in-process

#include "../../tools/state-inspect/state_inspect.h"

namespace {

struct ToolRun {
  int rc = -1;
  std::string out, err;
};

ToolRun run_state_inspect(std::vector<std::string> args) {
  args.insert(args.begin(), "state-inspect");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  char *obuf = nullptr, *ebuf = nullptr;
  size_t olen = 0, elen = 0;
  cli::Io io;
  io.tool = "state-inspect";
  io.out = open_memstream(&obuf, &olen);
  io.err = open_memstream(&ebuf, &elen);
  ToolRun r;
  r.rc = tools::state_inspect::main(static_cast<int>(argv.size()), argv.data(), io);
  std::fclose(io.out);
  std::fclose(io.err);
  r.out.assign(obuf, olen);
  r.err.assign(ebuf, elen);
  std::free(obuf);
  std::free(ebuf);
  return r;
}

}  // namespace

TEST_CASE("StateInspect.reads a Kafka topic with -b and -t") {
  auto topic = testing::unique_topic("inspect");
  auto store = open_store(topic, 4);
  REQUIRE(store->put(key_for("tenant_a", 1), state_for("a", 1)));
  REQUIRE(store->put(key_for("tenant_a", 1), state_for("a", 0, true)));
  REQUIRE(store->put(key_for("plain", 2), state_for("b", 2)));
  testing::produce(topic, {{0, "garbage key", std::string("{}")}});
  auto r = run_state_inspect({"-b", testing::brokers(), "-t", topic, "--json", "--no-state"});
  CHECK(r.rc == 3);  // the unparsable key is a problem
  CHECK(r.err.find("partition 0 offset") != std::string::npos);
  std::vector<std::string> lines;
  for (size_t start = 0, nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(r.out.substr(start, nl - start));
  }
  REQUIRE(lines.size() == 2);
  CHECK(r.out.find(R"("businessKey":"tenant_a")") != std::string::npos);
  CHECK(r.out.find(R"("completed":true)") != std::string::npos);
  auto s = run_state_inspect({"-b", testing::brokers(), "-t", topic, "--summary"});
  CHECK(s.out.find(R"("records":4)") != std::string::npos);
  auto missing = run_state_inspect({"-b", testing::brokers(), "-t", topic + "-missing"});
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("does not exist") != std::string::npos);
  auto both = run_state_inspect({"-b", testing::brokers(), "-t", topic, "x.jsonl"});
  CHECK(both.rc == 2);
}

TEST_CASE("KafkaStore.0.4 layout: compact,delete topic and versioned markers with the topic id") {
  auto topic = testing::unique_topic("v04");
  kafka::StoreOptions o;
  o.topic = topic;
  o.num_partitions = 3;
  o.layout = kafka::TopicLayout::kV04;
  auto s = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
  auto& store = *s;
  CHECK(store->cleanup_policy() == "compact,delete");
  REQUIRE(store->put(key_for("k", 1), state_for("a")));
  auto m = store->recovery_marker();
  REQUIRE(m);
  CHECK(m->versioned());
  CHECK(m->topic == topic);
  CHECK(m->topic_id == store->known_topic_id());
  CHECK(m->offsets.size() == 3);
  // Ids are per topic: another topic's differs.
  auto other = open_store(testing::unique_topic("v04-other"), 3);
  CHECK(other->known_topic_id() != store->known_topic_id());
  REQUIRE(store->put(key_for("k", 2), state_for("b")));
  std::vector<actionstate::RecoveryMarker> ms{*m};
  auto fresh = kafka::KafkaActionStateStore::open(broker_config(), o);
  REQUIRE(fresh);
  auto r = (*fresh)->rebuild(ms);
  REQUIRE(r);
  CHECK(r->records == 1);
  CHECK((*fresh)->cache().find(key_for("k", 2).to_string()) != nullptr);
}
