// SPDX-License-Identifier: Apache-2.0
// Tests of the kafka module that need no broker: client settings, and faults on librdkafka's
// in-process mock cluster.
#include <doctest/doctest.h>

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
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
