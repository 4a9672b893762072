// SPDX-License-Identifier: Apache-2.0
// The bad-input table: every tool on every malformed input of tests/data/bad/ (and a few made
// here: deep nesting, huge values, a FIFO) and on bad arguments. Each row runs the tool in a
// forked child through cli::main, as a shell would, and checks the exit code its man page
// documents, a stderr message naming the place (file and line, byte, or partition and offset),
// no crash, no hang, and that nothing was written: the inputs and the scratch directory are
// byte for byte as before, except for the one output a row may name.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../../tools/eventlog-dump/eventlog_dump.h"
#include "../../tools/replay-sim/replay_sim.h"
#include "../../tools/state-inspect/state_inspect.h"
#include "../../tools/state-prune/state_prune.h"
#include "../../tools/state-rebuild/state_rebuild.h"
#include "aftk/cli/tool.h"
#include "run_tool.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// In args: "@BAD/x" is tests/data/bad/x, "@S/x" a file of the scratch directory (made below
// or by the tool), "@GOLD" a scratch copy of the golden dump.
struct Row {
  const char* tool;
  std::vector<std::string> args;
  int rc;
  const char* message;          // stderr contains this
  const char* output = nullptr;  // the one new file the row may leave ("@S/x"), if any
  const char* fifo = nullptr;    // written to @S/in.fifo once the tool opens it
};

// Large and deep inputs, made at test time rather than stored.
void make_generated(const fs::path& s) {
  const std::string gold = aftk::test::read_file(aftk::test::data_dir() +
                                                 "/dumps/golden-main-8ad3a32.jsonl");
  const std::string first = gold.substr(0, gold.find('\n'));
  const std::string deep(100000, '['), undeep(100000, ']');
  auto put = [&](const char* name, const std::string& text) {
    std::ofstream(s / name, std::ios::binary) << text;
  };
  // A value whose attributes nest 100,000 levels: inside the dump's value string.
  std::string rec = first;
  const std::string attrs = R"(\"attributes\":{\"input\":\"hello\"})";
  const size_t at = rec.find(attrs);
  REQUIRE(at != std::string::npos);
  rec.replace(at, attrs.size(), R"(\"attributes\":{\"input\":)" + deep + undeep + "}");
  put("deep-value.jsonl", rec + "\n");
  // The dump line itself nesting 100,000 levels.
  put("deep-line.jsonl", first + "\n" + R"({"partition":20,"offset":1,"extra":)" + deep + undeep +
                             "}\n");
  put("deep-marker.json", deep + undeep);
  put("deep-events.log", R"({"timestamp":"2026-11-18T11:07:10Z","eventType":"x","eventId":"e",)"
                         R"("eventAttributes":{"input":)" + deep + undeep + "}}\n");
  // A 4 MiB key, an offset of 10,000 digits, a marker offset of 10,000 digits.
  std::string big = first;
  big.replace(big.find("user-42"), 7, std::string(4 << 20, 'k'));
  put("huge-key.jsonl", big + "\n");
  std::string off = first;
  off.replace(off.find("\"offset\": 0"), 11, "\"offset\": " + std::string(10000, '9'));
  put("huge-offset.jsonl", off + "\n");
  put("huge-marker.json", "{\"20\":" + std::string(10000, '7') + "}");
  // 8 MiB of NUL bytes, and a properties line of 1 MiB with no '='.
  put("nul-8m.jsonl", std::string(8 << 20, '\0'));
  put("huge-line.properties", std::string(1 << 20, 'p') + "\n");
  fs::create_directories(s / "empty-dir");
  fs::copy_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl", s / "golden.jsonl");
  REQUIRE(::mkfifo((s / "in.fifo").c_str(), 0600) == 0);
}

std::vector<Row> rows() {
  const char* si = "state-inspect";
  const char* sr = "state-rebuild";
  const char* sp = "state-prune";
  const char* ed = "eventlog-dump";
  const char* rs = "replay-sim";
  const std::string fb = "--from-beginning";
  return {
      // Topic dumps: state-inspect lists, state-rebuild rebuilds, state-prune plans; each
      // names the line (and, once the record was read, its partition and offset); exit 3.
      {si, {"@BAD/dump-torn-last.jsonl"}, 3, "dump-torn-last.jsonl:2: torn last line"},
      {sr, {fb, "@BAD/dump-torn-last.jsonl"}, 3, "dump-torn-last.jsonl:2: torn last line"},
      {si, {"@BAD/dump-torn-middle.jsonl"}, 3, "dump-torn-middle.jsonl:2:"},
      {sp, {"--completed", "@BAD/dump-torn-middle.jsonl"}, 3, "dump-torn-middle.jsonl:2:"},
      {si, {"@BAD/dump-not-json.jsonl"}, 3, "dump-not-json.jsonl:2: not a JSON object"},
      {sp, {"--completed", "@BAD/dump-not-json.jsonl"}, 3, "dump-not-json.jsonl:2: not a JSON"},
      {sr, {fb, "@BAD/dump-nul-line.jsonl"}, 3, "dump-nul-line.jsonl:2: not a JSON object"},
      {si, {"@BAD/dump-all-nul.jsonl"}, 3, "dump-all-nul.jsonl:1:"},
      {sp, {"--completed", "@BAD/dump-all-nul.jsonl"}, 3, "dump-all-nul.jsonl:1:"},
      {si, {"@BAD/dump-bom.jsonl"}, 3, "dump-bom.jsonl:1: not a JSON object"},
      {si, {"@BAD/dump-crlf.jsonl"}, 0, "2 records"},  // JSON whitespace: read as it is
      {si, {"@BAD/dump-utf8-key.jsonl"}, 3, "dump-utf8-key.jsonl:2: The input is not valid UTF-8"},
      {sr, {fb, "@BAD/dump-utf8-value.jsonl"}, 3, "dump-utf8-value.jsonl:2:"},
      {si, {"@BAD/dump-partition-string.jsonl"}, 3, "dump-partition-string.jsonl:1: \"partition\""},
      {si, {"@BAD/dump-partition-negative.jsonl"}, 3, "dump-partition-negative.jsonl:1:"},
      {sr, {fb, "@BAD/dump-partition-64.jsonl"}, 3, "dump-partition-64.jsonl:2: partition 64"},
      {sp, {"--completed", "@BAD/dump-partition-64.jsonl"}, 3, "dump-partition-64.jsonl:2:"},
      {si, {"@BAD/dump-partition-int-max.jsonl"}, 3, "partition 2147483647 does not exist"},
      {si, {"@BAD/dump-partition-overflow.jsonl"}, 3, "dump-partition-overflow.jsonl:1:"},
      {si, {"@BAD/dump-partition-float.jsonl"}, 3, "dump-partition-float.jsonl:1:"},
      {si, {"@BAD/dump-partition-missing.jsonl"}, 3, "dump-partition-missing.jsonl:1: missing"},
      {si, {"@BAD/dump-offset-negative.jsonl"}, 3, "dump-offset-negative.jsonl:1: \"offset\""},
      {sr, {fb, "@BAD/dump-offset-max.jsonl"}, 3,
       "dump-offset-max.jsonl:1: offset 9223372036854775807"},
      {si, {"@BAD/dump-offset-overflow.jsonl"}, 3, "dump-offset-overflow.jsonl:1: \"offset\""},
      {sr, {fb, "@BAD/dump-offset-duplicate.jsonl"}, 3, "dump-offset-duplicate.jsonl:2: offset 0"},
      {sp, {"--completed", "@BAD/dump-offset-decreasing.jsonl"}, 3, "decreasing.jsonl:2: offset 0"},
      {si, {"@BAD/dump-offset-string.jsonl"}, 3, "dump-offset-string.jsonl:1:"},
      {si, {"@BAD/dump-timestamp-string.jsonl"}, 3, "dump-timestamp-string.jsonl:1: \"timestamp\""},
      {si, {"@BAD/dump-key-missing.jsonl"}, 3, "dump-key-missing.jsonl:1: missing \"key\""},
      {si, {"@BAD/dump-key-number.jsonl"}, 3, "dump-key-number.jsonl:1: \"key\" is not a string"},
      {si, {"@BAD/dump-key-too-few-fields.jsonl"}, 3, "few-fields.jsonl:1 (partition 20 offset 0)"},
      {sp, {"--completed", "@BAD/dump-key-too-few-fields.jsonl"}, 3, "(partition 20 offset 0)"},
      {si, {"@BAD/dump-key-too-many-fields.jsonl"}, 3,
       "many-fields.jsonl:1 (partition 20 offset 0)"},
      {sr, {fb, "@BAD/dump-key-bad-seq.jsonl"}, 3, "bad-seq.jsonl:1 (partition 20 offset 0)"},
      {si, {"@BAD/dump-key-bad-uuid.jsonl"}, 3, "bad-uuid.jsonl:1 (partition 20 offset 0)"},
      {si, {"@BAD/dump-key-empty-business-key.jsonl"}, 3, "key.jsonl:1 (partition 20 offset 0)"},
      {si, {"@BAD/dump-value-number.jsonl"}, 3, "dump-value-number.jsonl:1: \"value\""},
      // A value that does not decode: state-rebuild names the line, state-inspect the
      // partition and offset of the live state it lists as corrupt.
      {sr, {fb, "@BAD/dump-value-not-json.jsonl"}, 3,
       "value-not-json.jsonl:1 (partition 20 offset 0)"},
      {si, {"@BAD/dump-value-not-json.jsonl"}, 3, "value-not-json.jsonl' partition 20 offset 0"},
      {si, {"@BAD/dump-value-truncated.jsonl"}, 3, "value-truncated.jsonl' partition 20 offset 0"},
      {si, {"@BAD/dump-value-wrong-types.jsonl"}, 3,
       "partition 20 offset 0: value does not decode"},
      {sr, {fb, "@BAD/dump-value-wrong-types.jsonl"}, 3, "completed: expected a boolean"},
      {si, {"@BAD/dump-value-not-object.jsonl"}, 3, "not-object.jsonl' partition 20 offset 0"},
      {si, {"@BAD/dump-line-array.jsonl"}, 3, "dump-line-array.jsonl:2: not a JSON object"},
      {sr, {fb, "@BAD/dump-line-string.jsonl"}, 3, "dump-line-string.jsonl:2: not a JSON object"},
      {rs, {"replay", "@BAD/dump-not-json.jsonl", "--trace", "/dev/null"}, 3,
       "dump-not-json.jsonl:2:"},
      {rs, {"replay", "@BAD/dump-key-bad-seq.jsonl", "--trace", "/dev/null"}, 3,
       "(partition 20 offset 0)"},
      {rs, {"replay", "@BAD/dump-partition-64.jsonl", "--trace", "/dev/null"}, 3, "partition 64"},
      // --out copies only what was read, and says what it left out (exit 3).
      {sr, {fb, "--out", "@S/copy.jsonl", "@BAD/dump-torn-middle.jsonl"}, 3, "torn-middle.jsonl:2:",
       "@S/copy.jsonl"},
      // Generated: deep nesting, huge values, a big NUL file.
      {si, {"@S/deep-value.jsonl"}, 3, "deep-value.jsonl' partition 20 offset 0"},
      {sr, {fb, "@S/deep-value.jsonl"}, 3, "deep-value.jsonl:1 (partition 20 offset 0)"},
      {sp, {"--completed", "@S/deep-value.jsonl"}, 3, "deep-value.jsonl:1 (partition 20 offset 0)"},
      {rs, {"replay", "@S/deep-value.jsonl", "--trace", "/dev/null"}, 0, "1 live states"},
      {si, {"@S/deep-line.jsonl"}, 3, "deep-line.jsonl:2:"},
      {si, {"@S/huge-key.jsonl"}, 0, "1 records"},  // a valid key, only long
      {si, {"@S/huge-offset.jsonl"}, 3, "huge-offset.jsonl:1: \"offset\""},
      {sr, {fb, "@S/nul-8m.jsonl"}, 3, "nul-8m.jsonl:1:"},
      // Recovery markers (state-rebuild exit 1, naming the marker file, or the partition).
      {sr, {"-m", "@BAD/marker-empty.json", "@GOLD"}, 1, "malformed JSON (at "},
      {sr, {"-m", "@BAD/marker-truncated.json", "@GOLD"}, 1, "marker-truncated.json)"},
      {sr, {"-m", "@BAD/marker-not-json.json", "@GOLD"}, 1, "malformed JSON (at "},
      {sr, {"-m", "@BAD/marker-offset-negative.json", "@GOLD"}, 1,
       "offset -1 of partition 20 is negative"},
      {sr, {"-m", "@BAD/marker-offset-max.json", "@GOLD"}, 1,
       "partition 20 from offset 9223372036854775807"},
      {sr, {"-m", "@BAD/marker-offset-overflow.json", "@GOLD"}, 1, "marker-offset-overflow.json)"},
      {sr, {"-m", "@BAD/marker-offset-string.json", "@GOLD"}, 1,
       "offset of partition 20 is not an integer"},
      {sr, {"-m", "@BAD/marker-offset-float.json", "@GOLD"}, 1,
       "offset of partition 20 is not an integer"},
      {sr, {"-m", "@BAD/marker-partition-name.json", "@GOLD"}, 1, "partition \"twenty\""},
      {sr, {"-m", "@BAD/marker-partition-negative.json", "@GOLD"}, 1, "partition \"-1\""},
      {sr, {"-m", "@BAD/marker-partition-absent.json", "@GOLD"}, 1,
       "partition 64, which does not exist"},
      {sr, {"-m", "@BAD/marker-partition-leading-zero.json", "@GOLD"}, 1, "partition \"020\""},
      {sr, {"-m", "@BAD/marker-scalar.json", "@GOLD"}, 1, "marker-scalar.json)"},
      {sr, {"-m", "@BAD/marker-array-of-numbers.json", "@GOLD"}, 1, "element 0 is not an object"},
      {sr, {"-m", "@BAD/marker-mixed.json", "@GOLD"}, 1, "cannot be mixed"},
      {sr, {"-m", "@BAD/marker-versioned-schema-2.json", "@GOLD"}, 1, "schema 2, expected 1"},
      {sr, {"-m", "@BAD/marker-versioned-no-topic.json", "@GOLD"}, 1, "blank topic"},
      {sr, {"-m", "@BAD/marker-versioned-topics-differ.json", "@GOLD"}, 1, "'a' and 'b'"},
      {sr, {"-m", "@BAD/marker-versioned-offsets-array.json", "@GOLD"}, 1,
       "offsets is not an object"},
      {sr, {"-m", "@BAD/marker-bom.json", "@GOLD"}, 1, "marker-bom.json)"},
      {sr, {"-m", "@BAD/marker-utf8.json", "@GOLD"}, 1, "marker-utf8.json)"},
      {sr, {"-m", "@BAD/marker-nul.json", "@GOLD"}, 1, "marker-nul.json)"},
      {sr, {"-m", "@BAD/marker-trailing.json", "@GOLD"}, 1, "trailing content"},
      {sr, {"-m", "@BAD/marker-duplicate-partition.json", "@GOLD"}, 1,
       "partition 20 appears twice"},
      {sr, {"-m", "@S/deep-marker.json", "@GOLD"}, 1, "deep-marker.json"},
      {sr, {"-m", "@S/huge-marker.json", "@GOLD"}, 1, "huge-marker.json)"},
      {sr, {"-m", "@BAD/marker-truncated.json", "--out", "@S/out.jsonl", "@GOLD"}, 1,
       "marker-truncated"},
      // Checkpoint directories: the _metadata file and the byte where reading stopped.
      {sr, {"--checkpoint", "@BAD/ckpt-truncated", "@GOLD"}, 1,
       "ckpt-truncated/_metadata:byte 1340"},
      {sr, {"--checkpoint", "@BAD/ckpt-header-only", "--print-markers"}, 1, "_metadata:byte 6"},
      {sr, {"--checkpoint", "@BAD/ckpt-empty", "--print-markers"}, 1,
       "ckpt-empty/_metadata:byte 0"},
      {sr, {"-m", "@BAD/ckpt-bad-magic", "@GOLD"}, 1, "ckpt-bad-magic/_metadata:byte 0"},
      {sr, {"--checkpoint", "@BAD/ckpt-version-99", "@GOLD"}, 1, "metadata version 99"},
      {sr, {"--checkpoint", "@BAD/ckpt-missing-file", "@GOLD"}, 1, "is missing (at "},
      {sr, {"--checkpoint", "@BAD/ckpt-not-metadata/_metadata", "--print-markers"}, 1,
       "magic number"},
      {sr, {"--checkpoint", "@S/empty-dir", "@GOLD"}, 1, "empty-dir' is not a checkpoint"},
      {sr, {"--checkpoint", "/dev/null", "@GOLD"}, 1, "'/dev/null' is not a checkpoint"},
      // Event logs (exit 3 for torn or corrupt records, each named by file, line and byte).
      {ed, {"@BAD/events-torn-last.log"}, 3,
       "events-torn-last.log:2: torn last record at byte 297"},
      {ed, {"--json", "@BAD/events-pretty-broken.log"}, 3, "events-pretty-broken.log:1: corrupt"},
      {ed, {"@BAD/events-not-json.log"}, 3, "events-not-json.log:2: corrupt record at byte 297"},
      {ed, {"--json", "@BAD/events-nul.log"}, 3, "events-nul.log:2: corrupt record at byte 297"},
      {ed, {"@BAD/events-utf8.log"}, 3, "events-utf8.log:2: corrupt record at byte 297"},
      {ed, {"@BAD/events-bom.log"}, 3, "events-bom.log:1: corrupt record at byte 0"},
      {ed, {"--stats", "@BAD/events-crlf.log"}, 0, ""},  // JSON whitespace: read as it is
      {ed, {"--since", "2026-01-01", "@BAD/events-timestamp-garbage.log"}, 3,
       "events-timestamp-garbage.log:2: timestamp 'not a time' does not parse"},
      {ed, {"--until", "2030-01-01", "@BAD/events-timestamp-far.log"}, 3,
       "events-timestamp-far.log:2: timestamp '99999-01-01T00:00:00Z'"},
      {ed, {"@BAD/events-timestamp-number.log"}, 3, "events-timestamp-number.log:2: corrupt"},
      {ed, {"--stats", "@BAD/events-type-array.log"}, 3, "events-type-array.log:2: corrupt"},
      {ed, {"@BAD/events-line-array.log"}, 3, "events-line-array.log:2: corrupt record"},
      {ed, {"@BAD/events-truncated.log.gz"}, 3, "events-truncated.log.gz:1: torn last record"},
      {ed, {"--json", "@BAD/events-not-gzip.log.gz"}, 0, ""},  // no gzip magic: read as text
      {ed, {"--fields", "eventAttributes.input", "@S/deep-events.log"}, 3,
       "deep-events.log:1: corrupt record at byte 0: objects and arrays nested more than 1000"},
      {ed, {"--json", "@S/deep-events.log"}, 3, "deep-events.log:1:"},
      // replay-sim traces (exit 1 at the first bad line, named).
      {rs, {"replay", "@GOLD", "--trace", "@BAD/trace-not-json.jsonl"}, 1,
       "trace-not-json.jsonl:2"},
      {rs, {"replay", "@GOLD", "--trace", "@BAD/trace-missing-calls.jsonl"}, 1, "calls.jsonl:1"},
      {rs, {"replay", "@GOLD", "--trace", "@BAD/trace-seq-negative.jsonl"}, 1, "negative.jsonl:1"},
      {rs, {"replay", "@GOLD", "--trace", "@BAD/trace-call-no-function.jsonl"}, 1,
       "has no \"functionId\""},
      {rs, {"replay", "@GOLD", "--trace", "@BAD/trace-torn.jsonl"}, 1, "trace-torn.jsonl:2"},
      // Properties files for -F (-X dump prints the settings without connecting).
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-no-equals.properties"}, 1,
       "no-equals.properties:1"},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-empty-key.properties"}, 1,
       "empty-key.properties:1"},
      {sr, {"-t", "x", "-X", "dump", "-F", "@BAD/props-unknown-key.properties"}, 1,
       "no.such.property"},
      {sp, {"-t", "x", "-X", "dump", "-F", "@BAD/props-bad-value.properties"}, 1,
       "bad-value.properties:1"},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-nul.properties"}, 1,
       "props-nul.properties:1"},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-bom.properties"}, 1,
       "props-bom.properties:1"},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-crlf.properties"}, 1,
       "props-crlf.properties:2"},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-redact-stars.properties"}, 0, ""},
      {si, {"-t", "x", "-X", "dump", "-F", "@BAD/props-utf8.properties"}, 0, ""},
      {si, {"-t", "x", "-X", "dump", "-F", "@S/huge-line.properties"}, 1, "huge-line.properties:1"},
      {si, {"-t", "x", "-X", "dump", "-F", "@S/empty-dir"}, 1, "empty-dir': Is a directory"},
      {si, {"-t", "x", "-X", "dump", "-F", "@S/none.properties"}, 1,
       "none.properties': No such file"},
      {si, {"-t", "x", "-X", "dump", "-F", "/dev/null"}, 0, ""},
      // Special files: a directory as FILE, /dev/null, a FIFO, a file that is not there.
      {si, {"@S/empty-dir"}, 1, "empty-dir': it is a directory"},
      {sr, {fb, "@S/empty-dir"}, 1, "empty-dir': it is a directory"},
      {sp, {"--completed", "@S/empty-dir"}, 1, "empty-dir': it is a directory"},
      {rs, {"replay", "@S/empty-dir", "--trace", "/dev/null"}, 1, "empty-dir': it is a directory"},
      {ed, {"@S/empty-dir"}, 0, "no event logs"},
      {sr, {"-m", "@S/empty-dir", "@GOLD"}, 1, "empty-dir': is a directory"},
      {si, {"/dev/null"}, 0, "0 records"},
      {sp, {"--completed", "/dev/null"}, 0, "0 tombstones"},
      {ed, {"/dev/null"}, 0, ""},
      {sr, {"-m", "/dev/null", "@GOLD"}, 1, "(at /dev/null)"},
      {si, {"@S/none.jsonl"}, 1, "none.jsonl': No such file"},
      {ed, {"@S/none.log"}, 1, "none.log': No such file"},
      {si, {"@S/in.fifo"}, 3, "in.fifo:1: not a JSON object", nullptr, "garbage\n"},
      {sr, {fb, "@S/in.fifo"}, 3, "in.fifo:1: not a JSON object", nullptr, "garbage\n"},
      {sp, {"--completed", "@S/in.fifo"}, 3, "in.fifo:1:", nullptr, "{\"partition\":\n"},
      {ed, {"@S/in.fifo"}, 3, "in.fifo:1: corrupt record", nullptr, "garbage\n"},
      {sr, {"-m", "@S/in.fifo", "@GOLD"}, 1, "in.fifo)", nullptr, "{\"20\":\n"},
      // Writes refused: --out into a missing directory or onto a directory; --apply unconfirmed.
      {sr, {fb, "--out", "@S/no-dir/out.jsonl", "@GOLD"}, 1, "No such file or directory"},
      {sr, {fb, "--out", "@S/empty-dir", "@GOLD"}, 1, "empty-dir"},
      {sp, {"--completed", "--apply", "@GOLD"}, 3, "confirm"},
      // Bad arguments: usage errors, exit 2, naming the option.
      {si, {"--no-such-flag", "@GOLD"}, 2, "--no-such-flag"},
      {sr, {"--no-such-flag", "@GOLD"}, 2, "--no-such-flag"},
      {sp, {"--no-such-flag", "@GOLD"}, 2, "--no-such-flag"},
      {ed, {"--no-such-flag", "@GOLD"}, 2, "--no-such-flag"},
      {rs, {"replay", "--no-such-flag", "@GOLD"}, 2, "--no-such-flag"},
      {si, {"--partitions", "abc", "@GOLD"}, 2, "--partitions"},
      {si, {"--partitions", "0", "@GOLD"}, 2, "--partitions"},
      {sr, {fb, "--partitions", "100001", "@GOLD"}, 2, "--partitions"},
      {si, {"--seq", "-1", "@GOLD"}, 2, "--seq"},
      {si, {"--seq", "99999999999999999999", "@GOLD"}, 2, "--seq"},
      {si, {"--pending", "--stats", "@GOLD"}, 2, "--stats"},
      {si, {"-o", "fancy", "@GOLD"}, 2, "fancy"},
      {si, {"--color", "sometimes", "@GOLD"}, 2, "sometimes"},
      {si, {"-t", "x", "-X", "foo"}, 2, "got 'foo'"},
      {si, {"-t", "x", "@GOLD"}, 2, "FILE"},
      {si, {"--pending", "--older-than", "10x", "@GOLD"}, 2, "--older-than"},
      {si, {"--pending", "--now", "yesterday", "@GOLD"}, 2, "--now"},
      {sr, {"@GOLD"}, 2, "--from-beginning"},
      {sr, {"--operator-uid", "a", "--operator-uid-hash", "f7d5c2c435a4d5b8c09f995c43ee588a",
        "--checkpoint", "@S/empty-dir", "@GOLD"},
       2, "excludes"},
      {sr, {"--checkpoint", "@S/empty-dir", "--operator-uid-hash", "xyz", "@GOLD"}, 2,
       "'xyz' is not 32 hex digits"},
      {sp, {"@GOLD"}, 2, "--completed"},
      {sp, {"--cut", "user-42=abc", "@GOLD"}, 2, "user-42=abc"},
      {sp, {"--cut", "=5", "@GOLD"}, 2, "=5"},
      {sp, {"--before-seq", "-5", "@GOLD"}, 2, "--before-seq"},
      {sp, {"--older-than", "7x", "@GOLD"}, 2, "7x"},
      {ed, {"--since", "someday", "@GOLD"}, 2, "someday"},
      {ed, {"--field", "x=~(", "@GOLD"}, 2, "invalid regular expression '('"},
      {ed, {"--field", "novalue", "@GOLD"}, 2, "novalue"},
      {rs, {}, 2, "subcommand"},
      {rs, {"replay", "@GOLD"}, 2, "--trace"},
      {rs, {"simulate", "--memory", "--keys", "abc"}, 2, "--keys"},
      {rs, {"simulate", "--memory", "--crash-rate", "2"}, 2, "--crash-rate"},
  };
}

aftk::cli::ToolMain main_of(const std::string& tool) {
  namespace t = aftk::tools;
  if (tool == "state-inspect") return t::state_inspect::main;
  if (tool == "state-rebuild") return t::state_rebuild::main;
  if (tool == "state-prune") return t::state_prune::main;
  if (tool == "eventlog-dump") return t::eventlog_dump::main;
  return t::replay_sim::main;
}

// Every file and directory under `dir`, with the size and a hash of each file's bytes.
std::map<std::string, std::pair<size_t, size_t>> snapshot(const fs::path& dir) {
  std::map<std::string, std::pair<size_t, size_t>> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      const std::string bytes = aftk::test::read_file(e.path().string());
      files[e.path().string()] = {bytes.size(), std::hash<std::string>{}(bytes)};
    } else {
      files[e.path().string() + (e.is_directory() ? "/" : "|")] = {0, 0};
    }
  }
  return files;
}

struct Outcome {
  int rc = -1;        // exit status; -1 hung (killed after the timeout), -2 killed by a signal
  int signal = 0;
  std::string err;
};

Outcome run_row(const Row& row, const std::vector<std::string>& args, const fs::path& capture,
                const std::string& fifo) {
  const std::string err_path = (capture / "stderr").string();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(::open("/dev/null", O_RDONLY), STDIN_FILENO);
    ::dup2(::open((capture / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), STDOUT_FILENO);
    ::dup2(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), STDERR_FILENO);
    std::vector<std::string> all{row.tool};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int argc = static_cast<int>(all.size());
    ::_exit(aftk::cli::main(argc, argv.data(), row.tool, main_of(row.tool)));
  }
  if (row.fifo != nullptr) {
    // Waits for the tool to open the FIFO, writes, and closes: the tool then sees its end.
    int w = -1;
    for (int i = 0; i < 1000 && w < 0; ++i) {
      w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (w < 0) std::this_thread::sleep_for(10ms);
    }
    if (w >= 0) {
      const std::string text = row.fifo;
      CHECK(::write(w, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
      ::close(w);
    }
  }
  Outcome o;
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 3000 && !ended; ++i) {  // 30 s
    ended = ::waitpid(pid, &status, WNOHANG) == pid;
    if (!ended) std::this_thread::sleep_for(10ms);
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    o.rc = WEXITSTATUS(status);
  } else {
    o.rc = -2;
    o.signal = WTERMSIG(status);
  }
  o.err = aftk::test::read_file(err_path);
  return o;
}

}  // namespace

TEST_CASE("Bad input.every row: documented exit code, message naming the place, nothing written") {
  char tmpl[] = "/tmp/aftk-bad-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const fs::path root = tmpl;
  const fs::path scratch = root / "s", capture = root / "capture";
  fs::create_directories(scratch);
  fs::create_directories(capture);
  make_generated(scratch);
  const std::string bad = aftk::test::data_dir() + "/bad";
  const auto bad_before = snapshot(bad);
  REQUIRE(bad_before.size() >= 60);

  auto expand = [&](const std::string& a) {
    if (a.rfind("@BAD/", 0) == 0) return bad + "/" + a.substr(5);
    if (a.rfind("@S/", 0) == 0) return (scratch / a.substr(3)).string();
    if (a == "@GOLD") return (scratch / "golden.jsonl").string();
    return a;
  };
  size_t n = 0;
  for (const Row& row : rows()) {
    std::vector<std::string> args;
    std::string shown = row.tool;
    for (const auto& a : row.args) {
      args.push_back(expand(a));
      shown += " " + a;
    }
    CAPTURE(shown);
    const auto before = snapshot(scratch);
    const Outcome o = run_row(row, args, capture, (scratch / "in.fifo").string());
    CAPTURE(o.err.substr(0, 2000));
    CHECK_MESSAGE(o.rc != -1, "hung: killed after 30 s");
    CHECK_MESSAGE(o.rc != -2, "killed by signal " << o.signal);
    CHECK(o.rc == row.rc);
    CHECK(o.err.find(row.message) != std::string::npos);
    auto after = snapshot(scratch);
    if (row.output != nullptr) {
      const std::string out = expand(row.output);
      CHECK(after.count(out) == 1);
      after.erase(out);
      fs::remove(out);
    }
    CHECK(after == before);
    ++n;
  }
  CHECK(n >= 60);
  CHECK(snapshot(bad) == bad_before);
  fs::remove_all(root);
}
