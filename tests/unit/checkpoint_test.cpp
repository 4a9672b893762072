// SPDX-License-Identifier: Apache-2.0
// Tests of the checkpoint module: the Kryo reader on genuine payloads, the _metadata reader.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aftk/checkpoint/kryo.h"
#include "aftk/json/base64.h"

using namespace aftk;
using namespace aftk::checkpoint;

namespace {

std::string testdata(const std::string& rel) {
  const char* d = std::getenv("AFTK_TESTDATA");
  REQUIRE(d != nullptr);
  return std::string(d) + "/" + rel;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The text of a top-level member of a one-line compact JSON object, cut out as it stands.
std::string member_text(const std::string& line, const std::string& name, const std::string& next) {
  const std::string open = "\"" + name + "\":";
  const auto a = line.find(open);
  const auto b = line.find(",\"" + next + "\":", a);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  return line.substr(a + open.size(), b - a - open.size());
}

std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

KryoRegistry fixture_registry() {
  // The fixtures' own class, as their README describes it.
  KryoRegistry r = KryoRegistry::standard();
  r.add({"aftkfx.KryoPojo",
         {{"name", KryoFieldKind::kString, {}},
          {"count", KryoFieldKind::kInt, {}},
          {"score", KryoFieldKind::kDouble, {}},
          {"tags", KryoFieldKind::kObject, {"java.lang.String"}},
          {"child", KryoFieldKind::kObject, {}}}});
  return r;
}

}  // namespace

TEST_CASE("Kryo.every genuine envelope decodes to its recorded value") {
  const KryoRegistry registry = fixture_registry();
  std::istringstream lines(slurp(testdata("kryo/kryo-values.jsonl")));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const std::string label = member_text(line, "label", "javaClass");
    const std::string java_class = member_text(line, "javaClass", "valueJson");
    const std::string value = member_text(line, "valueJson", "envelope");
    CAPTURE(label);
    ++count;
    if (java_class == "null") {  // the envelope serializer is never called for null
      CHECK(value == "null");
      const std::string kryo_null(1, '\0');
      const KryoValue v = decode_payload(as_bytes(kryo_null), registry);
      CHECK_FALSE(v.opaque);
      CHECK(v.json == "null");
      continue;
    }
    const std::string payload_b64 =
        member_text(line, "payload", "payloadHex").substr(0, std::string::npos);
    // "payload":"...."} sits inside the envelope object: strip the quotes and the brace.
    const auto end = payload_b64.rfind('"');
    REQUIRE(end != std::string::npos);
    std::string payload;
    REQUIRE(json::base64_decode(payload_b64.substr(1, end - 1), payload).has_value());
    const KryoValue v = decode_payload(as_bytes(payload), registry);
    CAPTURE(v.reason);
    CHECK_FALSE(v.opaque);
    CHECK("\"" + v.java_class + "\"" == java_class);
    CHECK(v.json == value);
    CHECK(v.size == payload.size());
  }
  CHECK(count == 35);
}

TEST_CASE("Kryo.an object of an unknown class is opaque with its name and size") {
  // 01 00 "a.B" (last char | 0x80), reference 01, then bytes only B's serializer understands.
  const std::vector<std::uint8_t> bytes = {0x01, 0x00, 'a', '.', 'B' | 0x80, 0x01, 0x07, 0x09};
  const KryoValue v = decode_payload(bytes);
  CHECK(v.opaque);
  CHECK(v.java_class == "a.B");
  CHECK(v.size == bytes.size());
  CHECK(v.reason.find("no reader for class a.B") != std::string::npos);
  CHECK(v.json.empty());
}

TEST_CASE("Kryo.the fixture POJO without its layout is opaque, not guessed") {
  std::istringstream lines(slurp(testdata("kryo/kryo-values.jsonl")));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("\"label\":\"pojo\"") == std::string::npos) continue;
    std::string b64 = member_text(line, "payload", "payloadHex");
    b64 = b64.substr(1, b64.rfind('"') - 1);
    std::string payload;
    REQUIRE(json::base64_decode(b64, payload).has_value());
    const KryoValue v = decode_payload(as_bytes(payload));
    CHECK(v.opaque);
    CHECK(v.java_class == "aftkfx.KryoPojo");
    CHECK(v.size == payload.size());
  }
}

TEST_CASE("Kryo.back-references repeat the object they point to") {
  // ArrayList of two elements, both the same String: the second is reference id 1 (+2 = 3);
  // id 0 is the list itself.
  std::vector<std::uint8_t> bytes = {0x01, 0x00};
  for (char c : std::string("java.util.ArrayLis")) bytes.push_back(static_cast<std::uint8_t>(c));
  bytes.push_back('t' | 0x80);
  const std::vector<std::uint8_t> rest = {0x01, 0x03, 0x03, 0x01, 'h', 'i' | 0x80, 0x03, 0x03};
  bytes.insert(bytes.end(), rest.begin(), rest.end());
  const KryoValue v = decode_payload(bytes);
  CAPTURE(v.reason);
  CHECK_FALSE(v.opaque);
  CHECK(v.json == "[\"hi\",\"hi\"]");
  // A reference to the list from inside itself is a cycle JSON cannot show.
  bytes.back() = 0x02;
  bytes[bytes.size() - 2] = 0x01;  // class: name id follows
  bytes.back() = 0x00;             // name id 0 (ArrayList)
  bytes.push_back(0x02);           // reference to object 0, still being read
  const std::vector<std::uint8_t> cyc(bytes);
  const KryoValue c = decode_payload(cyc);
  CHECK(c.opaque);
  CHECK(c.reason.find("cycle") != std::string::npos);
}

TEST_CASE("Kryo.a truncated payload names the byte offset") {
  const std::vector<std::uint8_t> bytes = {0x03, 0x01, 'h', 'e'};  // String without its last char
  auto r = read_class_and_object(bytes);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::kCorruptRecord);
  CHECK(r.error().message == "truncated Kryo data at byte 4");
}

TEST_CASE("Kryo.the versioned recovery marker reads field by field") {
  // Bytes as FieldSerializer writes KafkaActionStateRecoveryMarker (fields by name: offsets,
  // schemaVersion, topic, topicId): offsets is a HashMap<Integer, Long> whose key and value
  // classes are known, so each carries only a not-null byte.
  std::vector<std::uint8_t> b = {0x01, 0x00};
  for (char c : std::string(kRecoveryMarkerClass.substr(0, kRecoveryMarkerClass.size() - 1)))
    b.push_back(static_cast<std::uint8_t>(c));
  b.push_back('r' | 0x80);
  const std::vector<std::uint8_t> rest = {
      0x01,                    // reference: new object
      0x01, 0x01,              // offsets: class by name, name id 1 follows
      'j', 'a', 'v', 'a', '.', 'u', 't', 'i', 'l', '.', 'H', 'a', 's', 'h', 'M', 'a', 'p' | 0x80,
      0x01, 0x03,              // new object, 2 entries
      0x01, 0x00, 0x01, 0x14,  // 0 -> 10
      0x01, 0x02, 0x01, 0x28,  // 1 -> 20
      0x02,                    // schemaVersion 1
      0x01, 't', 'o', 'p', 'i', 'c' | 0x80,
      0x01, 'i', 'd' | 0x80};
  b.insert(b.end(), rest.begin(), rest.end());
  const KryoValue v = decode_payload(b);
  CAPTURE(v.reason);
  CHECK_FALSE(v.opaque);
  CHECK(v.java_class == kRecoveryMarkerClass);
  CHECK(v.json == R"({"schemaVersion":1,"topic":"topic","topicId":"id","offsets":{"0":10,"1":20}})");
}
