// SPDX-License-Identifier: Apache-2.0
// durable_bench: replay throughput of DurableExecutionContext, simulate throughput on the file
// and memory stores, and memory per live state in a store's cache. Short runs; figures only.
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "aftk/actionstate/file_store.h"
#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/key.h"
#include "aftk/durable/context.h"
#include "aftk/durable/simulate.h"
#include "aftk/kafka/store.h"

using namespace aftk;
using namespace aftk::actionstate;
using namespace aftk::durable;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Python-shaped ids: module.qualname and a 16-hex digest.
std::vector<CallId> call_ids(int n) {
  std::vector<CallId> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(
        {fmt::format("agents.tools.step_{}", i), to_hex(sha256(std::to_string(i))).substr(0, 16)});
  return ids;
}

void bench_replay() {
  constexpr int kCalls = 16;
  const auto ids = call_ids(kCalls);
  ActionState recorded;
  for (const auto& id : ids)
    recorded.call_results.push_back(
        CallResult::success(id.function_id, id.args_digest, std::string("\"a result payload\"")));
  const DurableExecutionContext::Callable never = [] { return Outcome::returned(); };

  // Replay: every call answered from the record (a restarted action re-running its calls).
  std::uint64_t calls = 0, sink = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < 0.5) {
    for (int rep = 0; rep < 1000; ++rep) {
      ActionState state = recorded;  // each action execution loads its own copy
      DurableExecutionContext ctx(state, nullptr);
      for (const auto& id : ids) {
        auto r = ctx.execute(id, never);
        sink += r->result()->size();
      }
      calls += kCalls;
    }
  }
  const double replay_rate = static_cast<double>(calls) / seconds_since(t0);

  // Peer: the same state copies and id comparisons without the context.
  std::uint64_t peer_calls = 0;
  t0 = Clock::now();
  while (seconds_since(t0) < 0.5) {
    for (int rep = 0; rep < 1000; ++rep) {
      ActionState state = recorded;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (state.call_results[i].matches(ids[i].function_id, ids[i].args_digest))
          sink += state.call_results[i].result_payload->size();
      }
      peer_calls += kCalls;
    }
  }
  const double peer_rate = static_cast<double>(peer_calls) / seconds_since(t0);

  // First execution: each call runs and is recorded; persist is a no-op (the store's share is
  // measured next).
  std::uint64_t fresh = 0;
  t0 = Clock::now();
  while (seconds_since(t0) < 0.5) {
    for (int rep = 0; rep < 1000; ++rep) {
      ActionState state;
      DurableExecutionContext ctx(state, [](const ActionState&) { return Status{}; });
      for (const auto& id : ids)
        sink += ctx.execute(id, [] { return Outcome::returned(std::string("\"r\"")); })
                    ->result()
                    ->size();
      fresh += kCalls;
    }
  }
  const double fresh_rate = static_cast<double>(fresh) / seconds_since(t0);

  // First execution persisting every completion into an in-memory store (encode + append + cache).
  MemoryStore store(64);
  Event trigger;
  trigger.class_name = std::string(kInputEventClass);
  trigger.id = "11111111-2222-3333-4444-555555555555";
  trigger.type = "_input_event";
  trigger.attributes = R"({"input":"hello"})";
  const auto action = action_uuid_from_name("process");
  std::uint64_t stored = 0;
  t0 = Clock::now();
  for (std::int64_t seq = 0; seconds_since(t0) < 0.5; ++seq) {
    const StateKey key = make_key_v03("user-42", seq, trigger, action).value();
    ActionState state(trigger);
    DurableExecutionContext ctx(state, [&](const ActionState& s) { return store.put(key, s); });
    for (const auto& id : ids)
      sink +=
          ctx.execute(id, [] { return Outcome::returned(std::string("\"r\"")); })->result()->size();
    stored += kCalls;
    if (seq % 256 == 255) (void)store.prune("user-42", seq);  // keep the cache small
  }
  const double stored_rate = static_cast<double>(stored) / seconds_since(t0);

  fmt::print(
      "replay (in memory, {} calls per action)      {:>12.0f} calls/s   target >= 1,000,000\n",
      kCalls, replay_rate);
  fmt::print(
      "  peer: copy state + compare ids only      {:>12.0f} calls/s   replay/peer = {:.2f}\n",
      peer_rate, replay_rate / peer_rate);
  fmt::print("first execution, persist is a no-op        {:>12.0f} calls/s\n", fresh_rate);
  fmt::print(
      "first execution, persist to MemoryStore    {:>12.0f} calls/s   (whole state encoded per "
      "call)\n",
      stored_rate);
  if (sink == 42) std::puts("");
}

void bench_simulate() {
  SimulationOptions o;
  o.seed = 7;
  o.keys = 40;
  o.inputs = 25;
  o.crash_rate = 0.005;  // each recovery rereads the dump, so crashes dominate on the file store
  o.keep_crash_log = false;
  o.cleanup = StateCache::CleanupRule::kOnMiss;

  auto t0 = Clock::now();
  MemoryStore mem(64);
  auto m = simulate(o, mem);
  const double mem_s = seconds_since(t0);

  const auto path =
      (std::filesystem::temp_directory_path() / fmt::format("durable-bench-{}.jsonl", ::getpid()))
          .string();
  std::filesystem::remove(path);
  auto first = FileStore::open(path).value();
  std::unique_ptr<FileStore> current;
  t0 = Clock::now();
  auto f = simulate(o, *first, [&]() -> Result<LogStore*> {
    AFTK_TRY_ASSIGN(current, FileStore::open(path));
    return static_cast<LogStore*>(current.get());
  });
  const double file_s = seconds_since(t0);
  const auto bytes = std::filesystem::file_size(path);
  std::filesystem::remove(path);
  if (!m || !f) {
    fmt::print("simulate failed: {}\n", !m ? m.error().to_string() : f.error().to_string());
    return;
  }
  const auto line = [](const char* what, const SimulationReport& r, double s) {
    fmt::print(
        "simulate, {:<30} {:>8.0f} inputs/s {:>9.0f} calls/s {:>8.0f} records/s  ({} crashes, "
        "{:.2f} s)\n",
        what, static_cast<double>(r.inputs_processed) / s,
        static_cast<double>(r.calls_executed + r.calls_replayed) / s,
        static_cast<double>(r.persists) / s, r.crashes, s);
  };
  line("memory store", *m, mem_s);
  line("file store (reopened per crash)", *f, file_s);
  fmt::print("  file store / memory store time = {:.1f}x; dump {:.1f} MB for {} records\n",
             file_s / mem_s, static_cast<double>(bytes) / 1e6, f->persists);
}

// With AFTK_BROKERS set (tests/kafka/broker run -- ...): the same simulation on a real topic,
// every put acknowledged (acks=all) before the next, a new client per recovery.
void bench_kafka() {
  const char* brokers = std::getenv("AFTK_BROKERS");
  if (!brokers || !*brokers) {
    fmt::print(
        "simulate, kafka: skipped (AFTK_BROKERS not set; run under tests/kafka/broker run --)\n");
    return;
  }
  kafka::Sources src = kafka::sources_from_environment();
  src.brokers = brokers;
  auto config = kafka::resolve(src);
  if (!config) {
    fmt::print("simulate, kafka: {}\n", config.error().to_string());
    return;
  }
  const std::string topic = fmt::format("durable-bench-{}", ::getpid());
  const auto open = [&]() -> Result<std::unique_ptr<LogStore>> {
    kafka::StoreOptions so;
    so.topic = topic;
    so.num_partitions = 8;
    AFTK_TRY_ASSIGN(auto s, kafka::KafkaActionStateStore::open(*config, so));
    return std::unique_ptr<LogStore>(std::move(s));
  };
  auto first = open();
  if (!first) {
    fmt::print("simulate, kafka: {}\n", first.error().to_string());
    return;
  }
  SimulationOptions o;
  o.seed = 7;
  o.keys = 10;
  o.inputs = 10;
  o.crash_rate = 0.005;
  o.keep_crash_log = false;
  o.cleanup = StateCache::CleanupRule::kOnMiss;
  std::unique_ptr<LogStore> current;
  const auto t0 = Clock::now();
  auto r = simulate(o, **first, [&]() -> Result<LogStore*> {
    AFTK_TRY_ASSIGN(current, open());
    return current.get();
  });
  const double s = seconds_since(t0);
  if (!r) {
    fmt::print("simulate, kafka: {}\n", r.error().to_string());
    return;
  }
  fmt::print(
      "simulate, {:<30} {:>8.0f} inputs/s {:>9.0f} calls/s {:>8.0f} records/s  ({} crashes, {:.2f} "
      "s, ok={})\n",
      "kafka (8 partitions, acks=all)", static_cast<double>(r->inputs_processed) / s,
      static_cast<double>(r->calls_executed + r->calls_replayed) / s,
      static_cast<double>(r->persists) / s, r->crashes, s, r->ok());
}

void bench_memory() {
  constexpr int kStates = 100000;
  Event trigger;
  trigger.class_name = std::string(kInputEventClass);
  trigger.id = "11111111-2222-3333-4444-555555555555";
  trigger.type = "_input_event";
  trigger.attributes = R"({"input":"a typical user message of some length"})";
  const auto ids = call_ids(3);
  ActionState state(trigger);
  for (const auto& id : ids)
    state.call_results.push_back(
        CallResult::success(id.function_id, id.args_digest, std::string("\"a result payload\"")));
  const auto action = action_uuid_from_name("process");
  const std::string value = encode(state);

  MemoryStore store(64);
  std::vector<StateKey> keys;
  for (int i = 0; i < kStates; ++i)
    keys.push_back(make_key_v03(fmt::format("user-{}", i), 0, trigger, action).value());
  const auto before = mallinfo2().uordblks;
  for (const auto& k : keys) (void)store.put(k, state);
  const auto after = mallinfo2().uordblks;
  // The MemoryStore also keeps its log; measure it alone to separate the cache.
  size_t log_bytes = 0;
  for (std::int32_t p = 0; p < 64; ++p)
    for (const auto& r : store.partition_log(p))
      log_bytes += sizeof(r) + r.key.capacity() + (r.value ? r.value->capacity() : 0);
  const double per_state = static_cast<double>(after - before - log_bytes) / kStates;
  fmt::print(
      "memory per live state in the cache           {:>8.0f} bytes  (value {} bytes + key {} "
      "bytes; {} states)\n",
      per_state, value.size(), keys[0].to_string().size(), kStates);
}

}  // namespace

int main() {
  fmt::print("durable_bench (one core; short runs)\n");
  bench_replay();
  bench_simulate();
  bench_kafka();
  bench_memory();
  return 0;
}
