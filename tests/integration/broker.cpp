// SPDX-License-Identifier: Apache-2.0
// Test helpers for the real broker.
#include "broker.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <random>

#include <fmt/format.h>

namespace aftk::testing {

std::string brokers() {
  const char* b = std::getenv("AFTK_BROKERS");
  if (b == nullptr || *b == '\0') {
    FAIL("AFTK_BROKERS is not set: the kafka suite needs a broker. Run it through tests/run-all, "
         "or `tests/kafka/broker run -- meson test -C build --suite kafka`, or set AFTK_BROKERS "
         "to a cluster of your own.");
  }
  return b;
}

kafka::ClientConfig broker_config() {
  kafka::ClientConfig cfg;
  cfg.set("bootstrap.servers", brokers(), "test");
  return cfg;
}

std::string unique_topic(const std::string& what) {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("aftk-test-{}-{:08x}", what, rng() & 0xffffffffu);
}

namespace {
struct Delivery {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  std::int64_t offset = -1;
};
void test_on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* d = static_cast<Delivery*>(m->_private);
  d->err = m->err;
  d->offset = m->offset;
}
}  // namespace

std::vector<std::int64_t> produce(const std::string& topic, const std::vector<RawRecord>& records,
                                  const kafka::Overrides& extra) {
  kafka::Overrides o = {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "5"}};
  o.insert(o.end(), extra.begin(), extra.end());
  auto rk = kafka::make_producer(broker_config(), o, [](rd_kafka_conf_t* c) {
    rd_kafka_conf_set_dr_msg_cb(c, test_on_delivery);
  });
  REQUIRE(rk);
  std::vector<Delivery> d(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;
    size_t value_size = r.value ? r.value->size() : 0;
    rd_kafka_resp_err_t err;
    do {
      err = rd_kafka_producev(
          rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(value, value_size),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d[i]), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk->get(), 50);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_err2str(err));
  }
  REQUIRE(rd_kafka_flush(rk->get(), 60000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<std::int64_t> offsets;
  for (const auto& x : d) {
    REQUIRE_MESSAGE(x.err == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_err2str(x.err));
    offsets.push_back(x.offset);
  }
  return offsets;
}

void create(const std::string& topic, int partitions,
            const std::vector<std::pair<std::string, std::string>>& configs) {
  auto rk = kafka::make_reader(broker_config());
  REQUIRE(rk);
  auto st = kafka::create_topic(rk->get(), topic, partitions, 1, configs, std::chrono::seconds(30));
  REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
}

}  // namespace aftk::testing
