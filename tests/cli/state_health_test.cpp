// SPDX-License-Identifier: Apache-2.0
// state-inspect --pending, --stats and --check, and state-prune's strategies, run in-process on
// golden and hand-made dumps.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "run_tool.h"
#include "state_inspect.h"

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
                     R"("slots":[{"index":0,"functionId":"tool-call","argsDigest":""},)"
                     R"({"index":1,"functionId":"tool-call","argsDigest":""}])") !=
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
