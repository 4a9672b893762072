// SPDX-License-Identifier: Apache-2.0
// replay-sim run in-process: the demo command, chosen crashes, replay divergence, errors.
#include "replay_sim.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "aftk/actionstate/file_store.h"
#include "run_tool.h"
#include "state_inspect.h"

using aftk::test::run_tool;

namespace {
aftk::test::ToolRun sim(std::vector<std::string> args) {
  return run_tool(aftk::tools::replay_sim::main, "replay-sim", std::move(args));
}
std::string temp(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("aftk-replay-sim-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}
size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}
}  // namespace

TEST_CASE("replay-sim.the README demo leaves a store state-inspect can list") {
  const std::string store = temp("demo.jsonl");
  // As scripts/dev runs it.
  auto r = sim({"simulate", "--keys", "4", "--inputs", "3", "--seed", "7", "--store", store,
                "--leave-in-flight", "-q"});
  CHECK(r.rc == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("\"type\":\"summary\"") != std::string::npos);  // not a TTY: JSON Lines
  CHECK(r.out.find("\"ok\":true") != std::string::npos);
  aftk::actionstate::FileStoreOptions ro;
  ro.read_only = true;
  auto s = aftk::actionstate::FileStore::open(store, ro);
  REQUIRE(s.has_value());
  CHECK((*s)->problems().empty());
  auto all = (*s)->load_all();
  REQUIRE(all.has_value());
  CHECK(all->problems.empty());
  CHECK(all->live == 25);  // 4 keys x 3 inputs x 2 actions, and the action left in flight
  size_t pending = 0, incomplete = 0;
  (*s)->cache().for_each([&](const aftk::actionstate::StateCache::Entry& e) {
    auto state = aftk::actionstate::Decoder().decode(e.value);
    REQUIRE(state.has_value());
    pending += state->pending_calls();
    incomplete += !state->completed;
  });
  CHECK(incomplete == 1);
  CHECK(pending <= 1);
  CHECK(r.out.find("\"inFlight\":true") != std::string::npos);
  // Running it again on the same file is refused; --append allows it.
  auto again =
      sim({"simulate", "--keys", "4", "--inputs", "3", "--seed", "7", "--store", store, "-q"});
  CHECK(again.rc == 1);
  CHECK(again.err.find("already holds") != std::string::npos);
}

TEST_CASE("replay-sim.deterministic for a seed; the table and JSON agree") {
  const std::vector<std::string> args{
      "simulate",     "--memory", "--keys",         "7",      "--inputs", "5", "--seed", "3",
      "--crash-rate", "0.05",     "--show-crashes", "--json", "-q"};
  auto a = sim(args), b = sim(args);
  CHECK(a.rc == 0);
  CHECK(a.out == b.out);
  CHECK(a.out.find("\"type\":\"crash\"") != std::string::npos);
  auto table = sim({"simulate", "--memory", "--keys", "7", "--inputs", "5", "--seed", "3",
                    "--crash-rate", "0.05", "-o", "table", "--color", "never", "-q"});
  CHECK(table.out.find("SIMULATION") == 0);
  CHECK(table.out.find("effects checked") != std::string::npos);
}

TEST_CASE(
    "replay-sim.a chosen crash in the window gives one duplicate with key, seq, action and call") {
  auto r = sim({"simulate", "--memory", "--crash-rate", "0", "--reconcile-rate", "0", "--crash-at",
                "window:2", "--json"});
  CHECK(r.rc == 0);
  CHECK(lines(r.out) == 2);
  CHECK(r.out.find(R"("type":"duplicate")") == 1);
  CHECK(r.out.find(R"("callIndex":)") != std::string::npos);
  CHECK(r.out.find(R"("execution":2,"cause":"window"})") != std::string::npos);
  CHECK(r.out.find(R"("windowDuplicates":1,"cleanupDuplicates":0,"unexplainedDuplicates":0)") !=
        std::string::npos);
  CHECK(r.err.find("1 duplicates inside the window, 0 outside") != std::string::npos);
}

TEST_CASE(
    "replay-sim.upstream's cleanup duplicates are reported and warned about; --fail-on-cleanup "
    "makes them fatal") {
  std::vector<std::string> args{
      "simulate", "--memory",     "--keys", "3",      "--inputs", "6",     "--checkpoint-every",
      "6",        "--crash-rate", "0.03",   "--seed", "2",        "--json"};
  auto r = sim(args);
  CHECK(r.rc == 0);
  CHECK(r.out.find(R"("cause":"cleanup")") != std::string::npos);
  CHECK(r.err.find("replay-sim: warning: ") != std::string::npos);
  args.push_back("--fail-on-cleanup");
  CHECK(sim(args).rc == 3);
  args.pop_back();
  args.push_back("--cleanup");
  args.push_back("on-miss");
  auto fixed = sim(args);
  CHECK(fixed.rc == 0);
  CHECK(fixed.out.find(R"("cause":"cleanup")") == std::string::npos);
}

TEST_CASE("replay-sim.replay: divergence against a crashed store, --strict, exit 3") {
  const std::string store = temp("halted.jsonl"), trace = temp("trace.jsonl"),
                    changed = temp("changed.jsonl");
  auto r = sim({"simulate", "--store", store, "--crash-rate", "0", "--reconcile-rate", "0",
                "--crash-at", "window:6", "--halt-after-crashes", "1", "--trace-out", trace, "-q"});
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("\"halted\":true") != std::string::npos);
  auto same = sim({"replay", store, "--trace", trace, "--json", "-q"});
  CHECK(same.rc == 0);
  CHECK(same.out.find(R"("status":"replays")") != std::string::npos);
  CHECK(same.out.find(R"("status":"completed")") != std::string::npos);

  // New code passes other arguments to the second call of the crashed action.
  std::string text = aftk::test::read_file(trace);
  const std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  const auto pos = last.find("\"argsDigest\":\"", last.find("act_step1")) + 14;
  std::string edited = last;
  edited[pos] = edited[pos] == '0' ? '1' : '0';
  std::ofstream(changed) << text << edited << last;
  auto diff = sim({"replay", store, "--trace", changed, "--json", "-q"});
  CHECK(diff.rc == 3);
  CHECK(
      diff.out.find(
          R"("status":"diverges","recorded":2,"traced":3,"firstDivergence":1,"cause":"arguments changed")") !=
      std::string::npos);
  CHECK(lines(diff.out) == lines(text) + 2);
  auto strict = sim({"replay", store, "--trace", changed, "--json", "--strict"});
  CHECK(strict.rc == 3);
  CHECK(lines(strict.out) == lines(text) + 1);
  CHECK(strict.err.find("stopped at the first divergence") != std::string::npos);
  auto table = sim({"replay", store, "--trace", changed, "-o", "table", "--color", "never", "-q"});
  CHECK(table.out.find("arguments changed") != std::string::npos);
}

TEST_CASE("replay-sim.replay --event-log: which logged action executions replay skips or runs") {
  const std::string golden = aftk::test::data_dir() + "/golden/flink-agents-main-8ad3a32/eventlog/";
  const std::string log =
      golden + "events-3f2a6c1e9b8d47a0a1b2c3d4e5f60718-action-execute-operator-0.log";
  const std::string dump = aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl";
  auto r = sim({"replay", dump, "--event-log", log, "--json"});
  CHECK(r.rc == 0);
  CHECK(lines(r.out) == 2);
  CHECK(r.out.find(R"("action":"process")") != std::string::npos);
  CHECK(r.out.find(R"("status":"completed","seq":0,"stateKey":"user-42_0_b6dc5e36)") !=
        std::string::npos);
  CHECK(r.out.find(R"("action":"summarize")") != std::string::npos);
  CHECK(r.out.find(R"("status":"no-state")") != std::string::npos);
  CHECK(r.err.find("no call-level divergence") != std::string::npos);
  CHECK(sim({"replay", dump, "--event-log", log, "--trace", "t"}).rc == 2);
  CHECK(sim({"replay", dump}).rc == 2);
  CHECK(sim({"replay", dump, "--event-log", "/nonexistent.log"}).rc == 1);
}

TEST_CASE("replay-sim.-X without '=' is a usage error; -X dump prints settings, redacted") {
  CHECK(sim({"simulate", "-t", "topic", "-X", "foo"}).rc == 2);
  CHECK(sim({"replay", "-t", "topic", "--trace", "t", "-X", "foo"}).rc == 2);
  for (const char* command : {"simulate", "replay"}) {
    CAPTURE(command);
    auto r = sim({command, "-b", "h:1", "-X", "sasl.password=hunter2", "-X", "dump"});
    CHECK(r.rc == 0);
    CHECK(r.out.find("bootstrap.servers = h:1\n") != std::string::npos);
    CHECK(r.out.find("sasl.password = [redacted]\n") != std::string::npos);
    CHECK(r.out.find("hunter2") == std::string::npos);
    CHECK(r.err.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("replay-sim.usage and input errors have their exit codes") {
  CHECK(sim({}).rc == 2);
  CHECK(sim({"simulate"}).rc == 2);  // neither --store nor --memory
  CHECK(sim({"simulate", "--memory", "--store", "x"}).rc == 2);
  auto bad_crash = sim({"simulate", "--memory", "--crash-at", "explode:1"});
  CHECK(bad_crash.rc == 2);
  CHECK(bad_crash.err.find("unknown crash point 'explode'") != std::string::npos);
  CHECK(sim({"simulate", "--memory", "--crash-rate", "0.9"}).rc == 2);
  CHECK(sim({"replay", "/nonexistent/state.jsonl", "--trace", "t"}).rc == 1);
  const std::string store = temp("empty.jsonl"), trace = temp("bad-trace.jsonl");
  std::ofstream(store) << "";
  std::ofstream(trace) << R"({"key":"k","seq":0,"action":"a","calls":[]})"
                       << "\n"
                       << R"({"key":"k"})"
                       << "\n";
  auto bad = sim({"replay", store, "--trace", trace});
  CHECK(bad.rc == 1);
  CHECK(bad.err.find(trace + ":2") != std::string::npos);
  CHECK(bad.err.find("missing \\\"seq\\\"") == std::string::npos);
  CHECK(bad.err.find("missing \"seq\"") != std::string::npos);
  auto help = sim({"--help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("Examples:") != std::string::npos);
  CHECK(sim({"simulate", "--help"}).out.find("Examples:") != std::string::npos);
  CHECK(sim({"--version"}).out.find("replay-sim (aftk)") == 0);
}

TEST_CASE("replay-sim.--help's window:3 example gives the one duplicate it promises") {
  auto help = sim({"--help"});
  REQUIRE(help.rc == 0);
  const std::string start = "replay-sim simulate --memory --crash-at window:3";
  const auto at = help.out.find(start);
  REQUIRE(at != std::string::npos);
  const std::string example = help.out.substr(at, help.out.find('\n', at) - at);
  CHECK(help.out.find("one duplicate", at) < help.out.find("replay-sim", at + start.size()));
  std::vector<std::string> args;
  std::istringstream words(example);
  for (std::string w; words >> w;) args.push_back(w);
  REQUIRE(args.size() > 2);
  args.erase(args.begin());  // the tool's own name
  args.push_back("-q");
  auto r = sim(args);
  CHECK(r.rc == 0);
  CHECK(lines(r.out) - 1 == 1);  // the duplicate and the summary
  CHECK(r.out.find("\"type\":\"duplicate\"") != std::string::npos);
  CHECK(r.out.find("\"windowDuplicates\":1") != std::string::npos);
}

TEST_CASE("replay-sim.simulate writes 0.3.1 values by default, main-8ad3a32's with --format") {
  // A 0.3.1 reader rejects the lineage fields, and one such record fails a whole restore.
  const std::string v031 = temp("format-031.jsonl");
  REQUIRE(sim({"simulate", "--keys", "3", "--inputs", "3", "--seed", "5", "--store", v031, "-q"}).rc == 0);
  const std::string text031 = aftk::test::read_file(v031);
  CHECK(text031.find("upstreamEventId") == std::string::npos);
  CHECK(text031.find("upstreamActionName") == std::string::npos);
  // Every value reads under the 0.3.1 profile, strictly.
  auto inspected = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--v031", "--summary", "-q", v031});
  CHECK(inspected.rc == 0);
  const std::string main = temp("format-main.jsonl");
  REQUIRE(sim({"simulate", "--keys", "3", "--inputs", "3", "--seed", "5", "--store", main,
               "--format", "main-8ad3a32", "-q"}).rc == 0);
  CHECK(aftk::test::read_file(main).find("\\\"upstreamActionName\\\"") != std::string::npos);
  CHECK(sim({"simulate", "--memory", "--format", "0.5"}).rc == 2);
}
