// SPDX-License-Identifier: Apache-2.0
// eventlog-dump run in-process with argv arrays; output compared with the golden files.
#include "../../tools/eventlog-dump/eventlog_dump.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string golden(const std::string& version, const std::string& file) {
  const char* d = std::getenv("AFTK_TESTDATA");
  return std::string(d ? d : "tests/data") + "/golden/" + version + "/eventlog/" + file;
}
const std::string kMain = "flink-agents-main-8ad3a32";
const std::string k031 = "flink-agents-0.3.1";
const std::string kFlat0 = "events-3f2a6c1e9b8d47a0a1b2c3d4e5f60718-action-execute-operator-0.log";
const std::string kTrace = "events-9c0ffee0000000000000000000000042-agent_op_v1-0.log";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Run {
  int rc = -1;
  std::string out, err;
};

Run run(std::vector<std::string> args) {
  args.insert(args.begin(), "eventlog-dump");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  size_t out_len = 0, err_len = 0;
  aftk::cli::Io io;
  io.tool = "eventlog-dump";
  io.out = open_memstream(&out_buf, &out_len);
  io.err = open_memstream(&err_buf, &err_len);
  Run r;
  r.rc = aftk::tools::eventlog_dump::main(static_cast<int>(argv.size()), argv.data(), io);
  std::fclose(io.out);
  std::fclose(io.err);
  r.out.assign(out_buf, out_len);
  r.err.assign(err_buf, err_len);
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    v.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return v;
}

}  // namespace

TEST_CASE("eventlog-dump.--json passes flat records through byte for byte") {
  auto r = run({"--json", golden(kMain, kFlat0)});
  CHECK(r.rc == 0);
  CHECK(r.err.empty());
  CHECK(r.out == slurp(golden(kMain, kFlat0)));
}

TEST_CASE(
    "eventlog-dump.--type selects records, exact and glob, with the same ids as a full scan") {
  auto r =
      run({"--json", "--type", "_execution_*_event", "--status", "failed", golden(kMain, kTrace)});
  CHECK(r.rc == 0);
  auto l = lines(r.out);
  REQUIRE(l.size() == 3);
  CHECK(l[0].find("\"eventId\":\"09014376-cd17-45ab-9d2b-3236c8ba62d6\"") != std::string::npos);
  auto exact = run({"--raw", "-t", "my_event", golden(kMain, kTrace)});
  REQUIRE(lines(exact.out).size() == 1);
  CHECK(slurp(golden(kMain, kTrace)).find(lines(exact.out)[0] + "\n") != std::string::npos);
}

TEST_CASE("eventlog-dump.older forms come out in the flat layout") {
  auto r =
      run({"--json",
           golden(k031, "events-00000000000000000000000000000031-action-execute-operator-0.log")});
  CHECK(r.rc == 0);
  auto l = lines(r.out);
  REQUIRE(l.size() == 2);
  CHECK(l[0] ==
        "{\"timestamp\":\"2026-07-14T03:33:29.120Z\",\"logLevel\":\"STANDARD\",\"eventId\":"
        "\"baafac45-c363-4f62-8088-"
        "be402bcc7e46\",\"eventType\":\"_input_event\",\"eventAttributes\":{\"input\":{\"q\":"
        "\"pretty\",\"list\":[1,2]}}}");
}

TEST_CASE("eventlog-dump.a torn file is reported and exits 3") {
  auto r =
      run({"--json",
           golden(kMain,
                  "torn-events-3f2a6c1e9b8d47a0a1b2c3d4e5f60718-action-execute-operator-0.log")});
  CHECK(r.rc == 3);
  CHECK(lines(r.out).size() == 5);
  CHECK(r.err.find("torn-events-3f2a6c1e9b8d47a0a1b2c3d4e5f60718-action-execute-operator-0.log:6: "
                   "torn last record at byte 14026") != std::string::npos);
}

TEST_CASE("eventlog-dump.--stats over a directory") {
  const std::string dir = golden(kMain, "");
  auto r = run({"--stats", "--json", dir});
  CHECK(r.rc == 0);
  CHECK(
      r.out.starts_with("{\"records\":38,\"truncated\":4,\"torn\":0,\"corrupt\":0,\"first\":\"2026-"
                        "11-18T11:06:41.916Z\""));
  CHECK(r.out.find("\"byKey\":{\"(none)\":15,\"user-42\":18,") != std::string::npos);
  auto t = run({"--stats", "-o", "table", "--type", "_input_event", dir});
  CHECK(t.out.starts_with("records    7\n"));
}

TEST_CASE("eventlog-dump.--tree rebuilds the lineage") {
  auto r = run({"--tree", "-o", "table", "--color", "never", golden(kMain, kFlat0)});
  CHECK(r.rc == 0);
  CHECK(r.out ==
        "2026-11-18T11:06:41.916Z  _input_event  022d9e89\n"
        "\xE2\x94\x9C\xE2\x94\x80 process \xE2\x86\x92 my_event  01af97ce\n"
        "\xE2\x94\x82  \xE2\x94\x94\xE2\x94\x80 summarize \xE2\x86\x92 _output_event  49e5dcbe\n"
        "\xE2\x94\x94\xE2\x94\x80 process \xE2\x86\x92 big_payload  fdb05f10\n"
        "2026-11-18T11:06:44Z  order.status  fe4d2268\n"
        "2026-11-18T11:06:46.916833Z  _input_event  5daa0b7b\n");
}

TEST_CASE("eventlog-dump.--state-key gives the event UUID of the spec's example") {
  auto r = run({"--state-key", "--json", "--key", "user-42", "--type", "_input_event",
                golden(kMain, kTrace)});
  CHECK(r.rc == 0);
  auto l = lines(r.out);
  REQUIRE(l.size() == 2);
  CHECK(l[0] ==
        "{\"timestamp\":\"2026-11-18T11:06:52Z\",\"eventId\":\"c8c57516-4551-4c92-b3a4-"
        "380678defefb\",\"eventType\":"
        "\"_input_event\",\"businessKey\":\"user-42\",\"eventUUID\":\"b6dc5e36-12ea-3bb2-8ca3-"
        "e0ea9865efcf\","
        "\"keyPattern\":\"user-42_*_b6dc5e36-12ea-3bb2-8ca3-e0ea9865efcf_*\","
        "\"attributesTruncated\":false}");
  auto t = run({"--state-key", "--json", "--type", "big_payload", golden(kMain, kFlat0)});
  CHECK(t.out.find("\"attributesTruncated\":true") != std::string::npos);
  CHECK(t.err.find("truncated attributes") != std::string::npos);
}

TEST_CASE("eventlog-dump.--fields projects dotted paths") {
  auto r = run({"--fields", "eventType,eventAttributes.output.answer,missing", "-t",
                "_output_event", golden(kMain, kFlat0)});
  CHECK(
      r.out ==
      "{\"eventType\":\"_output_event\",\"eventAttributes.output.answer\":42,\"missing\":null}\n");
}

TEST_CASE("eventlog-dump.time window and field predicates") {
  const std::string f = golden(kMain, kFlat0);
  auto r = run({"--fields", "eventId", "--since", "2026-11-18T11:06:42Z", "--until",
                "2026-11-18T11:06:44Z", f});
  CHECK(lines(r.out).size() == 2);
  auto p = run({"--fields", "eventType", "--field", "text~=hi", "--field", "nested.b=1", f});
  CHECK(p.out == "{\"eventType\":\"my_event\"}\n");
  auto none = run({"--json", "--since", "-15m", f});  // the golden files are from the past
  CHECK(none.rc == 0);
  CHECK(none.out.empty());
}

TEST_CASE("eventlog-dump.usage and input errors") {
  CHECK(run({}).rc == 2);
  CHECK(run({"--since", "yesterday", golden(kMain, kFlat0)}).rc == 2);
  CHECK(run({"--field", "novalue", golden(kMain, kFlat0)}).rc == 2);
  CHECK(run({"--stats", "--tree", golden(kMain, kFlat0)}).rc == 2);
  CHECK(run({"--bogus"}).rc == 2);
  auto missing = run({"/nonexistent/events-x.log"});
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("cannot open event log '/nonexistent/events-x.log'") != std::string::npos);
  auto help = run({"--help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("Examples:") != std::string::npos);
}

TEST_CASE("eventlog-dump.'-' reads standard input") {
  const int saved = ::dup(0);
  REQUIRE(saved >= 0);
  const int fd = ::open(golden(kMain, kTrace).c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::dup2(fd, 0) == 0);
  ::close(fd);
  auto r = run({"--fields", "eventId", "--type", "_input_event", "-"});
  ::dup2(saved, 0);
  ::close(saved);
  CHECK(r.rc == 0);
  CHECK(r.out ==
        "{\"eventId\":\"c8c57516-4551-4c92-b3a4-380678defefb\"}\n"
        "{\"eventId\":\"9365ba89-951d-444d-bec0-3aaad81b712d\"}\n"
        "{\"eventId\":\"7a0ec78f-a60f-4b5e-a6b7-c49f5af489a2\"}\n");
}

namespace {
std::string temp_log(const std::string& name, const std::string& content) {
  char tmpl[] = "/tmp/aftk-eventlog-dump-XXXXXX";
  const std::string path = std::string(::mkdtemp(tmpl)) + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}
}  // namespace

TEST_CASE("eventlog-dump.a record whose timestamp does not parse is reported with --since") {
  const std::string good =
      "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"eventId\":\"e1\",\"eventType\":\"a\","
      "\"eventAttributes\":{}}\n";
  const std::string bad =
      "{\"timestamp\":\"yesterday noon\",\"eventId\":\"e2\",\"eventType\":\"b\","
      "\"eventAttributes\":{}}\n";
  const std::string path = temp_log("events-t.log", good + bad);
  auto all = run({"--json", path});
  CHECK(all.rc == 0);
  CHECK(all.out == good + bad);
  for (const char* bound : {"--since", "--until"}) {
    CAPTURE(bound);
    auto r = run({"--json", bound, bound == std::string("--since") ? "2025-01-01" : "2027-01-01",
                  path});
    CHECK(r.rc == 3);
    CHECK(r.out == good);
    CHECK(r.err.find("events-t.log:2: timestamp 'yesterday noon' does not parse") !=
          std::string::npos);
  }
}

TEST_CASE("eventlog-dump.--json never writes a NUL byte, so its output is valid JSON") {
  const std::string good =
      "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"eventId\":\"e0\",\"eventType\":\"a\","
      "\"eventAttributes\":{\"x\":\"\\u0000\"}}\n";
  const std::string nul(1, '\0');
  const std::string in_string = "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"eventId\":\"e" + nul +
                                "1\",\"eventType\":\"a\",\"eventAttributes\":{\"x\":\"" + nul +
                                "\"}}\n";
  const std::string nul_line(64, '\0');
  // An escaped NUL stays escaped, raw NULs (in a string, a zero-filled line, a zero-filled
  // torn tail) are reported as bad records and never reach the output.
  for (const std::string mode : {"--json", "--pretty", "--fields"}) {
    CAPTURE(mode);
    std::vector<std::string> args;
    if (mode == "--pretty") args = {"-o", "pretty"};
    else if (mode == "--fields") args = {"--json", "--fields", "eventId,eventAttributes.x"};
    else args = {"--json"};
    args.push_back(temp_log("events-n.log", good + in_string + nul_line + "\n" + good + nul_line));
    auto r = run(args);
    CHECK(r.rc == 3);
    CHECK(r.out.find('\0') == std::string::npos);
    CHECK(r.out.find("\\u0000") != std::string::npos);
    CHECK(r.err.find("events-n.log:2: corrupt record") != std::string::npos);
    CHECK(r.err.find("events-n.log:5: torn last record") != std::string::npos);
  }
}

TEST_CASE("eventlog-dump.-o pretty indents every JSON output") {
  const std::string path = golden(kMain, kFlat0);
  for (const auto& mode : std::vector<std::vector<std::string>>{
           {}, {"--stats"}, {"--tree"}, {"--state-key"}, {"--fields", "eventType,eventId"}}) {
    std::vector<std::string> args = mode;
    args.insert(args.end(), {"-o", "pretty", path});
    CAPTURE(args.size());
    auto r = run(args);
    CHECK(r.rc == 0);
    REQUIRE(r.out.size() > 2);
    CHECK(r.out.rfind("{\n  \"", 0) == 0);
    auto compact = run([&] {
      auto a = mode;
      a.insert(a.end(), {"--json", path});
      return a;
    }());
    CHECK(lines(r.out).size() > lines(compact.out).size());
  }
}
