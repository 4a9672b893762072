// SPDX-License-Identifier: Apache-2.0
// feedback-bench run in-process: argument checking, JSON Lines shape, the SVG plot.
#include "feedback_bench.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "measure.h"

namespace {

struct Run {
  int rc = 0;
  std::string out, err;
};

Run run(std::vector<const char*> args) {
  args.insert(args.begin(), "feedback-bench");
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  std::size_t out_len = 0, err_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* err = open_memstream(&err_buf, &err_len);
  aftk::cli::Io io;
  io.tool = "feedback-bench";
  io.out = out;
  io.err = err;
  Run r;
  r.rc = aftk::tools::feedback_bench::main(static_cast<int>(args.size()), args.data(), io);
  std::fclose(out);
  std::fclose(err);
  r.out.assign(out_buf, out_len);
  r.err.assign(err_buf, err_len);
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

}  // namespace

TEST_CASE("feedback-bench.rejects unknown implementations and payloads with a usage error") {
  Run a = run({"--impl", "aftk,nope"});
  CHECK(a.rc == 2);
  CHECK(a.err.find("unknown implementation 'nope'") != std::string::npos);
  Run b = run({"--payload", "12"});
  CHECK(b.rc == 2);
  CHECK(b.err.find("unsupported payload '12'") != std::string::npos);
}

TEST_CASE("feedback-bench.writes one JSON object per line with the documented fields") {
  Run r = run({"--impl", "aftk,floor", "--metric", "floor,rtt_spin,throughput", "-p", "1",
               "--payload", "8", "--items", "20000", "--samples", "400", "-r", "1", "--warmup", "0",
               "--json", "-q"});
  REQUIRE(r.rc == 0);
  simdjson::dom::parser parser;
  std::istringstream lines(r.out);
  int machines = 0, measurements = 0, targets = 0;
  bool saw_cacheline = false, saw_throughput = false, saw_spin = false;
  for (std::string line; std::getline(lines, line);) {
    simdjson::dom::element e;
    REQUIRE_MESSAGE(parser.parse(line).get(e) == simdjson::SUCCESS, line);
    std::string_view kind = e["kind"].get_string().value();
    if (kind == "machine") {
      ++machines;
      CHECK(e["cores"].get_uint64().value() >= 1);
    } else if (kind == "measurement") {
      ++measurements;
      std::string_view impl = e["impl"].get_string().value();
      std::string_view metric = e["metric"].get_string().value();
      CHECK((impl == "aftk" || impl == "floor"));
      CHECK(e["producers"].get_uint64().value() == 1);
      CHECK(e["payload_bytes"].get_uint64().value() == 8);
      double median = e["median"].get_double().value();
      CHECK(e["min"].get_double().value() <= median);
      CHECK(e["max"].get_double().value() >= median);
      std::string_view unit = e["unit"].get_string().value();
      if (metric == "throughput") {
        saw_throughput = true;
        CHECK(unit == "items/s");
        CHECK(e["allocs_per_item"].get_double().value() >= 0);
      } else {
        CHECK(unit == "ns");
      }
      if (metric == "cacheline_rtt") saw_cacheline = true;
      if (metric == "rtt_spin_p50") {
        saw_spin = true;
        CHECK(e["ratio_to"].get_string().value() == "cacheline_rtt");
      }
    } else if (kind == "target") {
      ++targets;
      CHECK(e["met"].is_bool());
    }
  }
  CHECK(machines == 1);
  CHECK(measurements >= 5);
  CHECK(targets >= 2);
  CHECK(saw_cacheline);
  CHECK(saw_throughput);
  CHECK(saw_spin);
}

TEST_CASE("feedback-bench.draws an SVG plot") {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                     "/feedback-bench-test-" + std::to_string(::getpid()) + ".svg";
  Run r = run({"--impl", "aftk,two-deque-spin,floor", "--metric", "throughput,floor", "-p", "1",
               "--items", "20000", "--samples", "400", "-r", "1", "--warmup", "0", "-o", "table",
               "-q", "--plot", path.c_str()});
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("two-deque-spin") != std::string::npos);
  std::ifstream f(path);
  std::stringstream svg;
  svg << f.rdbuf();
  std::remove(path.c_str());
  CHECK(svg.str().rfind("<?xml", 0) == 0);
  CHECK(svg.str().find("<svg") != std::string::npos);
  CHECK(svg.str().find("two-deque-spin") != std::string::npos);
  CHECK(svg.str().find("cacheline_rtt") != std::string::npos);
  CHECK(svg.str().find("</svg>") != std::string::npos);
}

TEST_CASE("feedback-bench.-o pretty indents each JSON object") {
  Run r = run({"--impl", "floor", "--metric", "floor", "-p", "1", "--payload", "8", "--items",
               "20000", "--samples", "400", "-r", "1", "--warmup", "0", "-o", "pretty", "-q"});
  REQUIRE(r.rc == 0);
  CHECK(r.out.rfind("{\n  \"kind\": \"machine\",\n", 0) == 0);
  CHECK(r.out.find("\n}\n{\n  \"kind\": \"measurement\"") != std::string::npos);
}

TEST_CASE("feedback-bench.counts every form of operator new, the nothrow ones too") {
  // A form left unreplaced would neither be counted nor come from the allocator our delete frees
  // into (AddressSanitizer aborted the bench on simdjson's `new (std::nothrow) char[n]`).
  using aftk::tools::feedback_bench::thread_allocations;
  struct alignas(64) Line {
    char bytes[64];
  };
  // Each pointer passes through a volatile so that the compiler cannot elide the pair.
  auto keep = [](auto* p) {
    decltype(p) volatile kept = p;
    return kept;
  };
  std::uint64_t before = thread_allocations();
  delete keep(new int(1));
  delete[] keep(new int[3]);
  delete keep(new (std::nothrow) int(2));
  delete[] keep(new (std::nothrow) int[5]);
  delete keep(new Line);
  delete[] keep(new Line[2]);
  delete keep(new (std::nothrow) Line);
  delete[] keep(new (std::nothrow) Line[2]);
  ::operator delete(keep(::operator new(8, std::nothrow)), std::nothrow);
  ::operator delete[](keep(::operator new[](8, std::nothrow)), std::nothrow);
  CHECK(thread_allocations() - before == 10);
}
