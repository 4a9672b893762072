// SPDX-License-Identifier: Apache-2.0
// state-prune plan run in-process: upstream's plan.json from markers and checkpoints, and the
// older invocations still meaning what they meant.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

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
