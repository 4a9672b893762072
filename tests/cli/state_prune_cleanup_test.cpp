// SPDX-License-Identifier: Apache-2.0
// state-prune plan run in-process: upstream's plan.json from markers and checkpoints, and the
// older invocations still meaning what they meant.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <string>

#include "aftk/actionstate/cleanup_plan.h"
#include "aftk/checkpoint/checkpoint.h"
#include "aftk/checkpoint/kryo.h"
#include "run_tool.h"
#include "state_prune.h"

using aftk::test::run_tool;
namespace fs = std::filesystem;

namespace {

aftk::test::ToolRun prune(std::vector<std::string> args) {
  return run_tool(aftk::tools::state_prune::main, "state-prune", std::move(args));
}

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() /
                   ("aftk-cleanup-cli-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string marker(int p0, int p1, const std::string& id = "topic-id") {
  return "{\"schemaVersion\":1,\"topic\":\"action-state\",\"topicId\":\"" + id +
         "\",\"offsets\":{\"0\":" + std::to_string(p0) + ",\"1\":" + std::to_string(p1) + "}}";
}

// The spec's example plan (flink-agents-newer-formats.md §1.4), as upstream writes it.
std::string spec_plan_text() {
  return aftk::test::read_file(aftk::test::data_dir() + "/cleanup/spec-example-plan.json");
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Kryo's ASCII string form: the last byte has its high bit set.
void put_ascii(std::string& b, const std::string& s) {
  b += s;
  b.back() = static_cast<char>(b.back() | 0x80);
}
void put_varint(std::string& b, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) b.push_back(static_cast<char>((v & 0x7f) | 0x80));
  b.push_back(static_cast<char>(v));
}
std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

// A KafkaActionStateRecoveryMarker as writeClassAndObject writes it (FieldSerializer, fields by
// name: offsets, schemaVersion, topic, topicId), the layout the Kryo unit test reads.
std::string kryo_marker(const std::string& topic, const std::string& id,
                        const std::map<int, std::int64_t>& offsets) {
  std::string b{"\x01\x00", 2};
  put_ascii(b, std::string(aftk::checkpoint::kRecoveryMarkerClass));
  b += "\x01\x01\x01";  // new object; offsets: class by name, name id 1 follows
  put_ascii(b, "java.util.HashMap");
  b += '\x01';
  put_varint(b, offsets.size() + 1);
  for (const auto& [p, o] : offsets) {
    b += '\x01';
    put_varint(b, zigzag(p));
    b += '\x01';
    put_varint(b, zigzag(o));
  }
  put_varint(b, zigzag(1));  // schemaVersion
  b += '\x01';
  put_ascii(b, topic);
  b += '\x01';
  put_ascii(b, id);
  return b;
}

// A copy of a genuine checkpoint whose markers are state files beside _metadata, with each
// subtask's marker (the last element of its file) replaced by a versioned one: the fixtures'
// jobs predate the versioned marker, so no genuine checkpoint holds one.
std::string versioned_checkpoint(const fs::path& where,
                                 const std::vector<std::map<int, std::int64_t>>& per_subtask) {
  std::string src;
  for (const auto& e : fs::recursive_directory_iterator(
           aftk::test::data_dir() + "/real-job/flink-agents-main-8ad3a32/restored/checkpoints"))
    if (e.path().filename() == "_metadata" && src.empty()) src = e.path().parent_path().string();
  REQUIRE_FALSE(src.empty());
  fs::copy(src, where, fs::copy_options::recursive);
  auto found = aftk::checkpoint::read_recovery_markers(where.string());
  REQUIRE(found.has_value());
  REQUIRE(found->elements.size() == per_subtask.size());
  for (size_t i = 0; i < per_subtask.size(); ++i) {
    const auto& e = found->elements[i];
    REQUIRE(e.file != found->metadata_path);  // a file of its own, the marker last in it
    std::string bytes = aftk::test::read_file(e.file).substr(0, e.offset);
    bytes += kryo_marker("agent-state", "dGhpc2lzYXRvcGljaWQxMg", per_subtask[i]);
    std::ofstream(e.file, std::ios::binary | std::ios::trunc) << bytes;
  }
  return where.string();
}

}  // namespace

TEST_CASE("state-prune plan.the spec's example, byte for byte, created new and owner-only") {
  const auto dir = scratch("spec");
  const auto markers =
      write(dir / "markers.json", "[" + marker(10, 30) + "," + marker(12, 31) + "]");
  const auto out = (dir / "plan.json").string();
  auto r = prune(
      {"plan", "-m", markers, "--source-recovery-point", "checkpoint-42", "--output", out});
  CAPTURE(r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.out == "Created cleanup plan "
                 "d9e4a7af5055ce900c537ef2f32b7ccbee307dbf27419c33656014741f79fd1c at " +
                     fs::absolute(out).string() + "\n");
  CHECK(aftk::test::read_file(out) == spec_plan_text());
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // Never replaced: the second run fails and the file keeps its bytes.
  write(dir / "other.json", "[" + marker(1, 1) + "]");
  auto again = prune({"plan", "-m", (dir / "other.json").string(), "--output", out});
  CHECK(again.rc == 1);
  CHECK(contains(again.err, "file exists"));
  CHECK(aftk::test::read_file(out) == spec_plan_text());

  // --output - prints the plan instead.
  auto shown = prune({"plan", "-m", markers, "--source-recovery-point", "checkpoint-42",
                      "--output", "-"});
  CHECK(shown.rc == 0);
  CHECK(shown.out == spec_plan_text());
}

TEST_CASE("state-prune plan.refuses legacy markers, the zero topic id, and says why") {
  const auto dir = scratch("refuse");
  // A genuine checkpoint of the 8ad3a32 job: its markers are legacy maps.
  std::string ckpt;
  for (const auto& e : fs::recursive_directory_iterator(aftk::test::data_dir() +
                                                        "/real-job/flink-agents-main-8ad3a32"))
    if (e.path().filename() == "_metadata" && ckpt.empty()) ckpt = e.path().parent_path().string();
  REQUIRE_FALSE(ckpt.empty());
  const auto out = (dir / "plan.json").string();
  auto legacy = prune({"plan", "--checkpoint", ckpt, "--output", out});
  CHECK(legacy.rc == 1);
  CHECK(contains(legacy.err, "requires versioned Kafka recovery markers"));
  CHECK_FALSE(fs::exists(out));

  const auto zero = write(dir / "zero.json", marker(1, 2, "AAAAAAAAAAAAAAAAAAAAAA"));
  auto z = prune({"plan", "-m", zero, "--output", out});
  CHECK(z.rc == 1);
  CHECK(contains(z.err, "zero topic id"));
  CHECK_FALSE(fs::exists(out));

  auto not_ckpt = prune({"plan", "--checkpoint", dir.string(), "--output", out});
  CHECK(not_ckpt.rc == 1);
  CHECK(contains(not_ckpt.err, "not a checkpoint"));
}

TEST_CASE("state-prune plan.several recovery points: the oldest, or a refusal when none is") {
  const auto dir = scratch("several");
  const auto older = write(dir / "older.json", marker(10, 30));
  const auto newer = write(dir / "newer.json", marker(15, 40));
  const auto crossed = write(dir / "crossed.json", marker(5, 50));
  auto r = prune({"plan", "-m", newer, "-m", older, "--output", "-"});
  CAPTURE(r.err);
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "\"sourceRecoveryPoint\" : \"" + older + "\""));
  CHECK(contains(r.err, "oldest recovery point"));
  auto bad = prune({"plan", "-m", older, "-m", crossed, "--output", "-"});
  CHECK(bad.rc == 1);
  CHECK(bad.out.empty());
  const auto other = write(dir / "other.json", marker(1, 1, "other-id"));
  auto topics = prune({"plan", "-m", older, "-m", other, "--output", "-"});
  CHECK(topics.rc == 1);
  CHECK(contains(topics.err, "different topics"));
}

TEST_CASE("state-prune plan.usage errors") {
  CHECK(prune({"plan", "--output", "-"}).rc == 2);
  CHECK(prune({"plan", "-m", "a.json"}).rc == 2);  // --output is required
  CHECK(prune({"plan", "-m", "a", "-m", "b", "--source-recovery-point", "x", "--output", "-"}).rc ==
        2);
  CHECK(prune({"plan", "--bogus"}).rc == 2);
  CHECK(prune({"plan", "--help"}).rc == 0);
  CHECK(prune({"verify", "--help"}).rc == 0);
  CHECK(prune({"apply", "--help"}).rc == 0);
  CHECK(prune({"apply", "--plan", "p.json"}).rc == 2);  // --control-topic is required
}

TEST_CASE("state-prune plan.the tombstone modes keep their invocations, a store named plan too") {
  const auto dir = scratch("old-modes");
  const auto store = (dir / "plan").string();
  fs::copy_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl", store);
  // The store as the last argument, as before: the cleanup commands look at argv[1] only.
  auto r = prune({"--json", "--completed", store});
  CAPTURE(r.err);
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "\"plan\":\"tombstone\""));
  auto abs_first = prune({store, "--completed", "--json"});
  CHECK(abs_first.rc == 0);
  CHECK(abs_first.out == r.out);
}

TEST_CASE("state-prune plan.from a checkpoint holding versioned markers: per-partition minimum") {
  const auto dir = scratch("versioned");
  const auto older = versioned_checkpoint(dir / "chk-10", {{{0, 10}, {1, 20}}, {{0, 30}, {1, 0}}});
  const auto newer = versioned_checkpoint(dir / "chk-12", {{{0, 40}, {1, 20}}, {{0, 30}, {1, 5}}});
  const auto out = (dir / "plan.json").string();
  auto r = prune({"plan", "--checkpoint", older, "--source-recovery-point", "s3://b/job/chk-10",
                  "--output", out});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  auto plan = aftk::actionstate::read_cleanup_plan_file(out);
  REQUIRE(plan.has_value());
  CHECK(plan->offsets == aftk::actionstate::OffsetMap{{0, 10}, {1, 0}});
  CHECK(plan->topic == "agent-state");
  CHECK(plan->topic_id == "dGhpc2lzYXRvcGljaWQxMg");
  CHECK(plan->source_recovery_point == "s3://b/job/chk-10");
  CHECK(plan->plan_id == aftk::actionstate::cleanup_plan_id("s3://b/job/chk-10", "agent-state",
                                                            "dGhpc2lzYXRvcGljaWQxMg",
                                                            {{0, 10}, {1, 0}}));
  // Both checkpoints: the plan is the older one's, named by its path.
  auto both = prune({"plan", "--checkpoint", newer, "--checkpoint", older, "--output", "-"});
  CHECK(both.rc == 0);
  CHECK(contains(both.out, "\"sourceRecoveryPoint\" : \"" + older + "\""));
  CHECK(contains(both.out, "\"0\" : 10,\n    \"1\" : 0\n"));
}
