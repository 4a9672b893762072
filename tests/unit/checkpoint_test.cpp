// SPDX-License-Identifier: Apache-2.0
// Tests of the checkpoint module: the Kryo reader on genuine payloads, the _metadata reader.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aftk/checkpoint/checkpoint.h"
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

// ---------------------------------------------------------------------------------------------
// _metadata and the recovery markers

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> fixture_checkpoints() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::recursive_directory_iterator(testdata("real-job")))
    if (e.path().filename() == "_metadata") dirs.push_back(e.path().parent_path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::vector<std::uint8_t> file_bytes(const fs::path& p) {
  const std::string s = slurp(p.string());
  return {s.begin(), s.end()};
}

fs::path scratch_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("aftk-checkpoint-test-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("Checkpoint.every fixture checkpoint and savepoint gives its recorded markers") {
  // tests/data/real-job/ holds the genuine checkpoints of the shared fixtures (Flink 2.3.0,
  // metadata version 6): inline streams in the first jobs, RelativeFileStateHandle files in
  // restored/. markers.json beside each is what Flink's State Processor API read.
  const auto dirs = fixture_checkpoints();
  CHECK(dirs.size() == 40);
  int with_files = 0;
  for (const auto& dir : dirs) {
    CAPTURE(dir.string());
    auto got = checkpoint::read_recovery_markers(dir.string());
    REQUIRE_MESSAGE(got.has_value(), got.error().to_string());
    auto want = actionstate::parse_markers(slurp((dir / "markers.json").string()));
    REQUIRE(want.has_value());
    CHECK(got->markers() == *want);
    CHECK(got->operator_id == "f7d5c2c435a4d5b8c09f995c43ee588a");
    CHECK(got->operator_name == "action-execute-operator");
    REQUIRE(got->elements.size() == 2);
    CHECK(got->elements[0].subtask == 0);
    CHECK(got->elements[1].subtask == 1);
    CHECK(got->elements[0].java_class == "java.util.HashMap");
    if (got->elements[0].file != got->metadata_path) ++with_files;
    // The chk-N number is the checkpoint id.
    const std::string name = dir.filename().string();
    if (name.rfind("chk-", 0) == 0) CHECK(std::to_string(got->checkpoint_id) == name.substr(4));
  }
  CHECK(with_files == 12);  // restored/: five checkpoints and a savepoint in each version
}

TEST_CASE("Checkpoint.metadata lists the operators and their operator states") {
  const auto dirs = fixture_checkpoints();
  auto m = checkpoint::read_metadata(dirs.front().string());
  REQUIRE(m.has_value());
  CHECK(m->version == 6);
  REQUIRE(m->operators.size() == 5);
  int holders = 0;
  for (const auto& op : m->operators) {
    if (!op.holds_operator_state("recoveryMarker")) continue;
    ++holders;
    CHECK(op.parallelism == 2);
    CHECK(op.max_parallelism == 128);
    CHECK(op.holds_operator_state("currentProcessingKeys"));
    CHECK(op.holds_operator_state("identifier_state"));
    for (const auto& st : op.subtasks)
      for (const auto& h : st.managed_operator_state)
        for (const auto& s : h.states)
          if (s.name == "recoveryMarker") CHECK(s.mode == checkpoint::DistributionMode::kUnion);
  }
  CHECK(holders == 1);
}

TEST_CASE("Checkpoint.the operator can be chosen by uid hash, and a wrong one is refused") {
  const auto dir = fixture_checkpoints().front().string();
  checkpoint::OperatorSelector sel;
  sel.uid_hash = "F7D5C2C435A4D5B8C09F995C43EE588A";
  auto ok = checkpoint::read_recovery_markers(dir, sel);
  REQUIRE(ok.has_value());
  CHECK(ok->elements.size() == 2);
  sel.uid_hash = "5d02bdabb0431f5e96032ee41afd4009";  // the Map operator: no markers
  auto none = checkpoint::read_recovery_markers(dir, sel);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == Errc::kNotFound);
  CHECK(none.error().message.find("holds no 'recoveryMarker' state") != std::string::npos);
  sel = {};
  sel.uid = "fx-count";  // the Map operator's uid
  CHECK(checkpoint::read_recovery_markers(dir, sel).error().code == Errc::kNotFound);
  sel.uid = "no-such-uid";
  CHECK(checkpoint::read_recovery_markers(dir, sel).error().message.find("has no operator") !=
        std::string::npos);
}

TEST_CASE("Checkpoint.a truncated _metadata names the file and the byte offset") {
  const fs::path src = fixture_checkpoints().front() / "_metadata";
  const auto bytes = file_bytes(src);
  for (std::size_t cut : {std::size_t{3}, std::size_t{30}, std::size_t{300}, bytes.size() / 2}) {
    CAPTURE(cut);
    const std::span<const std::uint8_t> prefix(bytes.data(), cut);
    auto r = checkpoint::parse_metadata(prefix, "x/_metadata");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::kCorruptRecord);
    CHECK(r.error().message.find("cannot read 'x/_metadata': truncated at byte " +
                                 std::to_string(cut)) == 0);
  }
}

TEST_CASE("Checkpoint.an unknown version or a wrong magic number is refused at its offset") {
  auto bytes = file_bytes(fixture_checkpoints().front() / "_metadata");
  bytes[7] = 9;  // version 9
  auto v = checkpoint::parse_metadata(bytes, "m");
  REQUIRE_FALSE(v.has_value());
  CHECK(v.error().code == Errc::kUnsupported);
  CHECK(v.error().message == "cannot read 'm': metadata version 9 (3 to 7 are read) at byte 4");
  bytes[0] = 0;
  auto g = checkpoint::parse_metadata(bytes, "m");
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().code == Errc::kCorruptRecord);
  CHECK(g.error().where == "m:byte 0");
}

TEST_CASE("Checkpoint.a missing state file and another job's checkpoint are named errors") {
  fs::path restored;
  for (const auto& d : fixture_checkpoints())
    if (d.string().find("restored/checkpoints") != std::string::npos) restored = d;
  REQUIRE_FALSE(restored.empty());
  // Copy the checkpoint elsewhere (handles are relative: it still reads), then drop a file.
  const fs::path copy = scratch_dir("missing");
  fs::copy(restored, copy, fs::copy_options::recursive);
  auto moved = checkpoint::read_recovery_markers(copy.string());
  REQUIRE_MESSAGE(moved.has_value(), moved.error().to_string());
  const std::string gone = moved->elements[1].file;
  fs::remove(gone);
  auto missing = checkpoint::read_recovery_markers(copy.string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().message.find("state file '" + gone + "'") != std::string::npos);
  CHECK(missing.error().message.find("is missing") != std::string::npos);

  // A job without the action-execute operator: magic, version 6, id 1, no masters, no operators.
  const fs::path other = scratch_dir("other-job");
  {
    const unsigned char m[] = {0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1,
                               0,    0,    0,    0,    0, 0, 0, 0};
    std::ofstream(other / "_metadata", std::ios::binary)
        .write(reinterpret_cast<const char*>(m), sizeof m);
  }
  auto none = checkpoint::read_recovery_markers(other.string());
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == Errc::kNotFound);
  CHECK(none.error().message.find("none of its 0 operators holds the union list state") !=
        std::string::npos);
  CHECK(checkpoint::is_checkpoint(other.string()));
  CHECK_FALSE(checkpoint::is_checkpoint(testdata("kryo")));
  fs::remove_all(copy);
  fs::remove_all(other);
}

TEST_CASE("Kryo.every proper prefix of a genuine payload is opaque; flipped bits never crash") {
  std::istringstream lines(slurp(testdata("kryo/kryo-values.jsonl")));
  const KryoRegistry registry = fixture_registry();
  int cut = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"envelope\":null") != std::string::npos) continue;
    std::string b64 = member_text(line, "payload", "payloadHex");
    b64 = b64.substr(1, b64.rfind('"') - 1);
    std::string payload;
    REQUIRE(json::base64_decode(b64, payload).has_value());
    for (std::size_t n = 0; n < payload.size(); ++n) {
      const KryoValue v = decode_payload(as_bytes(payload.substr(0, n)), registry);
      CHECK(v.opaque);
      CHECK(v.size == n);
      ++cut;
      // A flipped bit anywhere gives some answer (a value or opaque), never a crash.
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = payload;
        flipped[n] = static_cast<char>(flipped[n] ^ (1 << bit));
        const KryoValue f = decode_payload(as_bytes(flipped), registry);
        CHECK((f.opaque || !f.json.empty()));
      }
    }
  }
  CHECK(cut == 912);  // the payloads' bytes, all told
}

TEST_CASE("Kryo.counts the bytes cannot back are refused before anything is built") {
  std::vector<std::uint8_t> list = {0x01, 0x00};
  for (char c : std::string("java.util.ArrayLis")) list.push_back(static_cast<std::uint8_t>(c));
  list.push_back('t' | 0x80);
  list.push_back(0x01);  // new object
  SUBCASE("a list of four billion mixed elements in a few bytes") {
    for (std::uint8_t b : {0x7f, 0xff, 0xff, 0xff, 0x0f}) list.push_back(b);  // no flag, huge
    const KryoValue v = decode_payload(list);
    CHECK(v.opaque);
    CHECK(v.reason.find("truncated") != std::string::npos);
  }
  SUBCASE("a list of millions of nulls") {
    for (std::uint8_t b : {0xff, 0xff, 0xff, 0x0f}) list.push_back(b);  // same class, huge
    list.push_back(0x00);                                            // the class: null
    const KryoValue v = decode_payload(list);
    CHECK(v.opaque);
    CHECK(v.reason.find("nulls") != std::string::npos);
  }
  SUBCASE("references doubling a string on every level") {
    // [s, s] nested 40 deep through back-references to the list one level down: ids count
    // lists and the string in the order they start.
    std::vector<std::uint8_t> b = {0x01, 0x00};
    for (char c : std::string("java.util.ArrayLis")) b.push_back(static_cast<std::uint8_t>(c));
    b.push_back('t' | 0x80);
    b.push_back(0x01);
    b.push_back(0x03);  // two mixed elements
    std::vector<std::uint8_t> inner = {0x03, 0x01};  // a 64-character string
    for (int i = 0; i < 63; ++i) inner.push_back('x');
    inner.push_back('x' | 0x80);
    // Level 0: [str, str]; level k: [list_{k-1}, list_{k-1}] built innermost first.
    std::vector<std::uint8_t> payload;
    // Outer lists first (each written: class, new, 2 elements; first element is the next
    // list, second a reference to it).
    const int levels = 40;
    for (int k = 0; k < levels; ++k) {
      payload.insert(payload.end(), {0x01, 0x00, 0x01, 0x03});
    }
    payload.insert(payload.end(), inner.begin(), inner.end());
    payload.insert(payload.end(), {0x03, static_cast<std::uint8_t>(levels + 2)});  // the string
    for (int k = levels - 1; k >= 0; --k)  // then each list's second element: the list below
      payload.insert(payload.end(), {0x01, 0x00, static_cast<std::uint8_t>(k + 1 + 2)});
    b.erase(b.end() - 2, b.end());  // the header above is rebuilt by the loop
    b.insert(b.end(), payload.begin() + 2, payload.end());
    const KryoValue v = decode_payload(b);
    CHECK(v.opaque);
    CHECK(v.size == b.size());
    CHECK(v.reason.find("references repeat more than 64 MiB of JSON") != std::string::npos);
  }
}

TEST_CASE("Checkpoint.damaged _metadata never crashes: truncations and flipped bytes") {
  const auto bytes = file_bytes(fixture_checkpoints().front() / "_metadata");
  const auto whole = checkpoint::parse_metadata(bytes, "m");
  REQUIRE(whole.has_value());
  // Past the operators only the checkpoint properties follow, which are not read.
  for (std::size_t n = 0; n < whole->operators_end; n += 13) {
    auto r = checkpoint::parse_metadata(std::span<const std::uint8_t>(bytes.data(), n), "m");
    CHECK_FALSE(r.has_value());
  }
  std::uint32_t seed = 12345;
  for (int i = 0; i < 3000; ++i) {
    auto copy = bytes;
    seed = seed * 1103515245u + 12345u;
    const std::size_t at = (seed >> 8) % copy.size();
    copy[at] ^= static_cast<std::uint8_t>(1u << ((seed >> 4) % 8));
    auto r = checkpoint::parse_metadata(copy, "m");  // any result, but a result
    if (!r) CHECK(r.error().where.rfind("m:byte ", 0) == 0);
  }
}
