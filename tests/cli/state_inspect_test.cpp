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

TEST_CASE("state-inspect show.a business key's live states as a tree, payloads decoded") {
  auto r = inspect({"show", "user-42", "-o", "table", "--color", "never", dump("payloads.jsonl")});
  CHECK(r.rc == 0);
  CHECK(r.err.empty());
  CHECK(aftk::test::matches_golden(r.out, "state-inspect-show-tree.txt"));
  // The record of partition 3 is where the partitioner never puts user-42: not read.
  CHECK(r.out.find("user-42_6_") == std::string::npos);
  const std::string key =
      "user-42_5_3f1c2b4a-5d6e-3f70-8a9b-0c1d2e3f4a5b_22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  auto raw = inspect({"show", "--raw", "-o", "table", "--color", "never", key,
                      dump("payloads.jsonl")});
  CHECK(raw.rc == 0);
  CHECK(raw.out.find("result base64 gAWVNwAAAAAAAAB9lCiMBGNpdHmU") != std::string::npos);
  CHECK(raw.out.find("pickle") == std::string::npos);
}

TEST_CASE("state-inspect show.each call's kind, and for an await the call it awaits") {
  const std::string s0 = "e8552d4e-00f7-30d5-8d0f-868efd83b335-0";
  auto tree = inspect({"show", "user-42", "-o", "table", "--color", "never",
                       dump("subagent.jsonl")});
  CHECK(tree.rc == 0);
  CHECK(tree.out.find("kind subagent-call: call 2 of session " + s0 + "\n") != std::string::npos);
  CHECK(tree.out.find("kind subagent-await of slot 0: awaits call " + s0 + "-1\n") !=
        std::string::npos);
  CHECK(tree.out.find("kind tool-call (Java's built-in tool-call action)\n") != std::string::npos);
  CHECK(tree.out.find("kind subagent-await of a call not in this state: awaits call "
                      "e8552d4e-00f7-30d5-8d0f-868efd83b335-1-3\n") != std::string::npos);
  CHECK(tree.out.find("kind function\n") != std::string::npos);
  auto json = inspect({"show", "--partition", "20", "--offset", "0", "--json", "--raw",
                       dump("subagent.jsonl")});
  CHECK(json.rc == 0);
  const std::string id = R"(","sessionId":")" + s0 + R"(","callId":")" + s0;
  CHECK(json.out.find(R"("calls":[{"slot":0,"kind":"subagent-call)" + id + R"(-1","callSlot":0},)" +
                      R"({"slot":1,"kind":"subagent-call)" + id + R"(-2","callSlot":1},)" +
                      R"({"slot":2,"kind":"subagent-await)" + id + R"(-1","callSlot":0},)" +
                      R"({"slot":3,"kind":"tool-call"},)" +
                      R"({"slot":4,"kind":"subagent-await)" + id + R"(-2","callSlot":1}])") !=
        std::string::npos);
}

TEST_CASE("state-inspect show.JSON of one record by key or by position; --raw leaves base64") {
  const std::string key =
      "user-42_5_3f1c2b4a-5d6e-3f70-8a9b-0c1d2e3f4a5b_22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  auto r = inspect({"show", key, "--json", dump("payloads.jsonl")});
  CHECK(r.rc == 0);
  CHECK(aftk::test::matches_golden(r.out, "state-inspect-show.jsonl"));
  // The file may come before the subcommand, and a position names the same record.
  auto at = inspect(
      {dump("payloads.jsonl"), "show", "--partition", "20", "--offset", "1", "--json"});
  CHECK(at.rc == 0);
  CHECK(at.out == r.out);
  auto raw = inspect({"show", key, "--json", "--raw", dump("payloads.jsonl")});
  CHECK(raw.rc == 0);
  CHECK(raw.out.find("\"decoded\"") == std::string::npos);
  CHECK(raw.out.find("\"state\":") != std::string::npos);
  auto tomb =
      inspect({"show", "--partition", "20", "--offset", "3", "--json", dump("payloads.jsonl")});
  CHECK(tomb.rc == 0);
  CHECK(tomb.out.find("\"tombstone\":true") != std::string::npos);
}

TEST_CASE("state-inspect show.missing records and bad arguments") {
  auto none = inspect({"show", "nobody", dump("payloads.jsonl")});
  CHECK(none.rc == 1);
  CHECK(none.err.find("no live state of business key 'nobody'") != std::string::npos);
  CHECK(none.err.find("(read partition ") != std::string::npos);
  auto gone = inspect({"show", "--partition", "20", "--offset", "99", dump("payloads.jsonl")});
  CHECK(gone.rc == 1);
  CHECK(gone.err.find("no record at partition 20 offset 99") != std::string::npos);
  CHECK(inspect({"show", "--partition", "20", dump("payloads.jsonl")}).rc == 2);
  CHECK(inspect({"show", dump("payloads.jsonl")}).rc == 2);  // the file taken for a key: no FILE
  CHECK(inspect({"show", "user-42", "--timeline", dump("payloads.jsonl")}).rc == 2);
  auto help = inspect({"show", "--help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("--raw") != std::string::npos);
  CHECK(help.out.find("Examples:") != std::string::npos);
}

TEST_CASE("state-inspect --json --decode.a decoded object beside the exact state") {
  auto r = inspect({"--json", "--decode", "-q", dump("payloads.jsonl")});
  CHECK(r.rc == 0);
  CHECK(aftk::test::matches_golden(r.out, "state-inspect-decode.jsonl"));
  auto plain = inspect({"--json", "-q", dump("payloads.jsonl")});
  CHECK(plain.out.find("\"decoded\"") == std::string::npos);
  // Without --decode each line is the same up to where "decoded" begins.
  const auto first = r.out.substr(0, r.out.find(",\"decoded\":"));
  CHECK(plain.out.substr(0, first.size()) == first);
}

TEST_CASE("state-inspect --timeline.every record of a key, seq by seq, from its partition only") {
  auto r = inspect({"--timeline", "--key", "user-42", "-o", "table", "--color", "never",
                    dump("payloads.jsonl")});
  CHECK(r.rc == 0);
  CHECK(aftk::test::matches_golden(r.out, "state-inspect-timeline.txt"));
  CHECK(r.err.find("4 records of 1 business keys, 0 corrupt; "
                   "4 records read from partition 20 of 64") != std::string::npos);
  auto json = inspect({"--timeline", "--key", "user-42", "--json", "-q", dump("payloads.jsonl")});
  CHECK(json.rc == 0);
  CHECK(aftk::test::matches_golden(json.out, "state-inspect-timeline.jsonl"));
  // Without --key: every key of the store, the golden one included.
  auto all = inspect({"--timeline", "-o", "table", "--color", "never", "-q",
                      dump("golden-main-8ad3a32.jsonl")});
  CHECK(all.rc == 0);
  CHECK(aftk::test::matches_golden(all.out, "state-inspect-timeline-golden.txt"));
}

TEST_CASE("state-inspect --timeline.records it cannot place are counted, never dropped silently") {
  const std::string path = "/tmp/aftk-state-inspect-timeline.jsonl";
  {
    std::ofstream out(path);
    out << aftk::test::read_file(dump("payloads.jsonl"));
    out << "{\"partition\":1,\"offset\":0,\"timestamp\":0,\"key\":\"k_1_a\",\"value\":\"{}\"}\n";
    out << R"({"partition":20,"offset":4,"timestamp":0,"key":")"
        << "user-42_8_3f1c2b4a-5d6e-3f70-8a9b-0c1d2e3f4a5e_22bf7b3d-f5c0-3314-93e2-9385c03e03b1"
        << R"(","value":"{\"completed\":\"maybe\"}"})" << "\n";
  }
  auto r = inspect({"--timeline", "--json", path});
  CHECK(r.rc == 3);
  CHECK(r.err.find("1 records whose key does not parse are not in the timeline") !=
        std::string::npos);
  CHECK(r.out.find(R"("seq":8,)") != std::string::npos);
  CHECK(r.out.find(R"("error":{"code":"CORRUPT_RECORD")") != std::string::npos);
  CHECK(r.err.find("1 corrupt") != std::string::npos);
}

TEST_CASE("state-inspect.--seq -1 is a short usage error; --summary follows -o pretty") {
  const std::string path = aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl";
  auto neg = inspect({"--seq", "-1", path});
  CHECK(neg.rc == 2);
  CHECK(neg.err.size() < 160);
  auto pretty = inspect({"--summary", "-q", "-o", "pretty", path});
  CHECK(pretty.rc == 0);
  CHECK(pretty.out.rfind("{\n  \"records\": ", 0) == 0);
}
