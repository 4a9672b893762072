// SPDX-License-Identifier: Apache-2.0
// Tests of the kafka module that need no broker: client settings, and faults on librdkafka's
// in-process mock cluster.
#include <doctest/doctest.h>

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "aftk/kafka/config.h"

using namespace aftk;

namespace {

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/aftk-kafka-test-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

std::string conf_get(rd_kafka_conf_t* conf, const char* key) {
  char buf[512];
  size_t size = sizeof buf;
  REQUIRE(rd_kafka_conf_get(conf, key, buf, &size) == RD_KAFKA_CONF_OK);
  return buf;
}

}  // namespace

TEST_CASE("KafkaConfig.reads properties files with comments and both separators") {
  TempFile f("# a comment\n! another\n\nbootstrap.servers = a:1\nclient.id: x\n  linger.ms=5  \n");
  kafka::ClientConfig cfg;
  REQUIRE(cfg.merge_file(f.path.string()));
  CHECK(cfg.brokers() == "a:1");
  CHECK(cfg.get("client.id") == "x");
  CHECK(cfg.get("linger.ms") == "5");
  CHECK(cfg.settings()[2].origin == f.path.string() + ":6");
}

TEST_CASE("KafkaConfig.names file and line of a malformed line") {
  TempFile f("client.id=x\nthis line has no separator\n");
  kafka::ClientConfig cfg;
  auto st = cfg.merge_file(f.path.string());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kInvalidArgument);
  CHECK(st.error().where == f.path.string() + ":2");
}

TEST_CASE("KafkaConfig.a missing -F file is an IO error") {
  kafka::Sources src;
  src.files = {"/nonexistent/aftk.properties"};
  auto cfg = kafka::resolve(src);
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().code == Errc::kIo);
  CHECK(cfg.error().message.find("/nonexistent/aftk.properties") != std::string::npos);
}

TEST_CASE("KafkaConfig.later sources win: default file, -F, brokers, -X") {
  TempFile def("bootstrap.servers=def:1\nclient.id=from-default\nlinger.ms=1\nacks=1\n");
  TempFile f1("metadata.broker.list=f1:1\nlinger.ms=2\n");
  kafka::Sources src;
  src.default_file = def.path.string();
  src.files = {f1.path.string()};
  SUBCASE("-F over the default file, alias folded") {
    auto cfg = kafka::resolve(src);
    REQUIRE(cfg);
    CHECK(cfg->brokers() == "f1:1");
    CHECK(cfg->get("linger.ms") == "2");
    CHECK(cfg->get("client.id") == "from-default");
    CHECK(cfg->get("acks") == "1");
  }
  SUBCASE("brokers over -F, -X over everything") {
    src.brokers = "b:9";
    src.overrides = {"linger.ms=3", "bootstrap.servers=x:7", "linger.ms=4"};
    auto cfg = kafka::resolve(src);
    REQUIRE(cfg);
    CHECK(cfg->brokers() == "x:7");
    CHECK(cfg->get("linger.ms") == "4");
  }
  SUBCASE("-X without '=' is rejected") {
    src.overrides = {"linger.ms"};
    auto cfg = kafka::resolve(src);
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().code == Errc::kInvalidArgument);
  }
}

TEST_CASE("KafkaConfig.reads AFTK_BROKERS and AFTK_KAFKA_CONFIG from the environment") {
  TempFile def("client.id=env-file\n");
  const char* old_b = std::getenv("AFTK_BROKERS");
  const char* old_c = std::getenv("AFTK_KAFKA_CONFIG");
  std::string saved_b = old_b ? old_b : "", saved_c = old_c ? old_c : "";
  setenv("AFTK_BROKERS", "env:1", 1);
  setenv("AFTK_KAFKA_CONFIG", def.path.c_str(), 1);
  auto src = kafka::sources_from_environment();
  auto cfg = kafka::resolve(src);
  if (old_b) setenv("AFTK_BROKERS", saved_b.c_str(), 1); else unsetenv("AFTK_BROKERS");
  if (old_c) setenv("AFTK_KAFKA_CONFIG", saved_c.c_str(), 1); else unsetenv("AFTK_KAFKA_CONFIG");
  REQUIRE(cfg);
  CHECK(cfg->brokers() == "env:1");
  CHECK(cfg->get("client.id") == "env-file");
}

TEST_CASE("KafkaConfig.never prints secrets") {
  CHECK(kafka::is_secret("sasl.password"));
  CHECK(kafka::is_secret("ssl.key.password"));
  CHECK(kafka::is_secret("sasl.oauthbearer.client.secret"));
  CHECK(kafka::is_secret("sasl.jaas.config"));
  CHECK_FALSE(kafka::is_secret("sasl.username"));
  CHECK_FALSE(kafka::is_secret("bootstrap.servers"));
  kafka::Sources src;
  src.overrides = {"sasl.password=hunter2", "sasl.username=bob"};
  auto cfg = kafka::resolve(src);
  REQUIRE(cfg);
  bool saw_password = false;
  for (const auto& line : cfg->describe()) {
    CHECK(line.find("hunter2") == std::string::npos);
    if (line.rfind("sasl.password=***", 0) == 0) saw_password = true;
  }
  CHECK(saw_password);
  src.overrides = {"sasl.passwordhunter2"};
  auto bad = kafka::resolve(src);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("KafkaConfig.a secret whose value occurs in the mask is hidden without looping") {
  // Regression: redaction searched from the start again after each mask, so a value found in
  // "***" itself was masked forever and the message grew without end.
  for (const char* value : {"*", "**", "***", "a*"}) {
    kafka::Sources src;
    src.overrides = {std::string("password*=") + value, "sasl.password=*"};
    auto cfg = kafka::resolve(src);
    REQUIRE(cfg);
    auto conf = cfg->to_rdkafka();
    REQUIRE_FALSE(conf);
    CHECK(conf.error().message.find("invalid Kafka setting 'password*'") == 0);
    CHECK(conf.error().message.size() < 300);
    CHECK(conf.error().where == "-X");
  }
  TempFile f("password*=*\n");
  kafka::Sources src;
  src.files = {f.path.string()};
  auto cfg = kafka::resolve(src);
  REQUIRE(cfg);
  auto conf = cfg->to_rdkafka();
  REQUIRE_FALSE(conf);
  CHECK(conf.error().where == f.path.string() + ":1");
}

TEST_CASE("KafkaConfig.secrets of every kind stay out of errors and the effective settings") {
  for (const char* key : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                          "sasl.oauthbearer.client.secret", "my.own.password"}) {
    CHECK(kafka::is_secret(key));
  }
  kafka::Sources src;
  src.brokers = "127.0.0.1:1";
  src.overrides = {"sasl.password=hunter2", "ssl.key.password=keypass9",
                   "ssl.keystore.password=storepass9", "sasl.username=bob", "acks=all"};
  auto cfg = kafka::resolve(src);
  REQUIRE(cfg);
  auto settings = cfg->effective();
  REQUIRE_MESSAGE(settings, (settings ? "" : settings.error().to_string()));
  std::map<std::string, std::string> m(settings->begin(), settings->end());
  CHECK(m["bootstrap.servers"] == "127.0.0.1:1");
  CHECK(m["client.id"] == "aftk");
  CHECK(m["sasl.username"] == "bob");
  CHECK(m["sasl.password"] == "[redacted]");
  CHECK(m["ssl.key.password"] == "[redacted]");
  CHECK(m["ssl.keystore.password"] == "[redacted]");
  CHECK(m["request.required.acks"] == "-1");  // a topic property, from the default topic conf
  for (const auto& [k, v] : *settings) {
    for (const char* secret : {"hunter2", "keypass9", "storepass9"}) {
      CHECK(v.find(secret) == std::string::npos);
    }
  }
  CHECK(cfg->redact_secrets("auth failed for hunter2 / keypass9 / bob") ==
        "auth failed for *** / *** / bob");
}

TEST_CASE("KafkaConfig.hands every setting to librdkafka and names the origin of a bad one") {
  kafka::Sources src;
  src.brokers = "127.0.0.1:1";
  src.overrides = {"linger.ms=7", "sasl.password=hunter2"};
  auto cfg = kafka::resolve(src);
  REQUIRE(cfg);
  auto conf = cfg->to_rdkafka();
  REQUIRE(conf);
  kafka::ConfPtr owned(*conf);
  CHECK(conf_get(owned.get(), "bootstrap.servers") == "127.0.0.1:1");
  CHECK(conf_get(owned.get(), "linger.ms") == "7");
  CHECK(conf_get(owned.get(), "client.id") == "aftk");

  src.overrides = {"no.such.property=1"};
  auto bad = kafka::resolve(src);
  REQUIRE(bad);
  auto bad_conf = bad->to_rdkafka();
  REQUIRE_FALSE(bad_conf);
  CHECK(bad_conf.error().message.find("no.such.property") != std::string::npos);
  CHECK(bad_conf.error().where == "-X");

  src.overrides = {"linger.ms=not-a-number"};
  auto bad2 = kafka::resolve(src)->to_rdkafka();
  REQUIRE_FALSE(bad2);
  CHECK(bad2.error().message.find("linger.ms") != std::string::npos);
}

TEST_CASE("KafkaConfig.-X list prints librdkafka's property table") {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  kafka::list_properties(mem);
  std::fclose(mem);
  std::string text(buf, len);
  std::free(buf);
  CHECK(text.find("bootstrap.servers") != std::string::npos);
  CHECK(text.find("enable.idempotence") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Faults on librdkafka's mock cluster: every fault gives a retry that succeeds or a clear error,
// never a silently missing or duplicated state.

#include <librdkafka/rdkafka_mock.h>

#include <thread>

#include <fmt/format.h>

#include "aftk/actionstate/ids.h"
#include "aftk/kafka/store.h"

namespace {

using namespace std::chrono_literals;
using actionstate::ActionState;
using actionstate::StateKey;

constexpr std::int16_t kProduce = 0, kFetch = 1, kListOffsets = 2;

// A mock cluster with one topic; destroyed with the handle that owns it.
struct Mock {
  kafka::Handle owner;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string topic = "mock-state";
  explicit Mock(int brokers = 1, int partitions = 4) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    owner.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
    REQUIRE(owner);
    cluster = rd_kafka_mock_cluster_new(owner.get(), brokers);
    REQUIRE(cluster != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ~Mock() { rd_kafka_mock_cluster_destroy(cluster); }
  kafka::ClientConfig config() const {
    kafka::ClientConfig c;
    c.set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster));
    c.set("log_level", "0");  // the faults below make librdkafka log loudly
    c.set("reconnect.backoff.max.ms", "200");
    return c;
  }
  std::unique_ptr<kafka::KafkaActionStateStore> store(std::chrono::milliseconds timeout = 10s) const {
    kafka::StoreOptions o;
    o.topic = topic;
    o.num_partitions = 4;
    o.create_topic = false;   // the mock cluster has no admin API
    o.verify_config = false;  // nor DescribeConfigs
    o.timeout = timeout;
    auto s = kafka::KafkaActionStateStore::open(config(), o);
    REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
    return std::move(*s);
  }
  // Every record of the topic as key -> count.
  std::map<std::string, int> records() const {
    auto rk = kafka::make_reader(config());
    REQUIRE(rk);
    auto w = kafka::watermarks(rk->get(), topic, 4, 10s);
    REQUIRE(w);
    std::vector<kafka::ReadRange> ranges;
    for (int p = 0; p < 4; ++p) ranges.push_back({p, 0, w->high[static_cast<size_t>(p)]});
    std::map<std::string, int> out;
    std::mutex mu;
    kafka::ReadOptions ro;
    ro.idle_timeout = 10s;
    auto st = kafka::read_exact(config(), topic, ranges, ro, [&](unsigned, const kafka::RecordView& r) -> Status {
      std::lock_guard lock(mu);
      ++out[std::string(r.key)];
      return {};
    });
    REQUIRE_MESSAGE(st, (st ? "" : st.error().to_string()));
    return out;
  }
};

StateKey mkey(const std::string& bk, std::int64_t seq) {
  return StateKey::v03(bk, seq, actionstate::name_uuid_from_bytes(bk + std::to_string(seq)),
                       actionstate::name_uuid_from_bytes("process"));
}

ActionState mstate(const std::string& input) {
  actionstate::Event e;
  e.id = actionstate::name_uuid_from_bytes(input);
  e.type = "_input_event";
  e.attributes = fmt::format("{{\"input\":\"{}\"}}", input);
  return ActionState(e);
}

std::vector<actionstate::RecoveryMarker> from_start() {
  return {actionstate::RecoveryMarker::legacy({{0, 0}, {1, 0}, {2, 0}, {3, 0}})};
}

}  // namespace

TEST_CASE("KafkaFaults.retriable produce errors are retried; the state lands once") {
  Mock mock;
  auto store = mock.store();
  rd_kafka_mock_push_request_errors(mock.cluster, kProduce, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT);
  REQUIRE(store->put(mkey("k", 1), mstate("a")));
  REQUIRE(store->put(mkey("k", 2), mstate("b")));
  auto recs = mock.records();
  CHECK(recs.size() == 2);
  CHECK(recs[mkey("k", 1).to_string()] == 1);
  CHECK(recs[mkey("k", 2).to_string()] == 1);
}

TEST_CASE("KafkaFaults.a permanent produce error fails the put and leaves the cache alone") {
  Mock mock;
  auto store = mock.store();
  rd_kafka_mock_push_request_errors(mock.cluster, kProduce, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto st = store->put(mkey("k", 1), mstate("a"));
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kKafka);
  CHECK(st.error().message.find("TOPIC_AUTHORIZATION_FAILED") != std::string::npos);
  CHECK(st.error().kafka_code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  CHECK(st.error().kafka_name == "TOPIC_AUTHORIZATION_FAILED");
  CHECK_FALSE(st.error().fatal);
  CHECK(st.error().where.find("partition") != std::string::npos);
  CHECK(store->cache().find(mkey("k", 1).to_string()) == nullptr);
  CHECK(mock.records().count(mkey("k", 1).to_string()) == 0);
}

TEST_CASE("KafkaFaults.list-offsets errors are retried, and reported when they persist") {
  Mock mock;
  auto store = mock.store(3s);
  REQUIRE(store->put(mkey("k", 1), mstate("a")));
  rd_kafka_mock_push_request_errors(mock.cluster, kListOffsets, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE);
  auto m = store->recovery_marker();
  REQUIRE_MESSAGE(m, (m ? "" : m.error().to_string()));
  std::int64_t total = 0;
  for (const auto& [p, o] : m->offsets) total += o;
  CHECK(total == 1);
  std::vector<rd_kafka_resp_err_t> errs(200, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors_array(mock.cluster, kListOffsets, errs.size(), errs.data());
  auto bad = store->recovery_marker();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("NOT_LEADER_FOR_PARTITION") != std::string::npos);
  CHECK(bad.error().retriable);
  CHECK(bad.error().kafka_code == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  CHECK(bad.error().kafka_name == "NOT_LEADER_FOR_PARTITION");
  rd_kafka_mock_clear_request_errors(mock.cluster, kListOffsets);
}

TEST_CASE("KafkaFaults.fetch errors during rebuild are retried; every state arrives once") {
  Mock mock;
  auto store = mock.store();
  for (int i = 0; i < 40; ++i) REQUIRE(store->put(mkey(fmt::format("k{}", i), 1), mstate(fmt::format("v{}", i))));
  rd_kafka_mock_push_request_errors(mock.cluster, kFetch, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  auto fresh = mock.store();
  auto markers = from_start();
  auto r = fresh->rebuild(markers);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK(r->records == 40);
  CHECK(fresh->cache().size() == 40);
}

TEST_CASE("KafkaFaults.broker down during put: a clear timeout, then a retry that succeeds") {
  Mock mock;
  auto store = mock.store(2s);
  REQUIRE(store->put(mkey("k", 1), mstate("a")));
  rd_kafka_mock_broker_set_down(mock.cluster, 1);
  auto st = store->put(mkey("k", 2), mstate("b"));
  REQUIRE_FALSE(st);
  CHECK(st.error().retriable);
  CHECK(st.error().where.find("partition") != std::string::npos);
  CHECK(store->cache().find(mkey("k", 2).to_string()) == nullptr);
  rd_kafka_mock_broker_set_up(mock.cluster, 1);
  Status retry;
  for (int i = 0; i < 5; ++i) {
    retry = store->put(mkey("k", 2), mstate("b"));
    if (retry) break;
  }
  REQUIRE_MESSAGE(retry, (retry ? "" : retry.error().to_string()));
  auto recs = mock.records();
  CHECK(recs[mkey("k", 1).to_string()] == 1);
  // The timed-out attempt was purged, so the retried state is there exactly once.
  CHECK(recs[mkey("k", 2).to_string()] == 1);
}

TEST_CASE("KafkaFaults.broker down during rebuild: an error naming the partitions, or a late success") {
  Mock mock;
  {
    auto writer = mock.store();
    for (int i = 0; i < 20; ++i) REQUIRE(writer->put(mkey(fmt::format("k{}", i), 1), mstate(fmt::format("v{}", i))));
  }
  SUBCASE("stays down") {
    auto store = mock.store(2s);
    rd_kafka_mock_broker_set_down(mock.cluster, 1);
    auto markers = from_start();
    auto r = store->rebuild(markers);
    REQUIRE_FALSE(r);
    CHECK(r.error().retriable);
    MESSAGE(r.error().to_string());
    rd_kafka_mock_broker_set_up(mock.cluster, 1);
  }
  SUBCASE("fetches keep failing after the end offsets were captured") {
    auto store = mock.store(2s);
    std::vector<rd_kafka_resp_err_t> errs(2000, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors_array(mock.cluster, kFetch, errs.size(), errs.data());
    auto markers = from_start();
    auto r = store->rebuild(markers);
    rd_kafka_mock_clear_request_errors(mock.cluster, kFetch);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kTimeout);
    CHECK(r.error().where.find("partitions") == 0);
    CHECK(r.error().message.find("made no progress") != std::string::npos);
  }
  SUBCASE("comes back") {
    auto store = mock.store(10s);
    rd_kafka_mock_broker_set_down(mock.cluster, 1);
    std::thread up([&] {
      std::this_thread::sleep_for(1500ms);
      rd_kafka_mock_broker_set_up(mock.cluster, 1);
    });
    auto markers = from_start();
    auto r = store->rebuild(markers);
    up.join();
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    CHECK(r->records == 20);
    CHECK(store->cache().size() == 20);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors keep librdkafka's code and its fatal flag as fields; exit codes come from the fields.

#include "aftk/cli/tool.h"
#include "aftk/kafka/client.h"

TEST_CASE("KafkaErrors.carry librdkafka's code and name; a timeout is TIMEOUT") {
  Error e = kafka::kafka_error(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, "cannot list offsets",
                               "partition 3", true);
  CHECK(e.code == Errc::kKafka);
  CHECK(e.kafka_code == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  CHECK(e.kafka_name == "NOT_LEADER_FOR_PARTITION");
  CHECK(e.retriable);
  CHECK_FALSE(e.fatal);
  CHECK(e.to_string() ==
        "cannot list offsets: Broker: Not leader for partition (NOT_LEADER_FOR_PARTITION) (at "
        "partition 3)");
  Error t = kafka::kafka_error(RD_KAFKA_RESP_ERR__TIMED_OUT, "cannot read metadata");
  CHECK(t.code == Errc::kTimeout);
  CHECK(t.kafka_code == RD_KAFKA_RESP_ERR__TIMED_OUT);
  CHECK(t.kafka_name == "_TIMED_OUT");
  CHECK(kafka::kafka_error(RD_KAFKA_RESP_ERR_NO_ERROR, "x").kafka_code == 0);
  CHECK(fail(Errc::kIo, "cannot read 'x'").error.kafka_name.empty());
}

TEST_CASE("KafkaErrors.a fatal error is a field, never retriable, and said by to_string") {
  SUBCASE("librdkafka's _FATAL code alone") {
    Error e = kafka::kafka_error(RD_KAFKA_RESP_ERR__FATAL, "cannot write to topic 't'", {}, true);
    CHECK(e.fatal);
    CHECK_FALSE(e.retriable);
    CHECK(e.kafka_name == "_FATAL");
  }
  SUBCASE("a handle that raised a fatal error names the underlying error") {
    kafka::ClientConfig cfg;
    cfg.set("bootstrap.servers", "127.0.0.1:1");
    cfg.set("log_level", "0");
    auto rk = kafka::make_producer(cfg, {});
    REQUIRE(rk);
    Error before = kafka::kafka_error(rk->get(), RD_KAFKA_RESP_ERR__TRANSPORT, "cannot write",
                                      "partition 0", true);
    CHECK_FALSE(before.fatal);
    CHECK(before.retriable);
    CHECK(before.kafka_code == RD_KAFKA_RESP_ERR__TRANSPORT);
    REQUIRE(rd_kafka_test_fatal_error(rk->get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "sequence gap in test") == RD_KAFKA_RESP_ERR_NO_ERROR);
    Error e = kafka::kafka_error(rk->get(), RD_KAFKA_RESP_ERR__FATAL, "cannot write to topic 't'",
                                 "partition 0", true);
    CHECK(e.fatal);
    CHECK_FALSE(e.retriable);
    CHECK(e.code == Errc::kKafka);
    CHECK(e.kafka_code == RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CHECK(e.kafka_name == "OUT_OF_ORDER_SEQUENCE_NUMBER");
    CHECK(e.message.find("sequence gap in test") != std::string::npos);
    // The flag, not the message, says it is fatal; to_string tells the user.
    CHECK(e.message.find("(fatal") == std::string::npos);
    CHECK(e.to_string().find("(at partition 0) (fatal)") != std::string::npos);
  }
}

TEST_CASE("KafkaErrors.exit codes come from the fields: 1 for Kafka failures, 130 interrupted") {
  Error retriable = kafka::kafka_error(RD_KAFKA_RESP_ERR__TRANSPORT, "cannot read", {}, true);
  Error fatal = kafka::kafka_error(RD_KAFKA_RESP_ERR__FATAL, "cannot write");
  Error interrupted{Errc::kInterrupted, "interrupted while reading the topic", {}, false};
  // Text that looks like another kind of error does not change the code.
  Error io{Errc::kIo, "interrupted: fatal", {}, false};
  CHECK(cli::exit_code(retriable) == cli::kExitFailure);
  CHECK(cli::exit_code(fatal) == cli::kExitFailure);
  CHECK(cli::exit_code(interrupted) == cli::kExitInterrupted);
  CHECK(cli::exit_code(io) == cli::kExitFailure);

  char* buf = nullptr;
  size_t len = 0;
  cli::Io out;
  out.tool = "t";
  out.err = open_memstream(&buf, &len);
  CHECK(cli::report_error(out, fatal) == cli::kExitFailure);
  CHECK(cli::report_error(out, retriable) == cli::kExitFailure);
  std::fclose(out.err);
  const std::string text(buf, len);
  std::free(buf);
  CHECK(text ==
        "t: error: cannot write: Local: Fatal error (_FATAL) (fatal) [KAFKA]\n"
        "t: error: cannot read: Local: Broker transport failure (_TRANSPORT) [KAFKA]\n"
        "t: note: the error may be transient: running the command again may succeed\n");
}
