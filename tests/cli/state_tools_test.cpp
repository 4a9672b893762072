// SPDX-License-Identifier: Apache-2.0
// state-rebuild and state-prune run in-process on copies of the golden store.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <simdjson.h>

#include "run_tool.h"
#include "state_inspect.h"
#include "state_prune.h"
#include "state_rebuild.h"

using aftk::test::run_tool;

namespace {

std::string copy_golden(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("aftk-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::filesystem::copy_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl", path,
                             std::filesystem::copy_options::overwrite_existing);
  return path;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("state-prune.plans without writing, refuses --apply without confirmation, then writes") {
  const auto path = copy_golden("prune.jsonl");
  const auto before = aftk::test::read_file(path);
  auto plan = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "--completed", path});
  CHECK(plan.rc == 0);
  CHECK(lines(plan.out) == 4);
  CHECK(plan.out.find(R"("reason":"completed up to seq 1, newest seq 2")") != std::string::npos);
  CHECK(aftk::test::read_file(path) == before);

  auto refused = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "--completed", "--apply", path});
  CHECK(refused.rc == 3);
  CHECK(aftk::test::read_file(path) == before);

  auto applied = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "--completed", "--apply", "--yes", path});
  CHECK(applied.rc == 0);
  CHECK(applied.err.find("wrote 4 tombstones") != std::string::npos);
  auto after = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--summary", "-q", path});
  CHECK(after.out == "{\"records\":42,\"tombstones\":6,\"live\":6,\"listed\":6,\"corrupt\":0,\"deviating\":0,\"problems\":0}\n");
  // Nothing left to prune by the same rule.
  auto again = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "--completed", path});
  CHECK(again.out.empty());
}

TEST_CASE("state-prune.explicit cuts; keys containing '_' and '='; bad cuts are usage errors") {
  const auto path = copy_golden("cut.jsonl");
  auto plan = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "--cut", "acct_7_x=0", path});
  CHECK(plan.rc == 0);
  CHECK(lines(plan.out) == 1);
  CHECK(run_tool(aftk::tools::state_prune::main, "state-prune", {"--cut", "nokey", path}).rc == 2);
  CHECK(run_tool(aftk::tools::state_prune::main, "state-prune", {"--cut", "k=-1", path}).rc == 2);
  CHECK(run_tool(aftk::tools::state_prune::main, "state-prune", {path}).rc == 2);
}

TEST_CASE("state tools.repeatable options take one value each and leave FILE alone") {
  // CLI11's vector options would otherwise swallow the positional FILE after them.
  const auto path = copy_golden("repeat.jsonl");
  auto a = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--json", "-q", "-k", "test-key", "-k", "1", path});
  CHECK(a.rc == 0);
  CHECK(lines(a.out) == 5);  // four live states of test-key, one of "1"
  auto b = run_tool(aftk::tools::state_prune::main, "state-prune", {"--json", "-q", "--cut", "user-42=0", "--cut", "test-key=2", path});
  CHECK(b.rc == 0);
  CHECK(lines(b.out) == 3);
  auto c = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"-q", "-X", "client.id=x", path});
  CHECK(c.rc == 2);  // Kafka settings without -t are a mistake worth saying
  CHECK(c.err.find("need -t") != std::string::npos);
}

TEST_CASE("state-rebuild.from markers, from the beginning, and to a compacted copy") {
  const auto path = copy_golden("rebuild.jsonl");
  const auto dir = std::filesystem::path(path).parent_path();
  const auto marker = (dir / "marker.json").string();
  std::ofstream(marker) << R"([{"20":8,"55":0},{"20":9}])";
  auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--summary", "-q", "-m", marker, path});
  CHECK(r.rc == 0);
  // Partition 20 from offset 8 (the minimum of 8 and 9), partition 55 from 0; nothing else.
  CHECK(r.out.find(R"("from":{"20":8,"55":0})") != std::string::npos);
  CHECK(r.out.find(R"("records":18,"tombstones":2,)") != std::string::npos);
  CHECK(r.out.find(R"("live":6,"problems":0})") != std::string::npos);

  const auto out = (dir / "compact.jsonl").string();
  std::filesystem::remove(out);
  auto c = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--out", out, "-q", path});
  CHECK(c.rc == 0);
  CHECK(lines(aftk::test::read_file(out)) == 10);
  auto again = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--out", out, "-q", path});
  CHECK(again.rc == 1);  // refuses to replace without --force
  // The compacted copy lists the same states as the original.
  auto a = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--json", "-q", path});
  auto b = run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--json", "-q", out});
  CHECK(a.out == b.out);

  std::ofstream(marker) << R"({"20":999})";
  auto beyond = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"-m", marker, path});
  CHECK(beyond.rc == 1);
  CHECK(beyond.err.find("outside the available range") != std::string::npos);
  CHECK(run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {path}).rc == 2);
}

namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / ("aftk-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The golden dump's first `n` lines.
std::string golden_lines(size_t n) {
  std::istringstream in(aftk::test::read_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl"));
  std::string out, line;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

// Sets an environment variable for one scope, restoring what was there.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value != nullptr)
      ::setenv(name.c_str(), value, 1);
    else
      ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

// The tools that take -t TOPIC with -b, -X and -F.
std::vector<std::pair<std::string, aftk::cli::ToolMain>> kafka_tools() {
  return {{"state-inspect", aftk::tools::state_inspect::main},
          {"state-rebuild", aftk::tools::state_rebuild::main},
          {"state-prune", aftk::tools::state_prune::main}};
}

}  // namespace

TEST_CASE("state-rebuild and state-prune.unreadable lines are problems: exit 3, each line named") {
  const std::string good = golden_lines(3);
  const auto path = temp_file("unreadable.jsonl", good + "this is not json\n" + std::string(40, '\0') +
                                                      "\n{\"partition\":0,\"offs");
  auto rebuilt = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--summary", path});
  CHECK(rebuilt.rc == 3);
  CHECK(rebuilt.err.find(path + ":4: ") != std::string::npos);
  CHECK(rebuilt.err.find(path + ":5: ") != std::string::npos);
  CHECK(rebuilt.err.find(path + ":6: torn last line") != std::string::npos);
  CHECK(rebuilt.out.find("\"problems\":3") != std::string::npos);
  // The copy --out writes is of what could be read; the run still says what could not.
  const auto out = path + ".copy";
  auto copied = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "-q", "--out", out, path});
  CHECK(copied.rc == 3);
  auto pruned = run_tool(aftk::tools::state_prune::main, "state-prune", {"--completed", path});
  CHECK(pruned.rc == 3);
  CHECK(pruned.err.find(path + ":4: ") != std::string::npos);
}

TEST_CASE("state-rebuild.--out keeps each record's timestamp") {
  const auto path = copy_golden("timestamps.jsonl");
  const auto out = path + ".snapshot";
  auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "-q", "--out", out, path});
  REQUIRE(r.rc == 0);
  const std::string copy = aftk::test::read_file(out);
  CHECK(copy.find("\"timestamp\":-1") == std::string::npos);
  // Every line of the snapshot is a line of the source (same partition, offset and timestamp).
  // (The golden dump has a space after each ':' and ','; the snapshot has none.)
  std::string source = aftk::test::read_file(path);
  source.erase(std::remove(source.begin(), source.end(), ' '), source.end());
  std::istringstream in(copy);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    const auto head = line.substr(0, line.find(",\"key\""));
    CHECK_MESSAGE(source.find(head + ",") != std::string::npos, head);
    ++n;
  }
  CHECK(n > 0);
}

TEST_CASE("state-rebuild and state-prune.a record outside the store's partitions is refused, not grown into") {
  std::string text = golden_lines(2);
  text += R"({"partition":64,"offset":0,"timestamp":1,"key":"k_1_00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-000000000000","value":"{}"})" "\n";
  text += R"({"partition":1000000000,"offset":0,"timestamp":1,"key":"k","value":null})" "\n";
  text += R"({"partition":2147483647,"offset":9223372036854775807,"timestamp":1,"key":"k","value":null})" "\n";
  const auto path = temp_file("partition64.jsonl", text);
  auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--summary", path});
  CHECK(r.rc == 3);
  CHECK(r.err.find(path + ":3: partition 64 does not exist in a store of 64 partitions") !=
        std::string::npos);
  CHECK(r.err.find(path + ":4: partition 1000000000 does not exist") != std::string::npos);
  CHECK(r.err.find(path + ":5: partition 2147483647 does not exist") != std::string::npos);
  CHECK(r.err.find("in 64 partitions") != std::string::npos);
  // --partitions 65 makes partition 64 real.
  auto wider = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                        {"--from-beginning", "--summary", "--partitions", "65", path});
  CHECK(wider.err.find(":3: partition 64") == std::string::npos);
  // A prune never writes to a partition the store does not have.
  const auto before = aftk::test::read_file(path);
  auto pruned = run_tool(aftk::tools::state_prune::main, "state-prune", {"--cut", "k=5", "--apply", "--yes", path});
  CHECK(pruned.err.find("partition 64 does not exist") != std::string::npos);
  CHECK(aftk::test::read_file(path) == before);
}

TEST_CASE("state-rebuild.duplicate and decreasing offsets in a partition are problems") {
  std::string text = golden_lines(3);
  // Line 4 repeats line 1's partition and offset.
  std::istringstream in(text);
  std::string first;
  std::getline(in, first);
  const auto path = temp_file("dup-offsets.jsonl", text + first + "\n");
  auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--summary", path});
  CHECK(r.rc == 3);
  CHECK(r.err.find(path + ":4: offset ") != std::string::npos);
  CHECK(r.err.find("is not above the previous one") != std::string::npos);
}

TEST_CASE("state-inspect and state-rebuild.read a FIFO in one pass; a directory is named as one") {
  // A writer whose reader went away gets EPIPE rather than the signal that ends the test.
  std::signal(SIGPIPE, SIG_IGN);
  const auto dir = std::filesystem::temp_directory_path() / ("aftk-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto fifo = (dir / "dump.fifo").string();
  ::unlink(fifo.c_str());
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string text = aftk::test::read_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl");
  for (const bool inspect : {true, false}) {
    std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << text; });
    auto r = inspect ? run_tool(aftk::tools::state_inspect::main, "state-inspect", {"--summary", "-q", fifo})
                     : run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--from-beginning", "--summary", "-q", fifo});
    writer.join();
    CHECK(r.rc == 0);
    if (inspect) CHECK(r.out.find("\"records\":38,\"tombstones\":2,\"live\":10") != std::string::npos);
    else CHECK(r.out.find("\"records\":38,\"tombstones\":2") != std::string::npos);
  }
  // A rebuild from markers needs the offsets before it reads: a pipe cannot give them.
  const auto marker = temp_file("fifo-marker.json", R"({"0":0})");
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << text; });
  auto refused = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"-m", marker, fifo});
  // Unblock the writer if the tool did not open the FIFO for reading: read all it writes, so
  // that it never writes into a FIFO with no reader (SIGPIPE).
  {
    std::ifstream drain(fifo, std::ios::binary);
    const std::string rest((std::istreambuf_iterator<char>(drain)), std::istreambuf_iterator<char>());
    (void)rest;
  }
  writer.join();
  CHECK(refused.rc == 1);
  CHECK(refused.err.find("is a pipe") != std::string::npos);

  auto d = run_tool(aftk::tools::state_inspect::main, "state-inspect", {dir.string()});
  CHECK(d.rc == 1);
  CHECK(d.err.find("it is a directory") != std::string::npos);
}

TEST_CASE("Kafka tools.-X without '=' is a usage error, exit 2, with a secret name hidden") {
  const auto tools = kafka_tools();
  for (const auto& [name, fn] : tools) {
    CAPTURE(name);
    auto r = run_tool(fn, name, {"-t", "topic", "-X", "foo"});
    CHECK(r.rc == 2);
    CHECK(r.err.find("-X expects KEY=VALUE, 'list' or 'dump', got 'foo'") != std::string::npos);
    CHECK(r.out.empty());
    auto secret = run_tool(fn, name, {"-t", "topic", "-X", "sasl.passwordhunter2"});
    CHECK(secret.rc == 2);
    CHECK(secret.err.find("hunter2") == std::string::npos);
    CHECK(run_tool(fn, name, {"-t", "topic", "-X", "=value"}).rc == 2);
  }
}

TEST_CASE("Kafka tools.-X dump prints the effective settings, secrets redacted, and exits 0") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("aftk-cli-dump-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto props = (dir / "client.properties").string();
  std::ofstream(props) << "ssl.key.password=keypass9\nlinger.ms=7\nclient.id=from-file\n";
  const ScopedEnv brokers("AFTK_BROKERS", "envhost:9092");
  const ScopedEnv no_default("AFTK_KAFKA_CONFIG", nullptr);
  const ScopedEnv home("HOME", dir.c_str());
  const auto tools = kafka_tools();
  for (const auto& [name, fn] : tools) {
    CAPTURE(name);
    auto r = run_tool(fn, name, {"-F", props, "-X", "sasl.password=hunter2", "-X", "dump",
                                  "-X", "client.id=from-x"});
    REQUIRE(r.rc == 0);
    CHECK(r.out.find("bootstrap.servers = envhost:9092\n") != std::string::npos);
    // librdkafka names an alias by its original: linger.ms is queue.buffering.max.ms.
    CHECK(r.out.find("queue.buffering.max.ms = 7\n") != std::string::npos);
    CHECK(r.out.find("client.id = from-x\n") != std::string::npos);  // -X after -F wins
    CHECK(r.out.find("socket.connection.setup.timeout.ms = 10000\n") != std::string::npos);
    CHECK(r.out.find("sasl.password = [redacted]\n") != std::string::npos);
    CHECK(r.out.find("ssl.key.password = [redacted]\n") != std::string::npos);
    for (const auto* text : {&r.out, &r.err}) {
      CHECK(text->find("hunter2") == std::string::npos);
      CHECK(text->find("keypass9") == std::string::npos);
    }
    std::istringstream lines_in(r.out);
    for (std::string line; std::getline(lines_in, line);) {
      CHECK_MESSAGE(line.find(" = ") != std::string::npos, line);
    }
    // -b wins over $AFTK_BROKERS.
    auto b = run_tool(fn, name, {"-b", "flag:1", "-X", "dump"});
    CHECK(b.rc == 0);
    CHECK(b.out.find("bootstrap.servers = flag:1\n") != std::string::npos);
    // A -F file that cannot be read is a failure, not a dump.
    auto missing = run_tool(fn, name, {"-F", (dir / "missing").string(), "-X", "dump"});
    CHECK(missing.rc == 1);
    CHECK(missing.out.empty());
  }
  std::filesystem::remove_all(dir);
}

namespace {

namespace fs = std::filesystem;

// The checkpoint directories under tests/data/real-job/ that have upstream's rebuild result.
std::vector<fs::path> checkpoints_with_upstream_rebuild() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::recursive_directory_iterator(aftk::test::data_dir() + "/real-job"))
    if (e.path().filename() == "upstream-rebuild.json") dirs.push_back(e.path().parent_path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// The version directory (flink-agents-*) a checkpoint directory lies in.
fs::path version_dir(fs::path dir) {
  while (dir.has_parent_path() && dir.filename().string().rfind("flink-agents-", 0) != 0)
    dir = dir.parent_path();
  return dir;
}

}  // namespace

TEST_CASE("state-rebuild.--checkpoint rebuilds exactly the states upstream's rebuildState did") {
  // The fixtures' action-state-topic.jsonl is kcat's dump of the whole topic in partition and
  // offset order with the five fields of aftk's topic-dump format (partition, offset,
  // timestamp, key, value), so it is read as it is: no conversion needed. upstream-rebuild.json
  // is what upstream's KafkaActionStateStore.rebuildState(markers) held afterwards.
  const auto dirs = checkpoints_with_upstream_rebuild();
  REQUIRE(dirs.size() == 12);
  simdjson::dom::parser parser;
  for (const auto& dir : dirs) {
    CAPTURE(dir.string());
    const std::string dump = (version_dir(dir) / "action-state-topic.jsonl").string();
    auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                      {"--json", "-q", "--checkpoint", dir.string(), dump});
    REQUIRE(r.rc == 0);
    std::map<std::string, std::string> got;  // key -> minified state
    std::istringstream rows(r.out);
    for (std::string row; std::getline(rows, row);) {
      simdjson::dom::element e = parser.parse(row);
      const std::string key{std::string_view(e["key"])};
      got[key] = simdjson::minify(e["state"]);
    }
    std::map<std::string, std::string> want;
    simdjson::dom::element up = parser.load((dir / "upstream-rebuild.json").string());
    for (simdjson::dom::element s : up["states"].get_array())
      want[std::string(std::string_view(s["key"]))] = simdjson::minify(s["state"]);
    CHECK(got.size() == static_cast<std::size_t>(std::int64_t(up["count"])));
    CHECK(got == want);
    // -m takes the directory too, with the same result.
    auto m = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                      {"--json", "-q", "-m", dir.string(), dump});
    CHECK(m.rc == 0);
    CHECK(m.out == r.out);
  }
}

TEST_CASE("state-rebuild.--print-markers prints a checkpoint's markers as markers.json holds them") {
  for (const auto& e : fs::recursive_directory_iterator(aftk::test::data_dir() + "/real-job")) {
    if (e.path().filename() != "_metadata") continue;
    const fs::path dir = e.path().parent_path();
    CAPTURE(dir.string());
    auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                      {"--checkpoint", dir.string(), "--print-markers"});
    REQUIRE(r.rc == 0);
    std::string want = aftk::test::read_file((dir / "markers.json").string());
    want.erase(std::remove_if(want.begin(), want.end(), [](char c) { return c == ' ' || c == '\n'; }),
               want.end());
    CHECK(r.out == want + "\n");
    CHECK(r.err.find("2 recovery markers from checkpoint") != std::string::npos);
  }
}

TEST_CASE("state-rebuild.--checkpoint errors: not a checkpoint, a wrong operator, no store") {
  const auto dirs = checkpoints_with_upstream_rebuild();
  const std::string dir = dirs.front().string();
  const std::string dump = (version_dir(dirs.front()) / "action-state-topic.jsonl").string();
  auto notckpt = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                          {"--checkpoint", aftk::test::data_dir() + "/kryo", dump});
  CHECK(notckpt.rc == 1);
  CHECK(notckpt.err.find("is not a checkpoint or savepoint directory") != std::string::npos);
  auto wrong = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                        {"--checkpoint", dir, "--operator-uid-hash", std::string(32, '0'), dump});
  CHECK(wrong.rc == 1);
  CHECK(wrong.err.find("has no operator with uid hash 0000") != std::string::npos);
  auto chosen = run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                         {"--checkpoint", dir, "--print-markers", "--operator-uid-hash",
                          "f7d5c2c435a4d5b8c09f995c43ee588a"});
  CHECK(chosen.rc == 0);
  CHECK(run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                 {"--checkpoint", dir, "--print-markers", dump})
            .rc == 2);
  CHECK(run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"--print-markers"}).rc == 2);
  CHECK(run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                 {"--checkpoint", dir, "--from-beginning", dump})
            .rc == 2);
}
