// SPDX-License-Identifier: Apache-2.0
// aftk's side of the interop suite (driven by tests/interop/run):
//   aftk_interop put BROKERS TOPIC RECORDS.jsonl   put every non-tombstone record's decoded state
//                                                  through KafkaActionStateStore (64 partitions),
//                                                  checking each lands in the record's partition
//   aftk_interop topic-id BROKERS TOPIC            the topic id read by fetch_topic_id
//   aftk_interop rebuild BROKERS TOPIC             rebuild from offset 0 and print the live
//                                                  records as JSON Lines, each value decoded
//                                                  strictly and re-encoded byte for byte
#include <cstdio>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/actionstate/serde.h"
#include "aftk/json/writer.h"
#include "aftk/kafka/store.h"
#include "aftk/kafka/topic_id.h"

using namespace aftk;

namespace {

int usage() {
  std::fprintf(stderr, "usage: aftk_interop put BROKERS TOPIC RECORDS.jsonl | rebuild BROKERS TOPIC\n");
  return 2;
}

Result<std::unique_ptr<kafka::KafkaActionStateStore>> open(const std::string& brokers, const std::string& topic,
                                                           bool create) {
  kafka::ClientConfig c;
  c.set("bootstrap.servers", brokers);
  kafka::StoreOptions o;
  o.topic = topic;
  o.create_topic = create;
  return kafka::KafkaActionStateStore::open(c, o);
}

int put(const std::string& brokers, const std::string& topic, const std::string& path) {
  auto store = open(brokers, topic, true);
  if (!store) return std::fprintf(stderr, "aftk_interop: %s\n", store.error().to_string().c_str()), 1;
  std::ifstream in(path);
  std::string line;
  simdjson::ondemand::parser parser;
  actionstate::Decoder decoder;
  int n = 0, lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    std::int64_t partition = doc["partition"].get_int64().value();
    std::string key(doc["key"].get_string().value());
    auto v = doc["value"];
    if (v.is_null()) continue;  // tombstones are written by prune, not put
    std::string value(v.get_string().value());
    auto k = actionstate::parse_key(key);
    auto state = decoder.decode(value);
    if (!k || !state) {
      std::fprintf(stderr, "aftk_interop: %s:%d: %s\n", path.c_str(), lineno,
                   (!k ? k.error() : state.error()).to_string().c_str());
      return 1;
    }
    if (auto st = (*store)->put(*k, *state); !st) {
      std::fprintf(stderr, "aftk_interop: %s\n", st.error().to_string().c_str());
      return 1;
    }
    const auto* e = (*store)->cache().find(key);
    if (e == nullptr || e->position.partition != partition) {
      std::fprintf(stderr, "aftk_interop: %s:%d: '%s' landed in partition %d, upstream put it in %lld\n", path.c_str(),
                   lineno, key.c_str(), e ? e->position.partition : -1, static_cast<long long>(partition));
      return 3;
    }
    ++n;
  }
  std::fprintf(stderr, "aftk_interop: put %d states\n", n);
  return 0;
}

int rebuild(const std::string& brokers, const std::string& topic) {
  auto store = open(brokers, topic, false);
  if (!store) return std::fprintf(stderr, "aftk_interop: %s\n", store.error().to_string().c_str()), 1;
  actionstate::RecoveryMarker m;
  for (int p = 0; p < (*store)->num_partitions(); ++p) m.offsets[p] = 0;
  std::vector<actionstate::RecoveryMarker> markers{m};
  auto r = (*store)->rebuild(markers);
  if (!r) return std::fprintf(stderr, "aftk_interop: %s\n", r.error().to_string().c_str()), 1;
  for (const auto& p : r->problems) std::fprintf(stderr, "aftk_interop: %s\n", p.error.to_string().c_str());
  int bad = static_cast<int>(r->problems.size());
  actionstate::Decoder decoder;
  std::string out;
  (*store)->cache().for_each([&](const actionstate::StateCache::Entry& e) {
    // Field by field: the decoded state must re-encode to exactly the bytes read.
    auto state = decoder.decode(e.value);
    if (!state || actionstate::encode(*state) != e.value) {
      std::fprintf(stderr, "aftk_interop: partition %d offset %lld: value does not round-trip\n", e.position.partition,
                   static_cast<long long>(e.position.offset));
      ++bad;
    }
    out += fmt::format("{{\"partition\":{},\"offset\":{},\"key\":", e.position.partition, e.position.offset);
    json::append_string(out, e.key.to_string());
    out += ",\"value\":";
    json::append_string(out, e.value);
    out += "}\n";
  });
  std::fwrite(out.data(), 1, out.size(), stdout);
  return bad == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  std::string cmd = argv[1];
  if (cmd == "topic-id" && argc == 4) {
    kafka::ClientConfig c;
    c.set("bootstrap.servers", argv[2]);
    auto id = kafka::fetch_topic_id(c, argv[3], std::chrono::seconds(10));
    if (!id) return std::fprintf(stderr, "aftk_interop: %s\n", id.error().to_string().c_str()), 1;
    std::printf("%s\n", id->c_str());
    return 0;
  }
  if (cmd == "put" && argc == 5) return put(argv[2], argv[3], argv[4]);
  if (cmd == "rebuild" && argc == 4) return rebuild(argv[2], argv[3]);
  return usage();
}
