// SPDX-License-Identifier: Apache-2.0
// state-inspect --pending, --stats and --check, and state-prune's strategies, run in-process on
// golden and hand-made dumps.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "run_tool.h"
#include "aftk/actionstate/health.h"
#include "state_inspect.h"
#include "state_prune.h"

using aftk::test::run_tool;

namespace {

aftk::test::ToolRun inspect(std::vector<std::string> args) {
  return run_tool(aftk::tools::state_inspect::main, "state-inspect", std::move(args));
}
std::string dump(const std::string& name) { return aftk::test::data_dir() + "/dumps/" + name; }
size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// The ages in pending.jsonl are measured from this instant.
constexpr const char* kNow = "2025-11-26T10:00:00Z";

aftk::test::ToolRun prune(std::vector<std::string> args) {
  return run_tool(aftk::tools::state_prune::main, "state-prune", std::move(args));
}

std::string copy_dump(const std::string& name, const std::string& as) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("aftk-health-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / as).string();
  std::filesystem::copy_file(dump(name), path, std::filesystem::copy_options::overwrite_existing);
  return path;
}

}  // namespace

TEST_CASE("state-inspect --pending.every PENDING call with its age, batch and verdict") {
  SUBCASE("table") {
    auto r = inspect({"--pending", "--now", kNow, "-o", "table", "--color", "never", "-q",
                      dump("pending.jsonl")});
    CHECK(r.rc == 3);  // two stuck calls
    CHECK(r.err.empty());
    CHECK(aftk::test::matches_golden(r.out, "state-inspect-pending-table.txt"));
  }
  SUBCASE("JSON lines") {
    auto r = inspect({"--pending", "--now", kNow, "--json", dump("pending.jsonl")});
    CHECK(r.rc == 3);
    CHECK(aftk::test::matches_golden(r.out, "state-inspect-pending.jsonl"));
    CHECK(r.err.find("9 PENDING call(s) in 7 run(s): 2 stuck (older than 10m), 2 in flight, 4 "
                     "never started, 1 of unknown age") != std::string::npos);
  }
  SUBCASE("a batch reserved in one write is one run of slots") {
    auto r = inspect({"--pending", "--now", kNow, "--json", "-q", "--key", "job-3",
                      dump("pending.jsonl")});
    CHECK(r.rc == 0);  // a minute old: in flight, nothing stuck
    CHECK(lines(r.out) == 1);
    CHECK(r.out.find(R"("verdict":"in flight","completed":false,"callResults":2,"batch":true,)"
                     R"("slots":[{"index":0,"functionId":"tool-call","argsDigest":"",)"
                     R"("kind":"tool-call"},)"
                     R"({"index":1,"functionId":"tool-call","argsDigest":"","kind":"tool-call"}])") !=
          std::string::npos);
  }
  SUBCASE("sub-agent calls and awaits are labelled, an await with the slot of its call") {
    // The 0.4 spec's sub-agent example (section 1.4): session e8552d4e-...-0 of user-42, seq 0.
    const std::string s0 = "e8552d4e-00f7-30d5-8d0f-868efd83b335-0";
    const std::string s1 = "e8552d4e-00f7-30d5-8d0f-868efd83b335-1";
    auto r = inspect({"--pending", "--now", kNow, "--json", "-q", dump("subagent.jsonl")});
    CHECK(r.rc == 0);
    CHECK(lines(r.out) == 2);
    CHECK(r.out.find(R"({"index":4,"functionId":")" + s0 + "#" + s0 + R"(-2#await",)" +
                     R"("argsDigest":"","kind":"subagent-await","sessionId":")" + s0 +
                     R"(","callId":")" + s0 + R"(-2","callSlot":1})") != std::string::npos);
    CHECK(r.out.find(R"("kind":"subagent-await","sessionId":")" + s1 + R"(","callId":")" + s1 +
                     R"(-3","callSlot":null})") != std::string::npos);
    CHECK(r.out.find(R"("kind":"subagent-call","sessionId":")" + s1 + R"(","callId":")" + s1 +
                     R"(-4","callSlot":1})") != std::string::npos);
    CHECK(r.out.find(R"("functionId":"tools.weather","argsDigest":"0123456789abcdef",)"
                     R"("kind":"function"})") != std::string::npos);
    auto table = inspect({"--pending", "--now", kNow, "-o", "table", "--color", "never", "-q",
                          dump("subagent.jsonl")});
    CHECK(table.rc == 0);
    CHECK(table.out.find(" KIND ") != std::string::npos);
    CHECK(table.out.find(" subagent-await of slot 1 ") != std::string::npos);
    CHECK(table.out.find(" subagent-await of a call not in this state,subagent-call,function ") !=
          std::string::npos);
  }
  SUBCASE("--older-than moves the line between in flight and stuck") {
    auto day = inspect({"--pending", "--now", kNow, "--older-than", "1d", "--json", "-q",
                        dump("pending.jsonl")});
    CHECK(day.rc == 0);
    CHECK(day.out.find(R"("verdict":"stuck")") == std::string::npos);
    auto seconds = inspect({"--pending", "--now", kNow, "--older-than", "30s", "--json", "-q",
                            "--key", "job-3", dump("pending.jsonl")});
    CHECK(seconds.rc == 3);
    CHECK(seconds.out.find(R"("verdict":"stuck")") != std::string::npos);
  }
  SUBCASE("a timed-out batch: the slots after the FAILED one never started") {
    auto r = inspect({"--pending", "--now", kNow, "--json", "-q", "--key", "job-2", "--seq", "1",
                      dump("pending.jsonl")});
    CHECK(r.rc == 0);
    CHECK(lines(r.out) == 1);
    CHECK(r.out.find(R"("verdict":"never started")") != std::string::npos);
    CHECK(r.out.find(R"("slots":[{"index":1,)") != std::string::npos);
  }
  SUBCASE("no PENDING calls, and bad durations") {
    auto none = inspect({"--pending", "--json", "-q", dump("golden-main-8ad3a32.jsonl")});
    CHECK(none.rc == 0);
    CHECK(none.out.empty());
    for (const char* bad : {"10", "m", "10x", "-5m", "99999999999999999999d"}) {
      CAPTURE(bad);
      auto r = inspect({"--pending", "--older-than", bad, dump("pending.jsonl")});
      CHECK(r.rc == 2);
      CHECK(r.err.find("invalid duration") != std::string::npos);
    }
    CHECK(inspect({"--older-than", "5m", dump("pending.jsonl")}).rc == 2);  // needs --pending
    CHECK(inspect({"--pending", "--stats", dump("pending.jsonl")}).rc == 2);
  }
}

TEST_CASE("state-inspect --stats.records, bytes live and superseded, per partition") {
  SUBCASE("table") {
    auto r = inspect({"--stats", "-o", "table", "--color", "never", "-q",
                      dump("golden-main-8ad3a32.jsonl")});
    CHECK(r.rc == 0);
    CHECK(r.err.empty());
    CHECK(aftk::test::matches_golden(r.out, "state-inspect-stats-table.txt"));
  }
  SUBCASE("JSON") {
    auto r = inspect({"--stats", "--json", "-q", dump("golden-main-8ad3a32.jsonl")});
    CHECK(r.rc == 0);
    CHECK(aftk::test::matches_golden(r.out, "state-inspect-stats.json"));
    // Every byte is live, superseded or a last tombstone.
    CHECK(r.out.find(R"("bytes":29003,"liveBytes":10047,"supersededBytes":18788,)"
                     R"("tombstoneBytes":168,)") != std::string::npos);
  }
  SUBCASE("both key formats, key groups, a tombstone and an undecodable value") {
    auto r = inspect({"--stats", "--json", "-q", dump("check.jsonl")});
    CHECK(r.rc == 0);
    CHECK(r.out.find(R"("keyFormats":{"0.3":4,"0.4":4,"unparsable":0})") != std::string::npos);
    CHECK(r.out.find(R"("keysPerKeyGroup":{"86":1})") != std::string::npos);
    CHECK(r.out.find(R"("statesPerSeq":{"1":2,"2":1})") != std::string::npos);
    CHECK(r.out.find(R"("undecodable":1)") != std::string::npos);
    CHECK(r.out.find(R"({"partition":13,"records":4,"tombstones":1,"liveStates":1,"bytes":1283,)"
                     R"("liveBytes":385,"supersededBytes":774,"tombstoneBytes":124,)") !=
          std::string::npos);
  }
  SUBCASE("PENDING calls are counted") {
    auto r = inspect({"--stats", "--json", "-q", dump("pending.jsonl")});
    CHECK(r.out.find(R"("pendingCalls":9,"statesWithPending":6)") != std::string::npos);
  }
}

TEST_CASE("state-inspect --check.findings name their upstream issue; exit 3 on any") {
  SUBCASE("a mixed store: invalid record, mixed key formats, a toString collision") {
    auto r = inspect({"--check", "-o", "table", "--color", "never", "-q", dump("check.jsonl")});
    CHECK(r.rc == 3);
    CHECK(aftk::test::matches_golden(r.out, "state-inspect-check-table.txt"));
    auto j = inspect({"--check", "--json", dump("check.jsonl")});
    CHECK(j.rc == 3);
    CHECK(lines(j.out) == 3);
    CHECK(j.out.find(R"({"finding":"invalid-record","upstream":null,"partition":2,"offset":0,)") !=
          std::string::npos);
    CHECK(j.out.find(R"({"finding":"mixed-key-formats","upstream":"PR #1024",)") !=
          std::string::npos);
    CHECK(j.out.find(R"({"finding":"key-text-collision","upstream":"#1099","partition":54,)") !=
          std::string::npos);
    CHECK(j.err.find("3 finding(s)") != std::string::npos);
  }
  SUBCASE("the golden store: one business key upstream's 0.3 parser rejects") {
    auto r = inspect({"--check", "--json", "-q", dump("golden-main-8ad3a32.jsonl")});
    CHECK(r.rc == 3);
    CHECK(lines(r.out) == 1);
    CHECK(r.out.find(R"("finding":"underscore-business-key","upstream":"PR #1024",)"
                     R"("partition":35,"offset":0,)") != std::string::npos);
  }
  SUBCASE("--lenient does not soften --check: an unknown field is still a finding") {
    const auto path = copy_dump("pending.jsonl", "unknown-field.jsonl");
    {
      std::ofstream out(path, std::ios::app);
      out << R"({"partition":11,"offset":0,"timestamp":0,"key":"k_0_)"
          << R"(b6dc5e36-12ea-3bb2-8ca3-e0ea9865efcf_22bf7b3d-f5c0-3314-93e2-9385c03e03b1",)"
          << R"("value":"{\"taskEvent\":null,\"sensoryMemoryUpdates\":[],)"
          << R"(\"shortTermMemoryUpdates\":[],\"outputEvents\":[],\"callResults\":[],)"
          << R"(\"completed\":true,\"extra\":1}"})" << "\n";
    }
    CHECK(inspect({"--json", "-q", "--lenient", "--key", "k", path}).rc == 3);  // a deviation
    for (const char* mode : {"--lenient", "--v031"}) {
      CAPTURE(mode);
      auto r = inspect({"--check", mode, "--json", "-q", path});
      CHECK(r.rc == 3);
      CHECK(r.out.find(R"({"finding":"invalid-record","upstream":null,"partition":11,)") !=
            std::string::npos);
    }
  }
  SUBCASE("a clean store: no findings, exit 0") {
    auto r = inspect({"--check", "--json", "--key", "x", dump("pending.jsonl")});
    CHECK(r.rc == 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("no findings") != std::string::npos);
  }
}

TEST_CASE("health.check_store: a topic without compaction and an unexpected partition count") {
  using namespace aftk::actionstate;
  MemoryStore store(8);
  Event in;
  in.class_name = std::string(kInputEventClass);
  in.id = "11111111-2222-4333-8444-555555555555";
  in.type = "_input_event";
  in.attributes = R"({"input":"hi"})";
  auto key = make_key_v03("user-1", 0, in, "22bf7b3d-f5c0-3314-93e2-9385c03e03b1");
  REQUIRE(key);
  REQUIRE(store.put(*key, ActionState(in)));
  StateCache cache;
  auto scan = scan_health(store, cache);
  REQUIRE(scan);
  CHECK(cache.size() == 1);
  CheckOptions clean;
  clean.cleanup_policy = "compact,delete";
  clean.expected_partitions = 8;
  clean.partitions = store.num_partitions();
  CHECK(check_store(*scan, cache, clean).empty());
  CheckOptions bad = clean;
  bad.cleanup_policy = "delete";
  bad.expected_partitions = 64;
  auto findings = check_store(*scan, cache, bad);
  REQUIRE(findings.size() == 2);
  CHECK(findings[0].code == "not-compacted");
  CHECK(findings[0].upstream == "#691");
  CHECK(findings[0].message.find("cleanup.policy is 'delete'") != std::string::npos);
  CHECK(findings[1].code == "partition-count");
  CHECK(findings[1].message.find("the topic has 8 partitions, the job expects 64") !=
        std::string::npos);
}

TEST_CASE("state-prune strategies.--keep-latest, --before-seq, --older-than: planned first") {
  const std::string golden = dump("golden-main-8ad3a32.jsonl");
  SUBCASE("--keep-latest: the plan as a table, with bytes and the restore-point warning") {
    auto r = prune({"--keep-latest", "-o", "table", "--color", "never", golden});
    CHECK(r.rc == 0);
    CHECK(aftk::test::matches_golden(r.out, "state-prune-keep-latest-table.txt"));
    CHECK(r.err.find("plan: 4 tombstones for 2 business key(s) in '" + golden +
                     "', 6480 bytes of live states reclaimed (10 live states)") !=
          std::string::npos);
    CHECK(r.err.find("warning: restoring a checkpoint taken before this prune can re-run") !=
          std::string::npos);
  }
  SUBCASE("--before-seq: every key's inputs below N") {
    auto r = prune({"--before-seq", "2", "--json", "-q", golden});
    CHECK(r.rc == 0);
    CHECK(lines(r.out) == 3);
    CHECK(r.out.find(R"("key":"acct_7_x_0_b345e5b9-29af-3138-a923-9442ee7b45fc_)"
                     R"(d1c14e6f-1824-33ad-8e5c-94421f116bf9","seq":0,"bytes":379,)"
                     R"("reason":"seq < 2"})") != std::string::npos);
    CHECK(prune({"--before-seq", "0", "--json", "-q", golden}).out.empty());
    CHECK(prune({"--before-seq", "-1", golden}).rc == 2);
  }
  SUBCASE("--older-than: inputs whose records are all older; a record without a time stays") {
    auto day_later = prune({"--older-than", "1d", "--now", "2025-11-28T10:00:00Z", "--json",
                            "-q", golden});
    CHECK(day_later.rc == 0);
    CHECK(lines(day_later.out) == 10);  // every state: the whole store is two days old
    CHECK(day_later.out.find(R"("reason":"written before 2025-11-27T10:00:00Z, up to seq 2")") !=
          std::string::npos);
    auto same_day = prune({"--older-than", "1d", "--now", "2025-11-26T10:00:00Z", "--json",
                           "-q", golden});
    CHECK(same_day.out.empty());
    auto pending = prune({"--older-than", "1h", "--now", kNow, "--json", "-q",
                          dump("pending.jsonl")});
    CHECK(pending.out.find("job-6_") == std::string::npos);  // no timestamp: never older
    CHECK(pending.out.find("job-3_") == std::string::npos);  // a minute old
    CHECK(pending.out.find("job-1_") != std::string::npos);  // two hours old
    CHECK(prune({"--older-than", "soon", golden}).rc == 2);
    CHECK(prune({"--now", kNow, "--keep-latest", golden}).rc == 2);  // --now needs --older-than
  }
  SUBCASE("strategies together: per key the deepest cut wins, each state once") {
    auto r = prune({"--keep-latest", "--before-seq", "1", "--completed", "--json", "-q", golden});
    CHECK(r.rc == 0);
    // --before-seq 1 alone reaches acct_7_x (one input); on test-key and user-42, --completed
    // and --keep-latest cut equally deep and the first one proposed names the reason.
    CHECK(lines(r.out) == 5);
    CHECK(r.out.find(R"("seq":0,"bytes":379,"reason":"seq < 1"})") != std::string::npos);
    CHECK(r.out.find(R"("reason":"completed up to seq 2, newest seq 3"})") != std::string::npos);
    CHECK(r.out.find("keep latest") == std::string::npos);
  }
  SUBCASE("--apply --keep-latest writes the plan's tombstones; nothing is left to plan") {
    const auto path = copy_dump("golden-main-8ad3a32.jsonl", "keep-latest.jsonl");
    auto applied = prune({"--keep-latest", "--apply", "--yes", "--json", path});
    CHECK(applied.rc == 0);
    CHECK(applied.err.find("wrote 4 tombstones") != std::string::npos);
    auto after = inspect({"--summary", "-q", path});
    CHECK(after.out.find(R"("tombstones":6,"live":6,)") != std::string::npos);
    CHECK(prune({"--keep-latest", "--json", "-q", path}).out.empty());
  }
}
