// SPDX-License-Identifier: Apache-2.0
// A 2 GiB generated event log streamed in constant memory (peak RSS checked with getrusage).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "aftk/eventlog/filter.h"
#include "aftk/eventlog/reader.h"
#include "aftk/eventlog/writer.h"

namespace el = aftk::eventlog;

namespace {

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

bool write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TEST_CASE("EventLog.a 2 GiB file streams in constant memory") {
  const char* tmp_env = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp_env ? tmp_env : "/tmp") + "/aftk-eventlog-2g-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "events-big-op-0.log").string();

  // One block of ~1 MiB of ordinary records, written by our writer, repeated up to 2 GiB.
  el::WriterConfig config;
  std::string block;
  std::uint64_t block_records = 0, block_rare = 0;
  for (int i = 0; block.size() < (1u << 20); ++i) {
    el::LogEvent e;
    e.timestamp = el::format_instant(1'763'463'600'000'000'000LL + i * 1'000'000LL);
    e.event_id = "00000000-0000-4000-8000-" + std::to_string(100000000000 + i);
    e.event_type = i % 97 == 0 ? "rare_event" : "type_" + std::to_string(i % 13);
    e.attributes_json = "{\"input\":\"" + std::string(static_cast<size_t>(50 + i % 300), 'x') +
                        "\",\"n\":" + std::to_string(i) +
                        ",\"nested\":{\"a\":[1,2,3],\"b\":\"\xC3\xBC\xF0\x9F\x98\x80\"}}";
    REQUIRE(el::format_record(e, config, block).value());
    ++block_records;
    block_rare += e.event_type == "rare_event";
  }
  const std::uint64_t blocks = (std::uint64_t{2} << 30) / block.size() + 1;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  bool ok = true;
  for (std::uint64_t b = 0; b < blocks && ok; ++b) {
    ok = write_all(fd, block);
    if (b == blocks / 2) {
      // One 4 MiB record: the buffer grows to hold it, and only it.
      ok =
          ok &&
          write_all(
              fd,
              "{\"timestamp\":\"2026-11-18T11:06:41Z\",\"logLevel\":\"VERBOSE\",\"eventId\":"
              "\"00000000-0000-4000-8000-000000000001\",\"eventType\":\"huge\",\"eventAttributes\":"
              "{\"blob\":\"" +
                  std::string(4u << 20, 'y') + "\"}}\n");
    }
  }
  const std::string torn = "{\"timestamp\":\"2026-11-18T11:06:41Z\",\"logLevel\":\"STAND";
  ok = ok && write_all(fd, torn);
  ::close(fd);
  REQUIRE(ok);
  const auto size = std::filesystem::file_size(path);
  CHECK(size > (std::uint64_t{2} << 30));
  const long rss_before = peak_rss_kib();

  {  // every record decoded
    std::uint64_t records = 0, huge = 0, last_line = 0;
    std::vector<el::Problem> problems;
    el::ReadOptions o;
    o.on_problem = [&](const el::Problem& p) { problems.push_back(p); };
    auto st = el::read_all(path, o, [&](el::Record& r) {
      ++records;
      huge += r.event_type == "huge";
      last_line = r.line;
      return true;
    });
    REQUIRE(st.has_value());
    CHECK(records == blocks * block_records + 1);
    CHECK(huge == 1);
    CHECK(last_line == records);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].kind == el::Problem::Kind::kTorn);
    CHECK(problems[0].offset == size - torn.size());
    CHECK(problems[0].line == records + 1);
  }
  {  // prefiltered by type
    el::Filter f;
    f.types = {"rare_event"};
    el::ReadOptions o;
    o.needles = f.needles(el::Filter::Scope::kEventLog);
    std::uint64_t rare = 0;
    std::unique_ptr<el::Reader> reader = el::Reader::open(path, o).value();
    el::Record r;
    while (reader->next(r).value() == el::Reader::Next::kRecord) rare += f.matches(r);
    CHECK(rare == blocks * block_rare);
    CHECK(reader->torn_records() == 1);
    CHECK(reader->skipped_records() >= blocks * (block_records - block_rare));
  }
  const long rss_after = peak_rss_kib();
  MESSAGE("file ", size >> 20, " MiB; peak RSS before reading ", rss_before / 1024, " MiB, after ",
          rss_after / 1024, " MiB");
  // The reader holds a buffer for the largest record (4 MiB), a copy of it and its parser's
  // working space; holding the file would take 2 GiB.
  CHECK(rss_before < 32 * 1024);
  CHECK(rss_after < 64 * 1024);
  std::filesystem::remove_all(dir);
}
