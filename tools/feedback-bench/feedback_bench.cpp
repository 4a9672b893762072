// SPDX-License-Identifier: Apache-2.0
// feedback-bench: our feedback queue and channel against the upstream design, common lock-free
// queues and the hardware floors, measured in one run on one machine.
#include "feedback_bench.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aftk/cli/tool.h"
#include "aftk/feedback/barrier.h"
#include "aftk/json/writer.h"
#include "measure.h"
#include "plot.h"

// Counting every heap allocation per thread lets the bench show "allocations per item" for each
// queue: the issue asks for none on our hot path. Every form of the global allocation functions is
// replaced, the nothrow ones too: simdjson takes its buffers with `new (std::nothrow) T[n]`, and
// under AddressSanitizer that form, left to the sanitizer's runtime, paired its operator new[]
// with the free() in our operator delete[] (an alloc-dealloc mismatch) and escaped the count.
namespace {
thread_local std::uint64_t t_allocations = 0;

void* counted_alloc(std::size_t n) noexcept {
  ++t_allocations;
  return std::malloc(n == 0 ? 1 : n);
}

void* counted_alloc(std::size_t n, std::align_val_t a) noexcept {
  ++t_allocations;
  std::size_t align = std::max(static_cast<std::size_t>(a), sizeof(void*));
  return std::aligned_alloc(align, (n == 0 ? align : (n + align - 1) / align * align));
}

template <typename... Align>
void* counted_or_throw(std::size_t n, Align... a) {
  if (void* p = counted_alloc(n, a...)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_or_throw(n); }
void* operator new[](std::size_t n) { return counted_or_throw(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_or_throw(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_or_throw(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace aftk::tools::feedback_bench {

std::uint64_t thread_allocations() noexcept { return t_allocations; }

double ns_per_tick() {
  static const double scale = [] {
    auto c0 = std::chrono::steady_clock::now();
    std::uint64_t t0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto c1 = std::chrono::steady_clock::now();
    std::uint64_t t1 = __rdtsc();
    return std::chrono::duration<double, std::nano>(c1 - c0).count() / static_cast<double>(t1 - t0);
  }();
  return scale;
}

namespace {

const std::vector<std::string> kImpls = {"aftk",        "aftk-channel", "two-deque-spin",
                                         "mutex-deque", "moodycamel",   "boost-queue",
                                         "boost-spsc",  "floor"};
const std::vector<std::string> kGroups = {"throughput", "rtt_spin", "rtt_park", "floor"};

// What the measurements run with, checked.
struct Config {
  std::vector<std::string> impls;
  std::vector<std::string> metrics;
  std::vector<unsigned> producers = {1, 2, 4};
  std::vector<unsigned> payloads = {8, 64};
  int reps = 5;
  int warmup = 1;
  std::uint64_t items = 2'000'000;
  std::size_t samples = 20'000;
  bool quick = false;
  bool no_pin = false;
  bool check = false;
  bool spin_consumer = false;
  std::string plot;
  cli::OutputOptions output;
};

struct Machine {
  std::string cpu;
  unsigned cores = 0;
  std::string kernel;
  std::string compiler;
  bool membarrier = false;
};

Machine describe_machine() {
  Machine m;
  m.cores = std::thread::hardware_concurrency();
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) m.cpu = line.substr(colon + 2);
      break;
    }
  }
  if (m.cpu.empty()) m.cpu = "unknown";
  utsname u{};
  if (::uname(&u) == 0) m.kernel = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  m.compiler = fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
  m.membarrier = feedback::detail::asymmetric_barriers_available();
  return m;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Every measurement is a job; repetitions run round-robin over all jobs, so a burst of load from
// elsewhere on the machine hits every implementation alike instead of one.
struct Job {
  std::string impl;
  std::string metric;  // throughput, rtt_spin, rtt_park, cacheline_rtt, futex_rtt
  unsigned producers = 1;
  unsigned bytes = 8;
  std::function<ThroughputRun()> throughput;
  std::function<LatencyRun()> latency;
  std::vector<ThroughputRun> t_runs;
  std::vector<LatencyRun> l_runs;
};

class Bench {
 public:
  Bench(const Config& o, cli::Io& io) : o_(o), io_(io) {}

  bool wants(const std::string& impl) const {
    return std::find(o_.impls.begin(), o_.impls.end(), impl) != o_.impls.end();
  }
  bool wants_metric(const std::string& group) const {
    return std::find(o_.metrics.begin(), o_.metrics.end(), group) != o_.metrics.end();
  }

  void run() {
    const bool pin = !o_.no_pin && std::thread::hardware_concurrency() >= 2;
    if (wants("floor") && wants_metric("floor")) {
      std::size_t n = o_.samples;
      add_latency("floor", "cacheline_rtt", 8, [n, pin] { return cacheline_once(n, pin); });
      add_latency("floor", "futex_rtt", 8, [n, pin] { return futex_once(n / 4, pin); });
    }
    for (unsigned payload : o_.payloads) {
      switch (payload) {
        case 8:
          plan_payload<8>(pin);
          break;
        case 64:
          plan_payload<64>(pin);
          break;
        case 256:
          plan_payload<256>(pin);
          break;
        default:
          break;
      }
    }
    const int total = static_cast<int>(jobs_.size()) * (o_.warmup + o_.reps);
    int done = 0;
    for (int round = 0; round < o_.warmup + o_.reps && !cli::interrupted(); ++round) {
      const bool record = round >= o_.warmup;
      for (Job& j : jobs_) {
        if (cli::interrupted()) break;
        progress(fmt::format("[{}/{}] {} {} P={} {}B{}", ++done, total, j.impl, j.metric,
                             j.producers, j.bytes, record ? "" : " (warm-up)"));
        if (j.throughput) {
          ThroughputRun r = j.throughput();
          if (record) j.t_runs.push_back(r);
        } else {
          LatencyRun r = j.latency();
          if (record) j.l_runs.push_back(r);
        }
      }
    }
    for (Job& j : jobs_) summarize_job(j);
  }

  std::vector<Figure>& results() { return results_; }

 private:
  template <std::size_t Bytes>
  void plan_payload(bool pin) {
    using T = Payload<Bytes>;
    if (wants_metric("throughput")) {
      for (unsigned p : o_.producers) {
        plan_throughput<AftkPeer<T>>("aftk", p, pin);
        if (wants("aftk-channel")) {
          std::uint64_t items = o_.items;
          add_throughput("aftk-channel", p, Bytes,
                         [p, items] { return channel_throughput_once<T>(p, items); });
        }
        plan_throughput<TwoDequeSpinPeer<T>>("two-deque-spin", p, pin);
        plan_throughput<MutexDequePeer<T>>("mutex-deque", p, pin);
#ifdef AFTK_BENCH_HAVE_MOODYCAMEL
        plan_throughput<MoodycamelPeer<T>>("moodycamel", p, pin);
#endif
#ifdef AFTK_BENCH_HAVE_BOOST
        plan_throughput<BoostQueuePeer<T>>("boost-queue", p, pin);
        plan_throughput<BoostSpscPeer<T>>("boost-spsc", p, pin);
#endif
      }
    }
    // Round trips carry one item; the smallest payload stands for all.
    if (Bytes != o_.payloads.front()) return;
    for (bool park : {false, true}) {
      if (!wants_metric(park ? "rtt_park" : "rtt_spin")) continue;
      plan_rtt<AftkPeer<T>>("aftk", pin, park);
      if (park && wants("aftk-channel")) {
        std::size_t n = o_.samples / 4;
        add_latency("aftk-channel", "rtt_park", Bytes,
                    [n, pin] { return channel_park_once<T>(n, pin); });
      }
      plan_rtt<TwoDequeSpinPeer<T>>("two-deque-spin", pin, park);
      plan_rtt<MutexDequePeer<T>>("mutex-deque", pin, park);
#ifdef AFTK_BENCH_HAVE_MOODYCAMEL
      plan_rtt<MoodycamelPeer<T>>("moodycamel", pin, park);
#endif
#ifdef AFTK_BENCH_HAVE_BOOST
      plan_rtt<BoostQueuePeer<T>>("boost-queue", pin, park);
      plan_rtt<BoostSpscPeer<T>>("boost-spsc", pin, park);
#endif
    }
  }

  // Which item type a peer carries.
  template <class Peer>
  struct PeerItem;
  template <template <class> class P, class T>
  struct PeerItem<P<T>> {
    using type = T;
  };

  template <class Peer>
  void plan_throughput(const std::string& name, unsigned p, bool pin) {
    if (!wants(name)) return;
    if (!Peer::kMultiProducer && p != 1) return;
    using T = typename PeerItem<Peer>::type;
    std::uint64_t items = o_.items;
    bool spin = o_.spin_consumer;
    add_throughput(name, p, sizeof(T), [p, items, pin, spin] {
      return spin ? throughput_once<Peer, T, false>(p, items, pin)
                  : throughput_once<Peer, T, true>(p, items, pin);
    });
  }

  template <class Peer>
  void plan_rtt(const std::string& name, bool pin, bool park) {
    if (!wants(name)) return;
    using T = typename PeerItem<Peer>::type;
    std::size_t n = o_.samples;
    if (park) {
      add_latency(name, "rtt_park", sizeof(T),
                  [n, pin] { return rtt_park_once<Peer, T>(n / 4, pin); });
    } else {
      add_latency(name, "rtt_spin", sizeof(T), [n, pin] { return rtt_spin_once<Peer, T>(n, pin); });
    }
  }

  void add_throughput(const std::string& impl, unsigned p, unsigned bytes,
                      std::function<ThroughputRun()> f) {
    Job j;
    j.impl = impl;
    j.metric = "throughput";
    j.producers = p;
    j.bytes = bytes;
    j.throughput = std::move(f);
    jobs_.push_back(std::move(j));
  }

  void add_latency(const std::string& impl, const std::string& metric, unsigned bytes,
                   std::function<LatencyRun()> f) {
    Job j;
    j.impl = impl;
    j.metric = metric;
    j.bytes = bytes;
    j.latency = std::move(f);
    jobs_.push_back(std::move(j));
  }

  void summarize_job(const Job& j) {
    if (j.throughput) {
      if (j.t_runs.empty()) return;
      std::vector<double> rate, allocs, wakes;
      for (auto& r : j.t_runs) {
        rate.push_back(r.items_per_s);
        allocs.push_back(r.allocs_per_item);
        wakes.push_back(r.wakes_per_batch);
      }
      Figure m = summarize(j, "throughput", rate, "items/s");
      m.extra["mb_per_s"] = m.median * j.bytes / 1e6;
      m.extra["allocs_per_item"] = *std::max_element(allocs.begin(), allocs.end());
      if (!o_.spin_consumer)
        m.extra["wakes_per_batch"] = *std::max_element(wakes.begin(), wakes.end());
      results_.push_back(std::move(m));
      return;
    }
    if (j.l_runs.empty()) return;
    std::vector<double> p50, p99, p999, mx, wakes;
    std::uint64_t timeouts = 0;
    for (auto& r : j.l_runs) {
      p50.push_back(r.p50);
      p99.push_back(r.p99);
      p999.push_back(r.p999);
      mx.push_back(r.max);
      wakes.push_back(r.wakes_per_batch);
      timeouts += r.timeouts;
    }
    if (j.metric == "cacheline_rtt" || j.metric == "futex_rtt") {
      Figure m = summarize(j, j.metric, p50, "ns");
      m.extra["p99"] = median_of(p99);
      results_.push_back(std::move(m));
      return;
    }
    Figure a = summarize(j, j.metric + "_p50", p50, "ns");
    Figure b = summarize(j, j.metric + "_p99", p99, "ns");
    b.extra["max"] = median_of(mx);
    if (j.metric == "rtt_park") {
      a.extra["wakes_per_batch"] = *std::max_element(wakes.begin(), wakes.end());
      a.extra["timeouts"] = static_cast<double>(timeouts);
      if (timeouts != 0) {
        cli::warning(io_, fmt::format("{} {}: {} park(s) timed out: a wake-up went missing", j.impl,
                                      j.metric, timeouts));
      }
    }
    results_.push_back(std::move(a));
    results_.push_back(std::move(b));
    if (j.metric == "rtt_park") results_.push_back(summarize(j, "rtt_park_p999", p999, "ns"));
  }

  Figure summarize(const Job& j, const std::string& metric, const std::vector<double>& v,
                   const std::string& unit) {
    Figure r;
    r.impl = j.impl;
    r.metric = metric;
    r.producers = j.producers;
    r.payload_bytes = j.bytes;
    r.median = median_of(v);
    r.min = *std::min_element(v.begin(), v.end());
    r.max = *std::max_element(v.begin(), v.end());
    r.unit = unit;
    r.reps = static_cast<int>(v.size());
    return r;
  }

  void progress(const std::string& what) {
    if (io_.quiet || !io_.err_tty) return;
    fmt::print(io_.err, "\r\033[K{}: {}", io_.tool, what);
    std::fflush(io_.err);
  }

  const Config& o_;
  cli::Io& io_;
  std::vector<Job> jobs_;
  std::vector<Figure> results_;
};

const Figure* find(const std::vector<Figure>& rs, const std::string& impl,
                   const std::string& metric, unsigned p = 0, unsigned bytes = 0) {
  for (auto& r : rs) {
    if (r.impl == impl && r.metric == metric && (p == 0 || r.producers == p) &&
        (bytes == 0 || r.payload_bytes == bytes)) {
      return &r;
    }
  }
  return nullptr;
}

// Ratio of each figure to what it should be read against.
void add_ratios(std::vector<Figure>& rs) {
  for (auto& r : rs) {
    const Figure* ref = nullptr;
    if (r.metric == "throughput") {
      ref = find(rs, "two-deque-spin", "throughput", r.producers, r.payload_bytes);
    } else if (r.metric.rfind("rtt_spin", 0) == 0) {
      ref = find(rs, "floor", "cacheline_rtt");
    } else if (r.metric.rfind("rtt_park", 0) == 0) {
      ref = find(rs, "floor", "futex_rtt");
    }
    if (ref != nullptr && ref->median > 0) {
      r.ratio = r.median / ref->median;
      r.ratio_to = ref->impl == "floor" ? ref->metric : ref->impl;
    }
  }
}

std::vector<Target> evaluate_targets(const std::vector<Figure>& rs, unsigned bytes) {
  std::vector<Target> ts;
  for (unsigned p : {1u, 2u}) {
    const Figure* ours = find(rs, "aftk", "throughput", p, bytes);
    const Figure* up = find(rs, "two-deque-spin", "throughput", p, bytes);
    if (ours && up) {
      ts.push_back({fmt::format("throughput {}P vs two-deque-spin", p), ours->median / up->median,
                    1.3, true, "x", ""});
    }
  }
  const Figure* spin = find(rs, "aftk", "rtt_spin_p50");
  const Figure* line = find(rs, "floor", "cacheline_rtt");
  if (spin && line) {
    ts.push_back(
        {"rtt_spin_p50 vs cache-line floor", spin->median / line->median, 2.5, false, "x", ""});
  }
  const Figure* p50 = find(rs, "aftk", "rtt_park_p50");
  const Figure* p99 = find(rs, "aftk", "rtt_park_p99");
  const Figure* futex = find(rs, "floor", "futex_rtt");
  if (p50 && futex) {
    ts.push_back({"rtt_park_p50 vs futex floor", p50->median / futex->median, 1.1, false, "x", ""});
  }
  if (p50 && p99) {
    Target t{"rtt_park_p99 vs its p50", p99->median / p50->median, 2.0, false, "x", ""};
    // The spread of a sleeping round trip is mostly the kernel's (and a hypervisor's): show the
    // futex floor's own p99 against its p50 next to ours.
    if (futex != nullptr && futex->median > 0) {
      auto it = futex->extra.find("p99");
      if (it != futex->extra.end())
        t.note = fmt::format("futex floor's own: {:.2f}x", it->second / futex->median);
    }
    ts.push_back(std::move(t));
  }
  if (p50) {
    auto it = p50->extra.find("wakes_per_batch");
    if (it != p50->extra.end())
      ts.push_back({"wakes per drained batch", it->second, 1.0, false, "", ""});
  }
  double worst = -1;
  for (auto& r : rs) {
    if (r.impl == "aftk" && r.metric == "throughput") {
      auto it = r.extra.find("allocs_per_item");
      if (it != r.extra.end()) worst = std::max(worst, it->second);
    }
  }
  if (worst >= 0) ts.push_back({"heap allocations per item (aftk)", worst, 0.01, false, "", ""});
  return ts;
}

std::string human(double v, const std::string& unit) {
  if (unit == "items/s") return fmt::format("{:.1f}M/s", v / 1e6);
  if (unit == "ns") {
    if (v >= 10'000) return fmt::format("{:.1f}us", v / 1000);
    return fmt::format("{:.0f}ns", v);
  }
  return fmt::format("{:.3g}", v);
}

// Numbers as the JSON Lines have always shown them: integers without a fraction, others with
// six significant digits, non-finite values as null.
std::string number_json(double v) {
  if (!std::isfinite(v)) return "null";
  if (std::fabs(v) >= 1e15 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.6g}", v);
}

void print_jsonl(const cli::Io& io, cli::Format format, const Machine& m, const Config& o,
                 const std::vector<Figure>& rs, const std::vector<Target>& ts) {
  std::string line;
  const auto emit = [&] {
    cli::write_json(io, format, line);
    line.clear();
  };
  const auto writer = [&] { return json::Writer(line); };
  writer()
      .begin_object()
      .field("kind", "machine")
      .field("cpu", m.cpu)
      .field("cores", m.cores)
      .field("kernel", m.kernel)
      .field("compiler", m.compiler)
      .field("membarrier", m.membarrier)
      .field("reps", o.reps)
      .field("warmup", o.warmup)
      .field("items", o.items)
      .field("samples", o.samples)
      .end_object();
  emit();
  for (auto& r : rs) {
    auto w = writer();
    w.begin_object()
        .field("kind", "measurement")
        .field("impl", r.impl)
        .field("metric", r.metric)
        .field("producers", r.producers)
        .field("payload_bytes", r.payload_bytes)
        .raw_field("median", number_json(r.median))
        .raw_field("min", number_json(r.min))
        .raw_field("max", number_json(r.max))
        .field("unit", r.unit)
        .field("reps", r.reps);
    if (!r.ratio_to.empty())
      w.raw_field("ratio", number_json(r.ratio)).field("ratio_to", r.ratio_to);
    for (auto& [k, v] : r.extra) w.raw_field(k, number_json(v));
    w.end_object();
    emit();
  }
  for (auto& t : ts) {
    auto w = writer();
    w.begin_object()
        .field("kind", "target")
        .field("name", t.name)
        .raw_field("value", number_json(t.value))
        .raw_field("limit", number_json(t.limit))
        .field("at_least", t.at_least)
        .field("met", t.met());
    if (!t.note.empty()) w.field("note", t.note);
    w.end_object();
    emit();
  }
}

void print_table(std::FILE* out, bool color, const Machine& m, const Config& o,
                 const std::vector<Figure>& rs, const std::vector<Target>& ts) {
  fmt::print(out, "machine: {}, {} cores, {}, {}, membarrier {}\n", m.cpu, m.cores, m.kernel,
             m.compiler, m.membarrier ? "yes" : "no");
  fmt::print(out,
             "method: {} repetitions after {} warm-up; median [min .. max] over repetitions\n\n",
             o.reps, o.warmup);
  cli::Table t;
  t.add_column("impl");
  t.add_column("metric");
  t.add_column("P", cli::Table::Align::kRight);
  t.add_column("bytes", cli::Table::Align::kRight);
  t.add_column("median", cli::Table::Align::kRight);
  t.add_column("min", cli::Table::Align::kRight);
  t.add_column("max", cli::Table::Align::kRight);
  t.add_column("ratio", cli::Table::Align::kRight);
  t.add_column("notes");
  for (auto& r : rs) {
    std::string ratio = r.ratio_to.empty() ? "" : fmt::format("{:.2f}x {}", r.ratio, r.ratio_to);
    std::string notes;
    for (auto& [k, v] : r.extra) {
      if (k == "mb_per_s")
        notes += fmt::format("{:.0f} MB/s ", v);
      else if (k == "allocs_per_item")
        notes += fmt::format("allocs/item {:.3g} ", v);
      else if (k == "wakes_per_batch")
        notes += fmt::format("wakes/batch {:.2f} ", v);
      else if (k == "timeouts" && v > 0)
        notes += fmt::format("LOST WAKES {:.0f} ", v);
      else if (k == "max")
        notes += fmt::format("max {} ", human(v, r.unit));
      else if (k == "p99")
        notes += fmt::format("p99 {} ", human(v, r.unit));
    }
    t.add_row({r.impl, r.metric, std::to_string(r.producers), std::to_string(r.payload_bytes),
               human(r.median, r.unit), human(r.min, r.unit), human(r.max, r.unit), ratio, notes});
  }
  t.print(out, color);
  if (ts.empty()) return;
  fmt::print(out, "\n");
  cli::Table tt;
  tt.add_column("target");
  tt.add_column("value", cli::Table::Align::kRight);
  tt.add_column("limit", cli::Table::Align::kRight);
  tt.add_column("result");
  tt.add_column("note");
  for (auto& x : ts) {
    tt.add_row({x.name, fmt::format("{:.3g}{}", x.value, x.unit),
                fmt::format("{} {:.3g}{}", x.at_least ? ">=" : "<=", x.limit, x.unit),
                x.met() ? "met" : "MISSED", x.note});
  }
  tt.print(out, color);
}

template <class N>
bool parse_list(const std::vector<std::string>& in, std::vector<N>& out, const std::set<N>& allowed,
                std::string& bad) {
  out.clear();
  for (auto& item : in) {
    std::stringstream ss(item);
    for (std::string part; std::getline(ss, part, ',');) {
      if (part.empty()) continue;
      N v{};
      if constexpr (std::is_same_v<N, std::string>) {
        v = part;
      } else {
        char* end = nullptr;
        unsigned long x = std::strtoul(part.c_str(), &end, 10);
        if (end == part.c_str() || *end != '\0' || x == 0 || x > 64) {
          bad = part;
          return false;
        }
        v = static_cast<N>(x);
      }
      if (!allowed.empty() && !allowed.count(v)) {
        bad = part;
        return false;
      }
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
  }
  return true;
}

constexpr const char* kFooter = R"(Examples:
  feedback-bench --quick                      everything, small counts (< 60 s on 2 cores)
  feedback-bench --impl aftk,two-deque-spin --metric throughput -p 1,2
  feedback-bench --json > run.jsonl           one JSON object per line and measurement
  feedback-bench --quick --plot run.svg       also draw throughput and latency bars

Reading the results:
  throughput   items/s from start until the consumer holds every item, P producers and one
               consumer that sleeps when idle and is woken by the add that reported was-empty
               (the feedback loop; --spin-consumer for one that never sleeps). "ratio" is against
               two-deque-spin (the upstream design) at the same P and payload.
  rtt_spin_*   one item A -> B -> A, both sides spinning; ratio to floor cacheline_rtt.
  rtt_park_*   the same, but a side with nothing to do sleeps on a futex and is woken only by the
               add that reported was-empty; ratio to floor futex_rtt. wakes/batch above 1 means
               wasted wake-ups; LOST WAKES means a sleeper had to time out (a bug).
  floor        cacheline_rtt: two cores bounce one cache line; futex_rtt: two threads wake each
               other with futexes. No queue can beat these.
  Medians over --reps repetitions, after --warmup unrecorded ones; min and max show the spread.
  On a machine with fewer cores than threads, figures for P >= 2 measure the scheduler as much as
  the queue. See feedback-bench(1).
)";

// The command line as given: the numbers land in `config` directly, the lists are checked by
// build_config.
struct Options {
  Config config;
  std::vector<std::string> impls, metrics, producers, payloads;
  CLI::Option* reps = nullptr;  // count() says whether --quick may change it
  CLI::Option* items = nullptr;
  CLI::Option* samples = nullptr;
};

void configure(CLI::App& app, Options& opts, const cli::Io& io) {
  Config& o = opts.config;
  app.description(
      "Benchmark the feedback queue and channel against the upstream design, common "
      "lock-free queues and the machine's floors.");
  app.footer(kFooter);
  app.set_version_flag("--version", cli::version_text(io.tool));
  app.add_option("--impl", opts.impls,
                 "Implementations, comma-separated: aftk, aftk-channel, two-deque-spin, "
                 "mutex-deque, moodycamel, boost-queue, boost-spsc, floor (default: all)");
  app.add_option("--metric", opts.metrics,
                 "Measurements: throughput, rtt_spin, rtt_park, floor (default: all)");
  app.add_option("-p,--producers", opts.producers, "Producer counts for throughput (default 1,2,4)");
  app.add_option("--payload", opts.payloads, "Item sizes in bytes: 8, 64, 256 (default 8,64)");
  opts.reps = app.add_option("-r,--reps", o.reps, "Recorded repetitions per measurement (default 5)")
                  ->check(CLI::Range(1, 1000));
  app.add_option("--warmup", o.warmup, "Unrecorded repetitions first (default 1)")
      ->check(CLI::Range(0, 100));
  opts.items = app.add_option("--items", o.items, "Items per throughput repetition (default 2000000)")
                   ->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{1} << 34));
  opts.samples =
      app.add_option(
             "--samples", o.samples,
             "Round trips per latency repetition; parking loops use a quarter (default 20000)")
          ->check(CLI::Range(std::size_t{100}, std::size_t{100'000'000}));
  app.add_flag("--quick", o.quick,
               "Small run: 3 reps, 500000 items, 4000 samples, 8-byte items, P = 1,2");
  app.add_flag("--no-pin", o.no_pin, "Do not pin the two threads of 1:1 tests to CPUs 0 and 1");
  app.add_option("--plot", o.plot, "Also write an SVG chart of throughput and latency to FILE");
  app.add_flag("--spin-consumer", o.spin_consumer,
               "Throughput with a consumer that never sleeps (default: it parks when idle and "
               "is woken by the add that reports was-empty, as in the feedback loop)");
  app.add_flag("--check", o.check, "Exit with 3 when a target from the issue is missed");
  cli::add_output_options(app, o.output);
}

// Returns the exit code of a usage error, or nullopt with `config` filled.
std::optional<int> build_config(Options& opts, const cli::Io& io, Config& config) {
  Config& o = opts.config;
  auto& impls = opts.impls;
  auto& metrics = opts.metrics;
  auto& producers = opts.producers;
  auto& payloads = opts.payloads;
  if (o.quick) {
    if (opts.reps->count() == 0) o.reps = 3;
    if (opts.items->count() == 0) o.items = 500'000;
    if (opts.samples->count() == 0) o.samples = 4'000;
    if (payloads.empty()) payloads = {"8"};
    if (producers.empty()) producers = {"1,2"};
  }
  std::string bad;
  if (impls.empty())
    impls = {
        "aftk,aftk-channel,two-deque-spin,mutex-deque,moodycamel,boost-queue,boost-spsc,floor"};
  if (metrics.empty()) metrics = {"throughput,rtt_spin,rtt_park,floor"};
  std::set<std::string> impl_set(kImpls.begin(), kImpls.end());
  std::set<std::string> group_set(kGroups.begin(), kGroups.end());
  if (!parse_list(impls, o.impls, impl_set, bad)) {
    cli::error(io, fmt::format("unknown implementation '{}' (one of: aftk, aftk-channel, "
                               "two-deque-spin, mutex-deque, moodycamel, boost-queue, "
                               "boost-spsc, floor)",
                               bad));
    return cli::kExitUsage;
  }
  if (!parse_list(metrics, o.metrics, group_set, bad)) {
    cli::error(
        io,
        fmt::format("unknown metric '{}' (one of: throughput, rtt_spin, rtt_park, floor)", bad));
    return cli::kExitUsage;
  }
  if (!producers.empty() && !parse_list(producers, o.producers, {}, bad)) {
    cli::error(io, fmt::format("bad producer count '{}' (1..64)", bad));
    return cli::kExitUsage;
  }
  if (!payloads.empty() && !parse_list(payloads, o.payloads, {8u, 64u, 256u}, bad)) {
    cli::error(io, fmt::format("unsupported payload '{}' (8, 64 or 256 bytes)", bad));
    return cli::kExitUsage;
  }
  std::sort(o.payloads.begin(), o.payloads.end());
#ifndef AFTK_BENCH_HAVE_MOODYCAMEL
  if (std::erase(o.impls, std::string("moodycamel")) && impls.size() == 1)
    cli::note(io, "moodycamel left out: built without libconcurrentqueue-dev");
#endif
#ifndef AFTK_BENCH_HAVE_BOOST
  std::erase(o.impls, std::string("boost-queue"));
  std::erase(o.impls, std::string("boost-spsc"));
#endif
  config = o;
  return std::nullopt;
}

struct Measured {
  Machine machine;
  std::vector<Figure> figures;
  std::vector<Target> targets;
  bool interrupted = false;
};

Measured run(const Config& config, cli::Io& io) {
  Measured m;
  m.machine = describe_machine();
  (void)ns_per_tick();
  Bench bench(config, io);
  bench.run();
  if (!io.quiet && io.err_tty) fmt::print(io.err, "\r\033[K");
  if (cli::interrupted()) {
    m.interrupted = true;
    return m;
  }
  m.figures = std::move(bench.results());
  add_ratios(m.figures);
  m.targets = evaluate_targets(m.figures, config.payloads.front());
  return m;
}

int report(const Config& o, const Measured& m, const cli::Io& io) {
  if (m.interrupted) return cli::kExitInterrupted;
  const auto& rs = m.figures;
  const auto& ts = m.targets;
  cli::Format format = cli::resolve_format(o.output, io);
  if (format == cli::Format::kTable) {
    print_table(io.out, cli::resolve_color(o.output, io), m.machine, o, rs, ts);
  } else {
    print_jsonl(io, format, m.machine, o, rs, ts);
  }
  if (!o.plot.empty()) {
    std::string title = fmt::format("feedback-bench on {} ({} cores, {})", m.machine.cpu,
                                    m.machine.cores, m.machine.kernel);
    std::string svg = render_svg(rs, title, o.payloads.front());
    std::ofstream f(o.plot, std::ios::binary | std::ios::trunc);
    f << svg;
    f.close();
    if (!f) {
      cli::error(io, fmt::format("cannot write plot '{}'", o.plot));
      return cli::kExitFailure;
    }
    cli::note(io, fmt::format("wrote {}", o.plot));
  }
  if (o.check) {
    for (auto& t : ts) {
      if (!t.met()) return cli::kExitProblems;
    }
  }
  return cli::kExitOk;
}

}  // namespace

bool Target::met() const { return at_least ? value >= limit : value <= limit; }

int main(int argc, const char* const* argv, cli::Io& io) {
  return cli::guarded(io, [&]() -> int {
    Options opts;
    CLI::App app{"", "feedback-bench"};
    configure(app, opts, io);
    if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
    io.quiet = io.quiet || opts.config.output.quiet;
    Config config;
    if (auto rc = build_config(opts, io, config)) return *rc;
    return report(config, run(config, io), io);
  });
}

}  // namespace aftk::tools::feedback_bench
