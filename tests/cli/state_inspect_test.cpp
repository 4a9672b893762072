// SPDX-License-Identifier: Apache-2.0
// state-inspect run in-process on golden dumps, compared with golden output.
#include <doctest/doctest.h>

#include <fstream>

#include "run_tool.h"
#include "state_inspect.h"

using aftk::test::run_tool;

namespace {
aftk::test::ToolRun inspect(std::vector<std::string> args) {
  return run_tool(aftk::tools::state_inspect::main, "state-inspect", std::move(args));
}
std::string dump(const std::string& name) { return aftk::test::data_dir() + "/dumps/" + name; }
}  // namespace

TEST_CASE("state-inspect.table of the golden store") {
  auto r = inspect({"-o", "table", "--color", "never", "-q", dump("golden-main-8ad3a32.jsonl")});
  CHECK(r.rc == 0);
  CHECK(r.err.empty());
  CHECK(aftk::test::matches_golden(r.out, "state-inspect-table.txt"));
}

TEST_CASE("state-inspect.JSON lines carry the key fields and the decoded state") {
  for (const char* version : {"golden-main-8ad3a32.jsonl", "golden-0.3.1.jsonl"}) {
    CAPTURE(version);
    auto r = inspect({"--json", "-q", dump(version)});
    CHECK(r.rc == 0);
    CHECK(aftk::test::matches_golden(r.out, std::string("state-inspect-") + version));
  }
  // 0.4-SNAPSHOT values carry lineage fields, which the 0.3.1 reader rejects.
  auto strict031 = inspect({"--json", "--v031", "-q", dump("golden-main-8ad3a32.jsonl")});
  CHECK(strict031.rc == 3);
  CHECK(strict031.out.find("\"code\":\"CORRUPT_RECORD\"") != std::string::npos);
  CHECK(strict031.out.find("lineage field unknown to the 0.3.1 reader") != std::string::npos);
}

TEST_CASE("state-inspect.filters") {
  auto r = inspect({"--json", "--no-state", "-q", "--key", "test-key", "--seq", "2", dump("golden-main-8ad3a32.jsonl")});
  CHECK(r.rc == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 2);
  auto none = inspect({"--json", "-q", "--pending", dump("golden-main-8ad3a32.jsonl")});
  CHECK(none.rc == 0);
  CHECK(none.out.empty());
}

TEST_CASE("state-inspect.corrupt records are reported with their location; the rest still listed") {
  const std::string path = "/tmp/aftk-state-inspect-corrupt.jsonl";
  {
    std::ofstream out(path);
    out << aftk::test::read_file(dump("golden-main-8ad3a32.jsonl"));
    out << R"({"partition":1,"offset":0,"timestamp":0,"key":"k_1_22bf7b3d-f5c0-3314-93e2-9385c03e03b1_22bf7b3d-f5c0-3314-93e2-9385c03e03b1","value":"{\"completed\":\"maybe\"}"})" << "\n";
    out << "{\"partition\":1,\"offset\":1,\"timestamp\":0,\"key\":\"k_1_a\",\"value\":\"{}\"}\n";
    out << "not json\n";
  }
  auto r = inspect({"--json", "--no-state", path});
  CHECK(r.rc == 3);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 11);
  CHECK(r.out.find(R"("error":{"code":"CORRUPT_RECORD","message":"completed: expected a boolean, found a string"})") != std::string::npos);
  CHECK(r.err.find(path + ":40 (partition 1 offset 1): malformed action-state key 'k_1_a'") != std::string::npos);
  CHECK(r.err.find(path + ":41: ") != std::string::npos);
  auto table = inspect({"-o", "table", "--color", "never", path});
  CHECK(table.rc == 3);
  CHECK(table.out.find("CORRUPT") != std::string::npos);
}

TEST_CASE("state-inspect.usage and I/O errors have their exit codes") {
  CHECK(inspect({}).rc == 2);
  CHECK(inspect({"--bogus", "x"}).rc == 2);
  auto missing = inspect({"/nonexistent/dump.jsonl"});
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("state-inspect: error: cannot open '/nonexistent/dump.jsonl'") == 0);
  auto help = inspect({"--help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("Examples:") != std::string::npos);
  auto version = inspect({"--version"});
  CHECK(version.rc == 0);
  CHECK(version.out.find("librdkafka") != std::string::npos);
}
