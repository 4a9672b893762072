// SPDX-License-Identifier: Apache-2.0
// state-inspect, state-rebuild and state-prune against a real topic on the test broker.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "../cli/run_tool.h"
#include "aftk/actionstate/file_store.h"
#include "broker.h"
#include "state_inspect.h"
#include "state_prune.h"
#include "state_rebuild.h"

using aftk::test::run_tool;

namespace {
size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST_CASE("state tools.read, rebuild and prune a Kafka topic like a dump") {
  // The golden records, produced to the partitions upstream's partitioner chose.
  const std::string topic = aftk::testing::unique_topic("state-tools");
  aftk::testing::create(topic, 64);
  std::vector<aftk::testing::RawRecord> records;
  REQUIRE(aftk::actionstate::read_dump(
              aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl",
              [&](const aftk::actionstate::TopicRecord& r, const aftk::json::Line&) -> aftk::Status {
                records.push_back({r.partition, std::string(r.key),
                                   r.value ? std::optional<std::string>(std::string(*r.value)) : std::nullopt});
                return {};
              },
              [](const aftk::Error& e) { FAIL(e.to_string()); })
              .has_value());
  aftk::testing::produce(topic, records);
  const std::string b = aftk::testing::brokers();

  // The topic lists exactly as the dump does: same partitions and offsets, same states.
  auto from_topic = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--json", "-q", "-b", b, "-t", topic});
  auto from_dump = run_tool(aftk::tools::state_inspect::main, "state-inspect",
                            {"--json", "-q", aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl"});
  CHECK(from_topic.rc == 0);
  CHECK(from_topic.out == from_dump.out);
  CHECK(lines(from_topic.out) == 10);

  // A marker mid-stream on one partition.
  const std::string marker = "/tmp/aftk-kafka-marker-" + topic + ".json";
  std::ofstream(marker) << R"({"20":8,"55":0})";
  auto rebuilt = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                          {"--summary", "-q", "-m", marker, "-b", b, "-t", topic});
  CHECK(rebuilt.rc == 0);
  CHECK(rebuilt.out.find(R"("records":18,"tombstones":2,)") != std::string::npos);

  // Prune: the plan writes nothing; --apply --yes writes tombstones that a re-read honours.
  auto plan = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "-q", "--completed", "-b", b, "-t", topic});
  CHECK(plan.rc == 0);
  CHECK(lines(plan.out) == 4);
  auto applied = run_tool(aftk::tools::state_prune::main, "state-prune",
                          {"-q", "--completed", "--apply", "--yes", "-b", b, "-t", topic});
  CHECK(applied.rc == 0);
  auto after = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--summary", "-q", "-b", b, "-t", topic});
  CHECK(after.out.find(R"("records":42,"tombstones":6,"live":6,)") != std::string::npos);

  auto missing = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"-b", b, "-t", topic + "-missing"});
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("does not exist") != std::string::npos);
}
