// SPDX-License-Identifier: Apache-2.0
// eventlog-dump --type X --json against jq and cat on a generated flat event log (same run).
//
//   build/tests/bench/eventlog_bench [--size-mb N] [--dir DIR]
//
// Prints wall times, throughput and the ratios; fails when the event ids selected by
// eventlog-dump and jq differ.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#ifndef AFTK_EVENTLOG_DUMP
#define AFTK_EVENTLOG_DUMP "eventlog-dump"
#endif

namespace {

struct Time {
  double wall = 0, cpu = 0;  // cpu: user + system time of the command and its children
};

double children_cpu() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Time run_once(const std::string& cmd) {
  const double c0 = children_cpu();
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system(cmd.c_str());
  const auto t1 = std::chrono::steady_clock::now();
  if (rc != 0) {
    std::fprintf(stderr, "eventlog_bench: command failed (%d): %s\n", rc, cmd.c_str());
    std::exit(1);
  }
  return {std::chrono::duration<double>(t1 - t0).count(), children_cpu() - c0};
}

// The best wall time and the best CPU time of n runs (the machine may be shared).
Time best_of(int n, const std::string& cmd) {
  Time best{1e300, 1e300};
  for (int i = 0; i < n; ++i) {
    const Time t = run_once(cmd);
    best.wall = std::min(best.wall, t.wall);
    best.cpu = std::min(best.cpu, t.cpu);
  }
  return best;
}

std::vector<std::string> event_ids(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> ids;
  std::string line;
  const std::string key = "\"eventId\":\"";
  while (std::getline(in, line)) {
    auto p = line.find(key);
    if (p == std::string::npos) {
      ids.push_back("?");
      continue;
    }
    p += key.size();
    ids.push_back(line.substr(p, line.find('"', p) - p));
  }
  return ids;
}

std::string uuid(std::mt19937_64& rng) {
  const std::uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF,
                     0x8000 | ((b >> 48) & 0x3FFF), b & 0xFFFFFFFFFFFFULL);
}

// Writes a flat (main@8ad3a32) event log of about `bytes`; returns records and selected count.
std::pair<std::uint64_t, std::uint64_t> generate(const std::string& path, std::uint64_t bytes,
                                                 const std::string& selected) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(42);
  static const char* kWords[] = {"alpha",
                                 "beta",
                                 "gamma",
                                 "delta",
                                 "order",
                                 "status",
                                 "eventType",
                                 "type_07",
                                 "\\\"quoted\\\"",
                                 "\xC3\xBC",
                                 "\xF0\x9F\x98\x80",
                                 "value"};
  std::uint64_t written = 0, records = 0, hits = 0;
  std::int64_t ms = 1'763'463'600'000;
  std::string line, text, prev_id = uuid(rng);
  while (written < bytes) {
    const int t = static_cast<int>(rng() % 20);
    const std::string type = t == 19 ? "_input_event" : fmt::format("type_{:02}", t);
    text.clear();
    const int words = 8 + static_cast<int>(rng() % 60);
    for (int w = 0; w < words; ++w) {
      if (w) text.push_back(' ');
      text += kWords[rng() % (sizeof kWords / sizeof *kWords)];
    }
    const std::string id = uuid(rng);
    ms += 1 + static_cast<std::int64_t>(rng() % 50);
    line = fmt::format(
        "{{\"timestamp\":\"{}.{:03}Z\",\"logLevel\":\"STANDARD\",\"eventId\":\"{}\",\"eventType\":"
        "\"{}\","
        "\"upstreamEventId\":\"{}\",\"upstreamActionName\":\"process\",\"eventAttributes\":{{"
        "\"input\":\"{}\","
        "\"n\":{},\"score\":{}.5,\"nested\":{{\"a\":[1,2,3],\"b\":\"x\",\"ok\":true,\"nil\":null}}}"
        "}}}\n",
        "2026-11-18T11:06:41", ms % 1000, id, type, prev_id, text, rng() % 100000, rng() % 100);
    prev_id = id;
    std::fwrite(line.data(), 1, line.size(), f);
    written += line.size();
    ++records;
    hits += type == selected;
  }
  std::fclose(f);
  return {records, hits};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t size_mb = 256;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--size-mb" && i + 1 < argc)
      size_mb = std::stoull(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: eventlog_bench [--size-mb N] [--dir DIR]\n");
      return 2;
    }
  }
  bool own_dir = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/aftk-eventlog-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    dir = tmpl;
    own_dir = true;
  }
  const std::string selected = "type_07";
  const std::string log = dir + "/events-bench-op-0.log";
  const auto [records, hits] = generate(log, size_mb << 20, selected);
  const double mb = static_cast<double>(std::filesystem::file_size(log)) / (1 << 20);
  const std::string tool = AFTK_EVENTLOG_DUMP;
  const std::string out_ed = dir + "/ed.jsonl", out_jq = dir + "/jq.jsonl";

  run_once(fmt::format("cat '{}' > /dev/null", log));  // warm the page cache
  const Time cat = best_of(5, fmt::format("cat '{}' > /dev/null", log));
  const Time ed =
      best_of(5, fmt::format("'{}' --type {} --json '{}' > '{}'", tool, selected, log, out_ed));
  const Time jq = best_of(
      1, fmt::format("jq -c 'select(.eventType==\"{}\")' '{}' > '{}'", selected, log, out_jq));

  const auto ids_ed = event_ids(out_ed), ids_jq = event_ids(out_jq);
  const bool same = ids_ed == ids_jq && ids_ed.size() == hits;
  fmt::print("file: {:.1f} MB, {} records, {} of type {}\n", mb, records, hits, selected);
  fmt::print("{:<36} {:>9} {:>10} {:>9}\n", "", "wall s", "wall MB/s", "cpu s");
  auto row = [&](const std::string& name, const Time& t) {
    fmt::print("{:<36} {:9.3f} {:10.0f} {:9.3f}\n", name, t.wall, mb / t.wall, t.cpu);
  };
  row("cat > /dev/null", cat);
  row("eventlog-dump --type " + selected + " --json", ed);
  row("jq -c 'select(.eventType==...)'", jq);
  fmt::print(
      "eventlog-dump vs jq:  {:.1f}x faster by wall time, {:.1f}x by CPU time (target >= 30x)\n",
      jq.wall / ed.wall, jq.cpu / ed.cpu);
  fmt::print(
      "eventlog-dump vs cat: {:.2f}x cat's speed by wall time, {:.2f}x by CPU time (target >= "
      "0.25x)\n",
      cat.wall / ed.wall, cat.cpu / ed.cpu);
  fmt::print("selected event ids identical: {} ({} vs {})\n", same ? "yes" : "NO", ids_ed.size(),
             ids_jq.size());
  if (own_dir) std::filesystem::remove_all(dir);
  return same ? 0 : 1;
}
