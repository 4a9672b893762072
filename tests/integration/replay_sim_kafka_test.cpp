// SPDX-License-Identifier: Apache-2.0
// replay-sim against a real topic on the test broker: simulate with crashes, then replay.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "../cli/run_tool.h"
#include "broker.h"
#include "replay_sim.h"

using aftk::test::run_tool;

namespace {
aftk::test::ToolRun sim(std::vector<std::string> args) {
  return run_tool(aftk::tools::replay_sim::main, "replay-sim", std::move(args));
}
}  // namespace

TEST_CASE(
    "replay-sim.simulate on a Kafka topic recovers through new clients; replay reads the topic") {
  const std::string topic = aftk::testing::unique_topic("replay-sim");
  const std::string b = aftk::testing::brokers();
  const std::string trace = (std::filesystem::temp_directory_path() /
                             ("aftk-replay-sim-kafka-" + std::to_string(::getpid()) + ".jsonl"))
                                .string();
  // A crash in the window of a reconcilable call, then a halt: the topic keeps a PENDING slot.
  auto r = sim({"simulate",
                "-b",
                b,
                "-t",
                topic,
                "--partitions",
                "4",
                "--keys",
                "3",
                "--inputs",
                "2",
                "--crash-rate",
                "0",
                "--reconcile-rate",
                "1",
                "--crash-at",
                "mid-action:3",
                "--crash-at",
                "window:9",
                "--halt-after-crashes",
                "2",
                "--trace-out",
                trace,
                "--json",
                "-q"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("\"crashes\":2") != std::string::npos);
  CHECK(r.out.find("\"halted\":true") != std::string::npos);
  auto again = sim({"simulate", "-b", b, "-t", topic, "--memory"});
  CHECK(again.rc == 2);
  auto used = sim({"simulate", "-b", b, "-t", topic, "-q"});
  CHECK(used.rc == 1);
  CHECK(used.err.find("already holds") != std::string::npos);

  auto replay = sim({"replay", "-b", b, "-t", topic, "--trace", trace, "--json", "-q"});
  INFO(replay.err);
  CHECK(replay.rc == 0);
  CHECK(replay.out.find("\"status\":\"replays\"") != std::string::npos);
  CHECK(replay.out.find("\"pending\":1") != std::string::npos);

  // A full run with random crashes on a fresh topic checks out.
  auto full = sim({"simulate", "-b", b, "-t", aftk::testing::unique_topic("replay-sim-full"),
                   "--partitions", "4", "--keys", "4", "--inputs", "3", "--crash-rate", "0.03",
                   "--seed", "11", "--json", "-q"});
  INFO(full.err);
  CHECK(full.rc == 0);
  CHECK(full.out.find("\"ok\":true") != std::string::npos);
}
