// SPDX-License-Identifier: Apache-2.0
// Tests of cleanup plans (plan.json) and cleanup control records, against the spec's vectors.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aftk/actionstate/cleanup_plan.h"

using namespace aftk;
using namespace aftk::actionstate;

namespace {

RecoveryMarker versioned(OffsetMap offsets, std::string topic = "action-state",
                         std::string id = "topic-id") {
  return {1, std::move(topic), std::move(id), std::move(offsets)};
}

// The spec's example plan (flink-agents-newer-formats.md §1.4), as upstream writes it.
std::string spec_plan_text() {
  const char* d = std::getenv("AFTK_TESTDATA");
  REQUIRE(d != nullptr);
  std::ifstream in(std::string(d) + "/cleanup/spec-example-plan.json", std::ios::binary);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CleanupPlan spec_plan() {
  std::vector<RecoveryMarker> m{versioned({{0, 10}, {1, 30}})};
  auto p = plan_from_markers(m, "checkpoint-42");
  REQUIRE(p.has_value());
  return *p;
}

// spec_plan_text() with one piece of text replaced.
std::string spec_with(const std::string& from, const std::string& to) {
  std::string s = spec_plan_text();
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

std::string rejection(const std::string& text) {
  auto r = parse_cleanup_plan(text);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::kInvalidArgument);
  return r.error().message;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("CleanupPlan.reproduces the spec's example plan.json byte for byte") {
  const CleanupPlan p = spec_plan();
  CHECK(p.plan_id == "d9e4a7af5055ce900c537ef2f32b7ccbee307dbf27419c33656014741f79fd1c");
  CHECK(to_plan_json(p) == spec_plan_text());
  auto back = parse_cleanup_plan(spec_plan_text());
  REQUIRE(back.has_value());
  CHECK(*back == p);
}

TEST_CASE("CleanupPlan.plan ids of the spec's further vectors") {
  const OffsetMap o{{0, 10}, {1, 20}};
  CHECK(cleanup_plan_id("checkpoint-42", "action-state", "topic-id", o) ==
        "99cdeb76488b04bd18cea47a474733f1d33aaf1e6f5007af15f2e4cd128d856d");
  CHECK(cleanup_plan_id("s3://checkpoints/savepoint-1", "action-state", "topic-id", o) ==
        "5b507907f0ab34e51462145dd807e8b7639b0b94d31fcd705e6d27c25a485601");
  // Partitions go in numeric order, not text order: 2 before 10.
  const OffsetMap many{{10, 1}, {2, 1}};
  CHECK(cleanup_plan_id("c", "t", "i", many) != cleanup_plan_id("c", "t", "i", {{2, 1}}));
}

TEST_CASE("CleanupPlan.from markers: per-partition minimum, as upstream's savepoint test") {
  std::vector<RecoveryMarker> m{versioned({{0, 15}, {1, 20}}), versioned({{0, 10}, {1, 25}})};
  auto p = plan_from_markers(m, "checkpoint-42");
  REQUIRE(p.has_value());
  CHECK(p->offsets == OffsetMap{{0, 10}, {1, 20}});
  CHECK(p->plan_id == "99cdeb76488b04bd18cea47a474733f1d33aaf1e6f5007af15f2e4cd128d856d");
  CHECK(p->source_recovery_point == "checkpoint-42");
}

TEST_CASE("CleanupPlan.from markers: refusals say why") {
  SUBCASE("legacy markers") {
    std::vector<RecoveryMarker> m{RecoveryMarker::legacy({{0, 5}})};
    auto p = plan_from_markers(m, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "requires versioned Kafka recovery markers"));
    CHECK(contains(p.error().message, "legacy"));
  }
  SUBCASE("a legacy marker after a versioned one") {
    std::vector<RecoveryMarker> m{versioned({{0, 5}}), RecoveryMarker::legacy({{0, 5}})};
    auto p = plan_from_markers(m, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "marker 1 is a legacy"));
  }
  SUBCASE("the all-zero topic id") {
    std::vector<RecoveryMarker> m{versioned({{0, 5}}, "t", std::string(kZeroTopicId))};
    auto p = plan_from_markers(m, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "zero topic id"));
  }
  SUBCASE("two physical topics") {
    std::vector<RecoveryMarker> m{versioned({{0, 5}}, "t", "id1"), versioned({{0, 5}}, "t", "id2")};
    auto p = plan_from_markers(m, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "more than one physical topic"));
  }
  SUBCASE("different partition sets") {
    std::vector<RecoveryMarker> m{versioned({{0, 5}, {1, 5}}), versioned({{0, 5}, {2, 5}})};
    auto p = plan_from_markers(m, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "other partitions"));
  }
  SUBCASE("no markers") {
    auto p = plan_from_markers({}, "c");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "no recovery markers"));
  }
  SUBCASE("a blank recovery point") {
    std::vector<RecoveryMarker> m{versioned({{0, 5}})};
    auto p = plan_from_markers(m, " \t");
    REQUIRE_FALSE(p.has_value());
    CHECK(contains(p.error().message, "sourceRecoveryPoint is blank"));
  }
}

TEST_CASE("CleanupPlan.strict parse rejects what upstream's fromJson rejects") {
  CHECK(contains(rejection(spec_with("\"topic\" : \"action-state\",",
                                     "\"topic\" : \"action-state\", \"topic\" : \"x\",")),
                 "duplicate key \"topic\""));
  CHECK(contains(rejection(spec_with("\"1\" : 30", "\"1\" : 30, \"1\" : 31")),
                 "duplicate key \"1\""));
  CHECK(contains(rejection(spec_plan_text() + "{}"), "after the JSON object"));
  const std::string exactly = "fields must be exactly";
  const std::string extra = "\"schemaVersion\" : 1, \"x\" : 2,";
  CHECK(contains(rejection(spec_with("\"schemaVersion\" : 1,", extra)), exactly));
  CHECK(contains(rejection(spec_with("\"topicId\" : \"topic-id\",", "")), exactly));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"0\" : 10.5")), "must be an integer"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"0\" : 1e1")), "must be an integer"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"0\" : \"10\"")), "must be an integer"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"0\" : 99999999999999999999")),
                 "fits a long"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"+0\" : 10")), "canonical"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"00\" : 10")), "canonical"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"-0\" : 10")), "canonical"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"x\" : 10")), "canonical"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"0\" : -1")), "negative"));
  CHECK(contains(rejection(spec_with("\"0\" : 10", "\"-1\" : 10")), "partition -1 is negative"));
  CHECK(contains(rejection(spec_with("{\n    \"0\" : 10,\n    \"1\" : 30\n  }", "{ }")),
                 "offsets is empty"));
  CHECK(contains(rejection(spec_with("\"action-state\"", "7")), "topic must be a string"));
  CHECK(contains(rejection(spec_with("\"action-state\"", "null")), "topic is missing"));
  CHECK(contains(rejection(spec_with("\"action-state\"", "\"  \"")), "topic is blank"));
  CHECK(contains(rejection(spec_with("\"schemaVersion\" : 1", "\"schemaVersion\" : 2")),
                 "unsupported schema 2"));
  CHECK(contains(rejection(spec_with("\"schemaVersion\" : 1", "\"schemaVersion\" : 1.0")),
                 "schemaVersion must be an integer"));
  CHECK(contains(rejection(spec_with("\"1\" : 30", "\"1\" : 31")), "does not match"));
  CHECK(contains(rejection(spec_with("d9e4", "D9E4")), "does not match"));
  CHECK(contains(rejection("[1]"), "expected one JSON object"));
  CHECK(contains(rejection("{"), "malformed"));
}

TEST_CASE("CleanupPlan.compact form and non-ASCII text as Jackson writes them") {
  std::vector<RecoveryMarker> m{versioned({{1, 30}, {0, 10}}, "état/\"q\"\n😀")};
  auto p = plan_from_markers(m, "s3://b/chk-1");
  REQUIRE(p.has_value());
  const std::string c = to_compact_json(*p);
  CHECK(c == "{\"schemaVersion\":1,\"planId\":\"" + p->plan_id +
                 "\",\"sourceRecoveryPoint\":\"s3://b/chk-1\",\"topic\":\"état/\\\"q\\\"\\n😀\","
                 "\"topicId\":\"topic-id\",\"offsets\":{\"0\":10,\"1\":30}}");
  auto back = parse_cleanup_plan(to_plan_json(*p));
  REQUIRE(back.has_value());
  CHECK(*back == *p);
}

TEST_CASE("CleanupPlan.the file is created new, owner-only, and never replaced") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "aftk-cleanup-plan-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "plan.json").string();
  const CleanupPlan p = spec_plan();
  REQUIRE(write_cleanup_plan_file(path, p).has_value());
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == spec_plan_text());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = write_cleanup_plan_file(path, p);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == Errc::kIo);
  CHECK(contains(again.error().message, "file exists"));
  // Only the plan is left: no temporary file beside it.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  auto read = read_cleanup_plan_file(path);
  REQUIRE(read.has_value());
  CHECK(*read == p);
  auto missing = read_cleanup_plan_file((dir / "none.json").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::kIo);
  fs::remove_all(dir);
}

TEST_CASE("ControlRecord.the value upstream writes, and its strict parse") {
  const ControlRecord rec{CleanupStatus::kCommitted, spec_plan()};
  const std::string v = control_record_value(rec);
  CHECK(v ==
        "{\"schemaVersion\":1,\"status\":\"COMMITTED\",\"plan\":{\"schemaVersion\":1,\"planId\":"
        "\"d9e4a7af5055ce900c537ef2f32b7ccbee307dbf27419c33656014741f79fd1c\","
        "\"sourceRecoveryPoint\":\"checkpoint-42\",\"topic\":\"action-state\",\"topicId\":"
        "\"topic-id\",\"offsets\":{\"0\":10,\"1\":30}}}");
  auto back = parse_control_record(v);
  REQUIRE(back.has_value());
  CHECK(back->status == CleanupStatus::kCommitted);
  CHECK(back->plan == rec.plan);
  auto applied = parse_control_record(control_record_value({CleanupStatus::kApplied, rec.plan}));
  REQUIRE(applied.has_value());
  CHECK(applied->status == CleanupStatus::kApplied);

  const auto bad = [](const std::string& text) {
    auto r = parse_control_record(text);
    REQUIRE_FALSE(r.has_value());
    return r.error().message;
  };
  std::string s = v;
  CHECK(contains(bad(s.replace(s.find("COMMITTED"), 9, "DONE")), "unknown status"));
  s = v;
  CHECK(contains(bad(s.replace(s.find("1,"), 1, "2")), "schemaVersion"));
  s = v;
  CHECK(contains(bad(s.insert(1, "\"x\":1,")), "fields must be exactly"));
  s = v;
  CHECK(contains(bad(s.replace(s.find("\"0\":10"), 6, "\"0\":11")), "does not match"));
  // Trailing content: simdjson finds some of it while reading the object.
  CHECK(contains(bad(v + " 1"), "JSON"));
  CHECK(contains(bad(v + "{}"), "after the JSON object"));
}

TEST_CASE("ControlState.folds records by plan id and refuses what recovery refuses") {
  const CleanupPlan a = spec_plan();
  std::vector<RecoveryMarker> mb{versioned({{0, 20}, {1, 30}})};
  const CleanupPlan b = *plan_from_markers(mb, "checkpoint-50");
  const std::string va = control_record_value({CleanupStatus::kCommitted, a});
  const std::string va_applied = control_record_value({CleanupStatus::kApplied, a});
  const std::string vb = control_record_value({CleanupStatus::kCommitted, b});

  ControlState st;
  REQUIRE(fold_control_record(st, &a.plan_id, &va, "offset 0").has_value());
  REQUIRE(fold_control_record(st, &a.plan_id, &va_applied, "offset 1").has_value());
  REQUIRE(fold_control_record(st, &b.plan_id, &vb, "offset 2").has_value());
  REQUIRE(st.operations.size() == 2);
  CHECK(st.find(a.plan_id)->status == CleanupStatus::kApplied);
  CHECK(st.find(b.plan_id)->status == CleanupStatus::kCommitted);
  CHECK(st.boundary() == OffsetMap{{0, 20}, {1, 30}});
  CHECK(check_operations(st, "action-state", "topic-id", a.offsets).has_value());

  const auto refused = [&](const std::string* key, const std::string* value) {
    ControlState copy = st;
    auto r = fold_control_record(copy, key, value, "partition 0 offset 9");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().where == "partition 0 offset 9");
    return r.error().message;
  };
  CHECK(contains(refused(&a.plan_id, &va), "back to COMMITTED"));
  CHECK(contains(refused(&a.plan_id, nullptr), "tombstone"));
  CHECK(contains(refused(nullptr, &va), "without a key"));
  CHECK(contains(refused(&b.plan_id, &va), "is not its plan's id"));

  // Same id, other plan: only possible by forging the id, which the parser already refuses.
  std::string forged = va;
  forged.replace(forged.find("checkpoint-42"), 13, "checkpoint-43");
  CHECK(contains(refused(&a.plan_id, &forged), "does not match"));

  // Incomparable boundaries: neither at or past the other everywhere.
  std::vector<RecoveryMarker> mc{versioned({{0, 5}, {1, 40}})};
  const CleanupPlan c = *plan_from_markers(mc, "checkpoint-60");
  const std::string vc = control_record_value({CleanupStatus::kCommitted, c});
  ControlState inc = st;
  REQUIRE(fold_control_record(inc, &c.plan_id, &vc, "offset 3").has_value());
  auto chk = check_operations(inc, "action-state", "topic-id", a.offsets);
  REQUIRE_FALSE(chk.has_value());
  CHECK(contains(chk.error().message, "incomparable"));
  auto other = check_operations(st, "action-state", "other-id", a.offsets);
  REQUIRE_FALSE(other.has_value());
  CHECK(contains(other.error().message, "one action-state topic"));
  auto parts = check_operations(st, "action-state", "topic-id", {{0, 0}});
  REQUIRE_FALSE(parts.has_value());
  CHECK(contains(parts.error().message, "partition set"));
}

TEST_CASE("CleanupPlan.advances_or_equals") {
  CHECK(advances_or_equals({{0, 1}}, {}));
  CHECK(advances_or_equals({{0, 1}, {1, 2}}, {{0, 1}, {1, 2}}));
  CHECK(advances_or_equals({{0, 2}, {1, 2}}, {{0, 1}, {1, 2}}));
  CHECK_FALSE(advances_or_equals({{0, 0}, {1, 9}}, {{0, 1}, {1, 2}}));
  CHECK_FALSE(advances_or_equals({{0, 5}}, {{0, 1}, {1, 2}}));
  CHECK_FALSE(advances_or_equals({{0, 5}, {2, 5}}, {{0, 1}, {1, 2}}));
}
