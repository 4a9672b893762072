// SPDX-License-Identifier: Apache-2.0
// What every tool's output options promise: coloured tables aligned as uncoloured ones,
// -o pretty indented; and the argument errors the state tools share.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "aftk/cli/tool.h"
#include "replay_sim.h"
#include "run_tool.h"
#include "state_inspect.h"
#include "state_prune.h"
#include "state_rebuild.h"

using aftk::test::run_tool;

namespace {

std::string golden_store() {
  const auto dir =
      std::filesystem::temp_directory_path() / ("aftk-output-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "store.jsonl").string();
  std::filesystem::copy_file(aftk::test::data_dir() + "/dumps/golden-main-8ad3a32.jsonl", path,
                             std::filesystem::copy_options::overwrite_existing);
  return path;
}

// Drops ESC '[' ... 'm' colour sequences.
std::string strip_colour(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\033' && i + 1 < s.size() && s[i + 1] == '[') {
      i = s.find('m', i);
      if (i == std::string::npos) break;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

aftk::test::ToolRun inspect(std::vector<std::string> a) {
  return run_tool(aftk::tools::state_inspect::main, "state-inspect", std::move(a));
}
aftk::test::ToolRun sim(std::vector<std::string> a) {
  return run_tool(aftk::tools::replay_sim::main, "replay-sim", std::move(a));
}

}  // namespace

TEST_CASE("Table.colour sequences take no width") {
  CHECK(aftk::cli::display_width("\033[31mCORRUPT\033[0m") == 7);
  CHECK(aftk::cli::display_width("\033[1;33mé\033[0m") == 1);
  aftk::cli::Table t;
  t.add_column("A");
  t.add_column("B", aftk::cli::Table::Align::kRight);
  t.add_column("C");
  t.add_row({"\033[32myes\033[0m", "\033[33m12\033[0m", "x"});
  t.add_row({"no", "3", "y"});
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  t.print(f, false);
  std::fclose(f);
  const std::string printed(buf, len);
  std::free(buf);
  CHECK(strip_colour(printed) == "A     B  C\nyes  12  x\nno    3  y\n");
}

TEST_CASE("Table.state-inspect and replay-sim tables line up with colour forced on") {
  const std::string store = golden_store();
  auto never = inspect({"-o", "table", "--color", "never", "-q", store});
  auto always = inspect({"-o", "table", "--color", "always", "-q", store});
  REQUIRE(always.out.find('\033') != std::string::npos);
  CHECK(strip_colour(always.out) == never.out);

  // A finished run, and its trace with one call's arguments changed: one row diverges (red).
  const std::string ran = store + ".sim", trace = store + ".trace";
  std::filesystem::remove(ran);
  REQUIRE(sim({"simulate", "--store", ran, "--crash-rate", "0", "--trace-out", trace, "-q"}).rc ==
          0);
  std::string text = aftk::test::read_file(trace);
  const std::string digest = "\"argsDigest\":\"";
  const auto at = text.find(digest);
  REQUIRE(at != std::string::npos);
  const auto end = text.find('"', at + digest.size());
  text.replace(at + digest.size(), end - at - digest.size(), "0000000000000000");
  std::ofstream(trace, std::ios::binary) << text;
  const std::string& replayed = ran;
  auto s_never =
      sim({"replay", replayed, "--trace", trace, "-o", "table", "--color", "never", "-q"});
  auto s_always =
      sim({"replay", replayed, "--trace", trace, "-o", "table", "--color", "always", "-q"});
  REQUIRE(s_always.out.find('\033') != std::string::npos);
  CHECK(strip_colour(s_always.out) == s_never.out);
}

TEST_CASE("Output.-o pretty indents the JSON of every state tool") {
  const std::string store = golden_store();
  const auto pretty = [](const aftk::test::ToolRun& r) {
    CAPTURE(r.err);
    CHECK(r.rc == 0);
    CHECK(r.out.rfind("{\n  \"", 0) == 0);
    CHECK(r.out.find("\n}\n") != std::string::npos);
  };
  pretty(inspect({"-o", "pretty", "-q", store}));
  pretty(run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                  {"--from-beginning", "--summary", "-o", "pretty", "-q", store}));
  pretty(run_tool(aftk::tools::state_rebuild::main, "state-rebuild",
                  {"--from-beginning", "-o", "pretty", "-q", store}));
  pretty(run_tool(aftk::tools::state_prune::main, "state-prune",
                  {"--completed", "-o", "pretty", "-q", store}));
  pretty(sim({"simulate", "--memory", "-o", "pretty", "-q"}));
  const std::string trace = store + ".trace";
  REQUIRE(sim({"simulate", "--memory", "--crash-rate", "0", "--trace-out", trace, "-q"}).rc == 0);
  pretty(sim({"replay", store, "--trace", trace, "-o", "pretty", "-q"}));
}

TEST_CASE("Output.a directory given as a recovery marker is named as one") {
  const std::string store = golden_store();
  const std::string dir = std::filesystem::path(store).parent_path().string();
  auto r = run_tool(aftk::tools::state_rebuild::main, "state-rebuild", {"-m", dir, store});
  CHECK(r.rc == 1);
  CHECK(r.err.find("cannot read marker file '" + dir + "': is a directory") != std::string::npos);
  CHECK(r.err.find("malformed") == std::string::npos);
}

TEST_CASE("Output.non_negative() gives a short message for a negative or huge number") {
  for (const char* bad : {"-1", "abc", "99999999999999999999999"}) {
    CAPTURE(bad);
    CLI::App app;
    std::int64_t seq = -1;
    app.add_option("--seq", seq)->check(aftk::cli::non_negative());
    const char* argv[] = {"t", "--seq", bad};
    try {
      app.parse(3, argv);
      FAIL("accepted");
    } catch (const CLI::ParseError& e) {
      const std::string what = e.what();
      CHECK(what.find("expected a whole number, 0 or more") != std::string::npos);
      CHECK(what.size() < 120);
    }
  }
  CLI::App app;
  std::int64_t seq = -1;
  app.add_option("--seq", seq)->check(aftk::cli::non_negative());
  const char* argv[] = {"t", "--seq", "17"};
  app.parse(3, argv);
  CHECK(seq == 17);
}
