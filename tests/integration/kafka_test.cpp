// SPDX-License-Identifier: Apache-2.0
// Against the real broker: topic admin, exact reads (with compaction gaps and transaction
// markers), and the Kafka action-state store.
#include <doctest/doctest.h>

#include <librdkafka/rdkafka.h>

#include <map>
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
  auto info = kafka::describe_topic(rk->get(), topic, 10s);
  REQUIRE(info);
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
