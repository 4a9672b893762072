// SPDX-License-Identifier: Apache-2.0
// Rebuild throughput of KafkaActionStateStore against kcat reading the same topic, with the peak
// RSS of both. Not a test: it prints figures and ratios.
//
//   kafka_rebuild_bench -b HOST:PORT [--records 1000000] [--value-bytes 1024] [--partitions 64]
//                       [--live-keys 50000] [--topic NAME] [--rounds 2] [-X key=value...]
//
// Fills a topic (unless --topic names one that already holds the records), then runs, in child
// processes so that each peak RSS is its own: `kcat -C -e -o beginning -f '%k %s\n'` to
// /dev/null, and aftk's rebuild from offset 0 on every partition, decoding every value strictly.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/key.h"
#include "aftk/actionstate/serde.h"
#include "aftk/cli/tool.h"
#include "aftk/kafka/client.h"
#include "aftk/kafka/store.h"

using namespace aftk;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string brokers;
  std::string topic;
  long records = 1000000;
  int value_bytes = 1024;
  int partitions = 64;
  long live_keys = 50000;
  int rounds = 2;
  bool child = false;
  bool decode_loop = false;
  bool validate = true;
  std::vector<std::string> props;  // -X key=value for aftk's reader
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

kafka::ClientConfig config_for(const Args& a) {
  kafka::ClientConfig c;
  c.set("bootstrap.servers", a.brokers);
  for (const auto& kv : a.props) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) c.set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return c;
}

// Record i of the bench topic: key i % live_keys in its (i / live_keys)-th version.
void make_record(const Args& a, long i, std::mt19937_64& rng, std::string& key, std::string& value) {
  static const std::string action = actionstate::name_uuid_from_bytes("process");
  const long k = i % a.live_keys;
  const long version = i / a.live_keys;
  actionstate::Event e;
  e.class_name = std::string(actionstate::kInputEventClass);
  e.id = actionstate::name_uuid_from_bytes(fmt::format("ev-{}", k));
  e.type = "_input_event";
  // Pad the attributes so the whole value is about value_bytes long.
  std::string pad(static_cast<size_t>(std::max(0, a.value_bytes - 420)), 'x');
  for (size_t j = 0; j < pad.size(); j += 7) pad[j] = static_cast<char>('a' + rng() % 26);
  e.attributes = fmt::format(R"({{"input":"user-{}","version":{},"text":"{}"}})", k, version, pad);
  actionstate::ActionState s(e);
  s.call_results.push_back(actionstate::CallResult::success("mod.summarize", "0123456789abcdef",
                                                            std::string(48, 'r')));
  s.short_term_memory_updates.push_back({"stm.k", actionstate::MemoryValue::kryo("S1JZTzp2")});
  value.clear();
  actionstate::encode(s, value);
  // Only the text before the first '_' picks the partition, so the business key has none.
  key = actionstate::StateKey::v03(fmt::format("user-{}", k % 9973), k,
                                   actionstate::name_uuid_from_bytes(fmt::format("{}", k)), action)
            .to_string();
}

// Decoding alone, in this process and on one thread: CPU time per value of the topic's shape.
int decode_loop(const Args& a) {
  std::mt19937_64 rng(42);
  std::vector<std::string> values(1000);
  std::string key;
  size_t bytes = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    make_record(a, static_cast<long>(i), rng, key, values[i]);
    bytes += values[i].size();
  }
  const long rounds = std::max(1L, a.records / static_cast<long>(values.size()));
  const double n = static_cast<double>(rounds) * static_cast<double>(values.size());
  // Both readers: the canonical one the tools use, and the general simdjson reader as its peer.
  double ns[2] = {};
  for (bool fast : {true, false}) {
    actionstate::DecodeOptions o;
    o.canonical_fast_path = fast;
    actionstate::Decoder decoder(o);
    actionstate::ActionState scratch;
    const auto t0 = Clock::now();
    for (long r = 0; r < rounds; ++r) {
      for (const auto& v : values) {
        if (!decoder.decode(v, scratch)) return fmt::print(stderr, "decode failed\n"), 1;
      }
    }
    const double secs = seconds_since(t0);
    ns[fast ? 0 : 1] = secs / n * 1e9;
    fmt::print("decode ({} reader): {:.0f} ns/value, {:.0f} MB/s ({} values of ~{} B; {} read the canonical way)\n",
               fast ? "canonical" : "general", secs / n * 1e9,
               static_cast<double>(bytes) * static_cast<double>(rounds) / secs / 1e6, n, bytes / values.size(),
               decoder.stats().canonical);
  }
  fmt::print("canonical reader: {:.2f}x the general reader's speed\n", ns[1] / ns[0]);
  return 0;
}

int fill(const Args& a) {
  kafka::ClientConfig c = config_for(a);
  auto admin = kafka::make_reader(c);
  if (!admin) return fmt::print(stderr, "{}\n", admin.error().to_string()), 1;
  // Compacted as upstream creates it, but with a week's compaction lag so that the cleaner does
  // not shrink the topic between runs (an hour proved too short for a working session).
  auto st = kafka::create_topic(admin->get(), a.topic, a.partitions, 1,
                                {{"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "604800000"}},
                                std::chrono::seconds(30));
  if (!st) return fmt::print(stderr, "{}\n", st.error().to_string()), 1;
  auto rk = kafka::make_producer(c, {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "20"},
                                     {"batch.size", "1000000"}, {"queue.buffering.max.kbytes", "262144"}});
  if (!rk) return fmt::print(stderr, "{}\n", rk.error().to_string()), 1;
  const auto t0 = Clock::now();
  std::mt19937_64 rng(42);
  std::string value, key;
  for (long i = 0; i < a.records; ++i) {
    make_record(a, i, rng, key, value);
    const auto p = *actionstate::partition_for_key(key, a.partitions);
    for (;;) {
      auto err = rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(a.topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                   RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return fmt::print(stderr, "produce: {}\n", rd_kafka_err2str(err)), 1;
      rd_kafka_poll(rk->get(), 10);
    }
    rd_kafka_poll(rk->get(), 0);
    if ((i + 1) % 200000 == 0) fmt::print(stderr, "bench: produced {} records\n", i + 1);
  }
  if (rd_kafka_flush(rk->get(), 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) return fmt::print(stderr, "flush failed\n"), 1;
  fmt::print(stderr, "bench: produced {} records of ~{} bytes in {:.1f} s\n", a.records, value.size(), seconds_since(t0));
  return 0;
}

// Child: one rebuild, figures on stdout as "records bytes seconds live problems".
int child_rebuild(const Args& a) {
  cli::tune_allocator();  // as every aftk tool does at start-up
  kafka::StoreOptions o;
  o.topic = a.topic;
  o.create_topic = false;
  o.num_partitions = a.partitions;
  auto store = kafka::KafkaActionStateStore::open(config_for(a), o);
  if (!store) return fmt::print(stderr, "{}\n", store.error().to_string()), 1;
  actionstate::RecoveryMarker m;
  for (int p = 0; p < (*store)->num_partitions(); ++p) m.offsets[p] = 0;
  std::vector<actionstate::RecoveryMarker> markers{m};
  const auto t0 = Clock::now();
  actionstate::RebuildOptions ro;
  ro.validate = a.validate;
  auto r = (*store)->rebuild(markers, ro);
  const double secs = seconds_since(t0);
  if (!r) return fmt::print(stderr, "{}\n", r.error().to_string()), 1;
  fmt::print("{} {} {:.6f} {} {}\n", r->records, r->bytes, secs, r->live, r->problems.size());
  (*store)->abandon_cache();  // as the tools do when they exit (cli::CacheLeftAtExit)
  return 0;
}

struct Run {
  double seconds = 0;
  long max_rss_kb = 0;
  double cpu_seconds = 0;  // user + system
  std::string out;
  int status = 0;
};

// Runs argv in a child with stdout to a pipe (or /dev/null) and measures wall time and peak RSS.
Run run_child(const std::vector<std::string>& argv, bool capture, const char* env = nullptr) {
  int pipefd[2] = {-1, -1};
  if (capture && pipe(pipefd) != 0) std::abort();
  const auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int out = capture ? pipefd[1] : open("/dev/null", O_WRONLY);
    dup2(out, 1);
    if (capture) close(pipefd[0]);
    if (env != nullptr) putenv(const_cast<char*>(env));
    std::vector<char*> cargv;
    for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  Run run;
  if (capture) {
    close(pipefd[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) run.out.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
  }
  struct rusage ru {};
  wait4(pid, &run.status, 0, &ru);
  run.seconds = seconds_since(t0);
  run.max_rss_kb = ru.ru_maxrss;
  run.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (const char* b = std::getenv("AFTK_BROKERS")) a.brokers = b;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (s == "-b" || s == "--brokers") a.brokers = next();
    else if (s == "--topic") a.topic = next();
    else if (s == "--records") a.records = std::stol(next());
    else if (s == "--value-bytes") a.value_bytes = std::stoi(next());
    else if (s == "--partitions") a.partitions = std::stoi(next());
    else if (s == "--live-keys") a.live_keys = std::stol(next());
    else if (s == "--rounds") a.rounds = std::stoi(next());
    else if (s == "--child-rebuild") a.child = true;
    else if (s == "--decode-loop") a.decode_loop = true;
    else if (s == "--no-validate") a.validate = false;
    else if (s == "-X") a.props.push_back(next());
    else return fmt::print(stderr, "kafka_rebuild_bench: unknown argument '{}'\n", s), 2;
  }
  if (a.decode_loop) return decode_loop(a);
  if (a.brokers.empty()) return fmt::print(stderr, "kafka_rebuild_bench: give -b or set AFTK_BROKERS\n"), 2;
  if (a.child) return child_rebuild(a);

  bool filled = false;
  if (a.topic.empty()) a.topic = fmt::format("aftk-bench-{}-{}-{}", a.records, a.value_bytes, a.live_keys);
  {
    auto admin = kafka::make_reader(config_for(a));
    if (!admin) return 1;
    auto info = kafka::describe_topic(admin->get(), a.topic, std::chrono::seconds(10));
    if (info) {
      auto w = kafka::watermarks(admin->get(), a.topic, info->partitions, std::chrono::seconds(10));
      long have = 0;
      if (w) for (auto h : w->high) have += h;
      filled = have >= a.records;
      a.partitions = info->partitions;
    }
  }
  if (!filled && fill(a) != 0) return 1;

  std::string self = "/proc/self/exe";
  char path[4096];
  ssize_t n = readlink(self.c_str(), path, sizeof path - 1);
  if (n > 0) self.assign(path, static_cast<size_t>(n));

  fmt::print("topic {} ({} partitions, {} records, ~{} B values, {} live keys) on {}\n", a.topic, a.partitions,
             a.records, a.value_bytes, a.live_keys, a.brokers);
  fmt::print("{:<7} {:>5} {:>8} {:>8} {:>10} {:>7} {:>11}\n", "reader", "round", "seconds", "cpu s",
             "records/s", "MB/s", "peak RSS MB");
  // kcat as users run it, and kcat with glibc's allocator set as aftk's tools set it at start-up
  // (cli::tune_allocator), so that the part of the difference that tuning makes can be seen.
  static std::string tuned = fmt::format("GLIBC_TUNABLES=glibc.malloc.mmap_threshold={}:glibc.malloc.trim_threshold={}",
                                         cli::kMmapThreshold, cli::kTrimThreshold);
  std::vector<double> ratio, ratio_tuned;
  double live_mb = 0;
  long last_records = 0;
  long rss_kcat = 0, rss_aftk = 0;
  auto row = [](std::string_view name, int round, const Run& r, long records, double mb) {
    fmt::print("{:<7} {:>5} {:>8.2f} {:>8.2f} {:>10.0f} {:>7.1f} {:>11.1f}", name, round, r.seconds, r.cpu_seconds,
               static_cast<double>(records) / r.seconds, mb / r.seconds, static_cast<double>(r.max_rss_kb) / 1024);
  };
  for (int round = 1; round <= a.rounds; ++round) {
    const std::vector<std::string> kcat_argv = {"kcat", "-C", "-q", "-b", a.brokers, "-t", a.topic, "-e",
                                                "-o", "beginning", "-f", "%k %s\n"};
    Run k = run_child(kcat_argv, false);
    Run kt = run_child(kcat_argv, false, tuned.c_str());
    for (const Run* r : {&k, &kt}) {
      if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0) return fmt::print(stderr, "kcat failed\n"), 1;
    }
    long records = 0;
    double mb = 0;
    Run decoded;
    for (bool validate : {true, false}) {
      std::vector<std::string> argv = {self, "--child-rebuild", "-b", a.brokers, "--topic", a.topic,
                                       "--partitions", std::to_string(a.partitions)};
      if (!validate) argv.push_back("--no-validate");
      for (const auto& kv : a.props) argv.insert(argv.end(), {"-X", kv});
      Run r = run_child(argv, true);
      if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) return fmt::print(stderr, "rebuild failed\n"), 1;
      long live = 0, problems = 0;
      unsigned long long bytes = 0;
      double secs = 0;
      std::sscanf(r.out.c_str(), "%ld %llu %lf %ld %ld", &records, &bytes, &secs, &live, &problems);
      mb = static_cast<double>(bytes) / 1e6;
      // Whole-process time for every reader, start-up and metadata included, so they compare alike.
      row(validate ? "aftk" : "aftk-nv", round, r, records, mb);
      fmt::print("   ({}; rebuild call {:.2f} s, {} live, {} problems)\n",
                 validate ? "every value decoded strictly" : "values not decoded", secs, live, problems);
      if (validate) {
        decoded = r;
        live_mb = static_cast<double>(live) * static_cast<double>(bytes) / static_cast<double>(std::max(1L, records)) / 1e6;
        rss_aftk = std::max(rss_aftk, r.max_rss_kb);
      }
    }
    row("kcat", round, k, records, mb);
    fmt::print("   (aftk/kcat this round: {:.2f}x)\n", k.seconds / decoded.seconds);
    row("kcat+m", round, kt, records, mb);
    fmt::print("   (malloc tuned as aftk's tools tune it; aftk/kcat+m this round: {:.2f}x)\n", kt.seconds / decoded.seconds);
    ratio.push_back(k.seconds / decoded.seconds);
    last_records = records;
    ratio_tuned.push_back(kt.seconds / decoded.seconds);
    rss_kcat = std::max({rss_kcat, k.max_rss_kb, kt.max_rss_kb});
  }
  if (last_records < a.records) {
    fmt::print("warning: the readers saw {} records, not {}: the topic has been compacted; give a new --topic\n",
               last_records, a.records);
  }
  auto summary = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return fmt::format("median {:.2f}x (min {:.2f}x, max {:.2f}x)", v[v.size() / 2], v.front(), v.back());
  };
  fmt::print("aftk/kcat throughput over {} rounds, each paired in its round: {}\n", a.rounds, summary(ratio));
  fmt::print("aftk/kcat+m throughput: {}\n", summary(ratio_tuned));
  fmt::print("peak RSS: aftk {:.0f} MB (the live keys and values alone: about {:.0f} MB), kcat {:.0f} MB\n",
             static_cast<double>(rss_aftk) / 1024, live_mb, static_cast<double>(rss_kcat) / 1024);
  return 0;
}
