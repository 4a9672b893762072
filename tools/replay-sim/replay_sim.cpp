// SPDX-License-Identifier: Apache-2.0
// replay-sim: options -> configure -> build_config -> run (one of two subcommands) -> report.
#include "replay_sim.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "aftk/actionstate/file_store.h"
#include "aftk/cli/kafka_options.h"
#include "aftk/cli/store_source.h"
#include "aftk/durable/divergence.h"
#include "aftk/durable/logged.h"
#include "aftk/durable/simulate.h"
#include "aftk/json/writer.h"

namespace aftk::tools::replay_sim {

namespace {

using namespace actionstate;
using namespace durable;

constexpr const char* kDescription =
    R"(Simulate crashes of Flink Agents durable execution, and check replays of new code.

Examples:
  replay-sim simulate --keys 4 --inputs 3 --seed 7 --store demo/state.jsonl
        run a seeded agent against a topic-dump store, crashing at random points;
        every durable call must run once, except in the documented window
  replay-sim simulate --memory --keys 50 --inputs 20 --crash-rate 0.05 --cleanup on-miss
        a bigger run in memory, with the cache cleanup that does not drop chained states
  replay-sim simulate --memory --crash-at window:3 --crash-rate 0 --reconcile-rate 0 --json
        one crash between the 3rd call's completion and its persist: one duplicate (with
        reconcilers, the default 0.3, that call may be reconciled instead of run again)
  replay-sim replay state.jsonl --trace new-calls.jsonl
        which recorded actions new code would replay, and where it diverges
  replay-sim replay --strict --json state.jsonl --trace new-calls.jsonl
        stop at the first divergence (exit 3)
  replay-sim replay state.jsonl --event-log events-job-op-0.log
        which logged action executions replay would skip, re-run or run anew

Run 'replay-sim simulate --help' or 'replay-sim replay --help' for each command's options.)";

constexpr const char* kFooter =
    R"(Exit status: 0 success; 1 the store or a file cannot be read or written; 2 usage error;
3 problems found (simulate: a lost effect or a duplicate the model cannot explain;
replay: a divergence, an ambiguous or corrupt state, or store lines that are not
records). See replay-sim(1).)";

struct SimulateOptions {
  SimulationOptions sim;
  std::string store;
  std::string topic;
  cli::KafkaOptions kafka;
  bool memory = false;
  bool append = false;
  std::int32_t partitions = 64;
  std::vector<std::string> crash_at;
  std::string cleanup = "upstream";
  std::string value_format = "0.3.1";
  std::string trace_out;
  bool show_crashes = false;
  bool fail_on_cleanup = false;
};

struct ReplayOptions {
  cli::StoreSource source;
  std::string trace;
  std::vector<std::string> event_logs;
  bool strict = false;
  bool lenient = false;
};

struct Options {
  cli::OutputOptions output;
  SimulateOptions simulate;
  ReplayOptions replay;
  CLI::App* simulate_command = nullptr;  // parsed() tells which subcommand was given
};

void configure(CLI::App& app, Options& o) {
  app.description(kDescription);
  app.set_version_flag("--version", "");
  app.footer(kFooter);
  app.require_subcommand(1);

  SimulateOptions& so = o.simulate;
  auto* sim = app.add_subcommand("simulate",
                                 "Run a seeded agent workload with crashes and check exactly-once");
  o.simulate_command = sim;
  sim->footer(R"(Examples:
  replay-sim simulate --keys 4 --inputs 3 --seed 7 --store demo/state.jsonl
  replay-sim simulate --memory --keys 50 --inputs 20 --crash-rate 0.05 --show-crashes
  replay-sim simulate --memory --crash-rate 0 --crash-at window:3 --crash-at checkpoint:2
  replay-sim simulate --store s.jsonl --crash-rate 0 --crash-at before-call:4 --halt-after-crashes 1 --trace-out t.jsonl)");
  sim->add_option("--store", so.store,
                  "Topic-dump file to run against (created; must be empty unless --append)");
  sim->add_flag("--memory", so.memory, "Run against an in-memory log instead of a file");
  sim->add_option("-t,--topic", so.topic,
                  "Run against a Kafka topic (created if missing; must be empty unless --append)");
  cli::add_kafka_options(*sim, so.kafka);
  sim->add_flag("--append", so.append, "Allow a store that already holds records");
  sim->add_option("--format", so.value_format,
                  "Value form the restoring job reads: 0.3.1 (no lineage fields) or main-8ad3a32")
      ->default_val("0.3.1")
      ->check(CLI::IsMember({"0.3.1", "0.3", "main-8ad3a32", "8ad3a32"}));
  sim->add_option("--partitions", so.partitions, "Partitions of the store's topic")
      ->default_val(64)
      ->check(CLI::Range(1, 100000));
  sim->add_option("--seed", so.sim.seed, "Seed of the workload, failures and crashes")
      ->default_val(1);
  sim->add_option("--keys", so.sim.keys, "Business keys (user-N, order_N, tenant_eu_N in turn)")
      ->default_val(4)
      ->check(CLI::Range(1, 1000000));
  sim->add_option("--inputs", so.sim.inputs, "Inputs per key")
      ->default_val(3)
      ->check(CLI::Range(1, 1000000));
  sim->add_option("--calls", so.sim.calls, "Durable call sites per action")
      ->default_val(3)
      ->check(CLI::Range(0, 1000));
  sim->add_option("--fail-rate", so.sim.fail_rate, "Chance that one execution of a call raises")
      ->default_val(0.2)
      ->check(CLI::Range(0.0, 1.0));
  sim->add_option("--reconcile-rate", so.sim.reconcile_rate,
                  "Share of call sites with a reconciler")
      ->default_val(0.3)
      ->check(CLI::Range(0.0, 1.0));
  sim->add_flag("!--no-chain", so.sim.chain, "Only the 'plan' action (no chained 'act')");
  sim->add_option("--checkpoint-every", so.sim.checkpoint_every, "Inputs between checkpoints")
      ->default_val(4)
      ->check(CLI::Range(1, 1000000));
  sim->add_option("--crash-rate", so.sim.crash_rate, "Chance to crash at each crash point")
      ->default_val(0.02)
      ->check(CLI::Range(0.0, 0.5));
  sim->add_option("--max-crashes", so.sim.max_crashes,
                  "Stop crashing at random after this many crashes");
  sim->add_option("--crash-at", so.crash_at,
                  "Crash at the N-th KIND point: before-call, window, mid-action, "
                  "after-completion, checkpoint (KIND[:N]); repeatable");
  sim->add_option("--halt-after-crashes", so.sim.halt_after_crashes,
                  "Stop at that crash without recovering (leaves the crashed state)");
  sim->add_option("--cleanup", so.cleanup, "get()'s cleanup rule: upstream, or on-miss")
      ->default_val("upstream")
      ->check(CLI::IsMember({"upstream", "on-miss"}));
  sim->add_flag("--tombstones", so.sim.tombstones, "Prune writes tombstones");
  sim->add_flag("--fail-on-cleanup", so.fail_on_cleanup,
                "Exit 3 when upstream's cleanup made calls run twice");
  sim->add_option("--trace-out", so.trace_out,
                  "Write each completed action run's calls as a trace (input for 'replay')");
  sim->add_flag("--leave-in-flight", so.sim.leave_in_flight,
                "After the run, leave one more input in flight (a PENDING or unfinished state)");
  sim->add_flag("--show-crashes", so.show_crashes, "List every crash and the checkpoint restored");
  cli::add_output_options(*sim, o.output);

  ReplayOptions& ro = o.replay;
  auto* rep = app.add_subcommand(
      "replay", "Check a trace of new code's durable calls against recorded state");
  rep->footer(R"(Examples:
  replay-sim replay state.jsonl --trace new-calls.jsonl
  replay-sim replay --strict --json state.jsonl --trace new-calls.jsonl
  replay-sim replay -t action-state -b localhost:9092 --trace new-calls.jsonl
  replay-sim replay state.jsonl --event-log events-job-op-0.log

The trace holds one JSON object per action execution of the new code:
  {"key":"user-42","seq":0,"action":"process","calls":[{"functionId":"m.f","argsDigest":"0123456789abcdef"}]}
with optional "actionUuid" (default: the name-based UUID of "action") and "eventUuid".)");
  cli::add_store_source(*rep, ro.source);
  auto* trace_opt =
      rep->add_option("--trace", ro.trace,
                      "Trace of the calls new code makes (JSON Lines; '-' for standard input)");
  rep->add_option("--event-log", ro.event_logs,
                  "Event-log file(s) instead of a trace: which logged action executions "
                  "replay would skip, re-run or run anew (repeatable)")
      ->excludes(trace_opt);
  rep->add_flag("--strict", ro.strict, "Stop at the first divergence");
  rep->add_flag("--lenient", ro.lenient, "Read state values the upstream reader rejects");
  cli::add_output_options(*rep, o.output);
}

// What the run needs, checked.
struct Config {
  bool simulate = false;  // else replay
  SimulateOptions sim;    // with the crash points parsed and the cleanup rule set
  cli::StoreSource sim_store;  // the simulation's store, unless --memory
  ReplayOptions replay;
  cli::Format format = cli::Format::kJsonl;
  bool color = false;
};

// Returns the exit code of a usage error (or of -X list), or nullopt with `config` filled.
std::optional<int> build_config(const Options& o, const cli::Io& io, Config& config) {
  config.format = cli::resolve_format(o.output, io);
  config.color = cli::resolve_color(o.output, io);
  if (o.simulate_command->parsed()) {
    config.simulate = true;
    if (auto rc = cli::handle_kafka_args(o.simulate.kafka, io)) return rc;
    SimulateOptions& so = config.sim;
    so = o.simulate;
    so.sim.profile = actionstate::parse_profile(so.value_format).value();  // checked by CLI11
    for (const auto& c : so.crash_at) {
      auto chosen = parse_chosen_crash(c);
      if (!chosen) {
        cli::error(io, fmt::format("--crash-at {}: {}", c, chosen.error().message));
        return cli::kExitUsage;
      }
      so.sim.chosen.push_back(*chosen);
    }
    so.sim.cleanup = so.cleanup == "on-miss" ? StateCache::CleanupRule::kOnMiss
                                             : StateCache::CleanupRule::kUpstream;
    so.sim.record_traces = !so.trace_out.empty();
    so.sim.keep_crash_log = true;
    if (int(so.memory) + int(!so.store.empty()) + int(!so.topic.empty()) != 1) {
      cli::error(io, "give one of --store FILE (a topic dump), -t TOPIC (Kafka) or --memory");
      return cli::kExitUsage;
    }
    config.sim_store.file = so.store;
    config.sim_store.topic = so.topic;
    config.sim_store.kafka = so.kafka;
    config.sim_store.partitions = so.partitions;
    return std::nullopt;
  }
  const ReplayOptions& ro = o.replay;
  if (auto rc = cli::handle_kafka_args(ro.source.kafka, io)) return rc;
  if (const auto why = cli::check_store_source(ro.source); !why.empty()) {
    cli::error(io, why);
    return cli::kExitUsage;
  }
  if (ro.trace.empty() && ro.event_logs.empty()) {
    cli::error(io, "give --trace FILE or --event-log FILE");
    return cli::kExitUsage;
  }
  if (ro.source.file == "-" && ro.trace == "-") {
    cli::error(io, "FILE and --trace cannot both be standard input");
    return cli::kExitUsage;
  }
  config.replay = ro;
  return std::nullopt;
}

void write_call(json::Writer& w, const CallId& c) {
  w.begin_object().field("functionId", c.function_id).field("argsDigest", c.args_digest);
  w.end_object();
}

void write_call(json::Writer& w, std::string_view name, const std::optional<CallId>& c) {
  w.key(name);
  if (c)
    write_call(w, *c);
  else
    w.null();
}


std::string trace_json(const TraceEntry& t) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("key", t.key).field("seq", t.seq).field("action", t.action);
  if (t.action_uuid) w.field("actionUuid", *t.action_uuid);
  if (t.event_uuid) w.field("eventUuid", *t.event_uuid);
  w.key("calls").begin_array();
  for (const auto& c : t.calls) write_call(w, c);
  w.end_array().end_object();
  return out;
}

// Refuses a store that already holds records, unless --append: a simulation's checks assume
// it starts from nothing. Returns the exit code to stop with, or nullopt.
std::optional<int> refuse_used(LogStore& store, const Config& config, const cli::Io& io) {
  auto end = store.end_offsets();
  if (!end) return cli::report_error(io, end.error());
  std::int64_t records = 0;
  for (const auto& [p, off] : *end) records += off;
  if (records > 0 && !config.sim.append) {
    const std::string what = config.sim_store.is_kafka()
                                 ? fmt::format("topic '{}'", config.sim_store.topic)
                                 : fmt::format("store '{}'", config.sim_store.file);
    cli::error(io, fmt::format("{} already holds {} records; remove it or pass --append", what,
                               records));
    return cli::kExitFailure;
  }
  return std::nullopt;
}

int report(const Config& config, const SimulationReport& r, const cli::Io& io);

int run_simulate(const Config& config, cli::Io& io) {
  const SimulateOptions& o = config.sim;
  std::unique_ptr<LogStore> first, current;
  ReopenStore reopen;
  if (o.memory) {
    first = std::make_unique<MemoryStore>(o.partitions);
  } else {
    auto opened = cli::open_store(config.sim_store, cli::StoreAccess::kCreate);
    if (!opened) return cli::report_error(io, opened.error());
    if (auto rc = refuse_used(**opened, config, io)) return *rc;
    first = std::move(*opened);
    // A crashed process opens its store again: what the file or topic holds is all that
    // survives.
    reopen = [&]() -> Result<LogStore*> {
      AFTK_TRY_ASSIGN(current, cli::open_store(config.sim_store, cli::StoreAccess::kCreate));
      return current.get();
    };
  }
  auto report_or = simulate(o.sim, *first, reopen);
  if (!report_or) return cli::report_error(io, report_or.error());
  const SimulationReport& r = *report_or;

  if (!o.trace_out.empty()) {
    std::FILE* f = std::fopen(o.trace_out.c_str(), "wb");
    if (!f) {
      cli::error(io, fmt::format("cannot write trace '{}'", o.trace_out));
      return cli::kExitFailure;
    }
    for (const auto& t : r.traces) {
      std::string line = trace_json(t);
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), f);
    }
    std::fclose(f);
  }
  return report(config, r, io);
}

void print_simulation_tables(const Config& config, const SimulationReport& r, const cli::Io& io) {
  const bool color = config.color;
  cli::Table summary;
  summary.add_column("SIMULATION");
  summary.add_column("COUNT", cli::Table::Align::kRight);
  const auto row = [&](std::string name, std::uint64_t n) {
    summary.add_row({std::move(name), std::to_string(n)});
  };
  row("inputs", r.inputs);
  row("inputs processed (re-processing included)", r.inputs_processed);
  row("action runs", r.action_runs);
  row("actions skipped as completed", r.actions_reused);
  row("durable calls run", r.calls_executed);
  row("durable calls replayed", r.calls_replayed);
  row("reconcilers run", r.reconciled);
  row("records written", r.persists);
  row("checkpoints (completed)", r.checkpoints_completed);
  row("states pruned", r.states_pruned);
  row("states dropped by get's cleanup", r.states_dropped);
  for (auto k : kAllCrashKinds) {
    auto it = r.crashes_by_kind.find(k);
    row(fmt::format("crashes: {}", crash_kind_name(k)),
        it == r.crashes_by_kind.end() ? 0 : it->second);
  }
  row("effects checked", r.effects);
  row("duplicates inside the window", r.window_duplicates);
  row("duplicates from the cleanup", r.cleanup_duplicates);
  row("duplicates unexplained", r.unexplained_duplicates);
  row("lost effects", r.lost.size());
  summary.print(io.out, color);
  if (!r.duplicates.empty() || !r.lost.empty()) {
    std::fputc('\n', io.out);
    cli::Table t;
    t.add_column("KEY");
    t.add_column("SEQ", cli::Table::Align::kRight);
    t.add_column("ACTION");
    t.add_column("CALL", cli::Table::Align::kRight);
    t.add_column("FUNCTION");
    t.add_column("RUN", cli::Table::Align::kRight);
    t.add_column("WHAT");
    for (const auto& d : r.duplicates)
      t.add_row({d.key, std::to_string(d.seq), d.action, std::to_string(d.call_index),
                 d.function_id, std::to_string(d.execution), "duplicate: " + d.cause});
    for (const auto& l : r.lost)
      t.add_row({l.key, std::to_string(l.seq), l.action,
                 l.call_index < 0 ? "-" : std::to_string(l.call_index), l.function_id, "0",
                 "lost: " + l.reason});
    t.print(io.out, color);
  }
  if (config.sim.show_crashes && !r.crash_log.empty()) {
    std::fputc('\n', io.out);
    cli::Table t;
    t.add_column("CRASH", cli::Table::Align::kRight);
    t.add_column("POINT");
    t.add_column("KEY");
    t.add_column("SEQ", cli::Table::Align::kRight);
    t.add_column("ACTION");
    t.add_column("CALL", cli::Table::Align::kRight);
    t.add_column("RESTORED", cli::Table::Align::kRight);
    for (const auto& c : r.crash_log)
      t.add_row({std::to_string(c.number), std::string(crash_kind_name(c.kind)), c.key,
                 c.seq < 0 ? "-" : std::to_string(c.seq), c.action,
                 c.call_index < 0 ? "-" : std::to_string(c.call_index),
                 std::to_string(c.restored_checkpoint)});
    t.print(io.out, color);
  }
}

void print_simulation_jsonl(const Config& config, const SimulationReport& r, const cli::Io& io) {
  const auto format = config.format;
  std::string line;
  if (config.sim.show_crashes) {
    for (const auto& c : r.crash_log) {
      line.clear();
      json::Writer w(line);
      w.begin_object()
          .field("type", "crash")
          .field("number", c.number)
          .field("point", crash_kind_name(c.kind));
      if (!c.key.empty()) w.field("key", c.key).field("seq", c.seq).field("action", c.action);
      if (c.call_index >= 0) w.field("callIndex", c.call_index);
      w.field("restoredCheckpoint", c.restored_checkpoint).end_object();
      cli::write_json(io, format, line);
    }
  }
  for (const auto& d : r.duplicates) {
    line.clear();
    json::Writer(line)
        .begin_object()
        .field("type", "duplicate")
        .field("key", d.key)
        .field("seq", d.seq)
        .field("action", d.action)
        .field("callIndex", d.call_index)
        .field("functionId", d.function_id)
        .field("execution", d.execution)
        .field("cause", d.cause)
        .end_object();
    cli::write_json(io, format, line);
  }
  for (const auto& l : r.lost) {
    line.clear();
    json::Writer w(line);
    w.begin_object().field("type", "lost").field("key", l.key).field("seq", l.seq);
    w.field("action", l.action);
    if (l.call_index >= 0) w.field("callIndex", l.call_index).field("functionId", l.function_id);
    w.field("reason", l.reason).end_object();
    cli::write_json(io, format, line);
  }
  line.clear();
  json::Writer w(line);
  w.begin_object()
      .field("type", "summary")
      .field("seed", config.sim.sim.seed)
      .field("inputs", r.inputs)
      .field("inputsProcessed", r.inputs_processed)
      .field("actionRuns", r.action_runs)
      .field("actionsReused", r.actions_reused)
      .field("callsRun", r.calls_executed)
      .field("callsReplayed", r.calls_replayed)
      .field("reconcilersRun", r.reconciled)
      .field("recordsWritten", r.persists)
      .field("checkpoints", r.checkpoints)
      .field("checkpointsCompleted", r.checkpoints_completed)
      .field("statesPruned", r.states_pruned)
      .field("statesDropped", r.states_dropped)
      .field("crashes", r.crashes);
  w.key("crashesByPoint").begin_object();
  for (auto k : kAllCrashKinds) {
    auto it = r.crashes_by_kind.find(k);
    w.field(crash_kind_name(k), it == r.crashes_by_kind.end() ? 0 : it->second);
  }
  w.end_object()
      .field("effects", r.effects)
      .field("windowDuplicates", r.window_duplicates)
      .field("cleanupDuplicates", r.cleanup_duplicates)
      .field("unexplainedDuplicates", r.unexplained_duplicates)
      .field("orphanedRuns", r.orphaned)
      .field("lost", r.lost.size())
      .field("liveStates", r.live_states)
      .field("halted", r.halted)
      .field("inFlight", r.in_flight)
      .field("ok", r.ok())
      .end_object();
  cli::write_json(io, format, line);
}

// Prints the simulation's outcome and returns its exit code.
int report(const Config& config, const SimulationReport& r, const cli::Io& io) {
  if (config.format == cli::Format::kTable)
    print_simulation_tables(config, r, io);
  else
    print_simulation_jsonl(config, r, io);
  const std::uint64_t outside = r.cleanup_duplicates + r.unexplained_duplicates;
  if (r.cleanup_duplicates > 0)
    cli::warning(
        io, fmt::format(
                "{} durable call(s) ran again outside the window because upstream's get() dropped "
                "their persisted state: two chained actions share a sequence number, which "
                "counts as divergence (see replay-sim(1)); --cleanup on-miss avoids it",
                r.cleanup_duplicates));
  if (r.unexplained_duplicates > 0)
    cli::error(io,
               fmt::format("{} duplicate(s) the model cannot explain", r.unexplained_duplicates));
  if (!r.lost.empty()) cli::error(io, fmt::format("{} lost effect(s)", r.lost.size()));
  if (r.halted)
    cli::note(io, fmt::format("halted at crash {} as asked; the store holds the crashed state",
                              r.crashes));
  cli::note(io, fmt::format(
                    "seed {}: {} crashes, {} effects, {} duplicates inside the window, {} outside",
                    config.sim.sim.seed, r.crashes, r.effects, r.window_duplicates, outside));
  if (!r.ok() || (config.sim.fail_on_cleanup && r.cleanup_duplicates > 0)) return cli::kExitProblems;
  return cli::kExitOk;
}

int run_event_logs(const Config& config, LogStore& store, const cli::Io& io);

// Checks the trace (or the event logs) against the store, one row per entry as it goes, then
// the counts.
int run_replay(const Config& config, const cli::Io& io) {
  const ReplayOptions& o = config.replay;
  auto store = cli::open_store(o.source, true);
  if (!store) return cli::report_error(io, store.error());
  const cli::CacheLeftAtExit left(io, store->get());
  RebuildOptions ro;
  ro.validate = false;
  auto loaded = (*store)->load_all(ro);
  if (!loaded) return cli::report_error(io, loaded.error());
  // Store lines that are not records, and keys that do not parse, are problems (exit 3) too.
  const auto store_problems = cli::ordered_problems(*loaded);
  for (const Problem* p : store_problems) cli::warning(io, cli::problem_text(o.source, *p));
  if (!o.event_logs.empty()) {
    const int rc = run_event_logs(config, **store, io);
    return rc == cli::kExitOk && !store_problems.empty() ? cli::kExitProblems : rc;
  }

  DecodeOptions decode;
  decode.mode = o.lenient ? ReadMode::kLenient : ReadMode::kStrict;
  ReplayChecker checker(**store, decode);
  const auto format = config.format;
  const bool color = config.color;
  cli::Table table;
  if (format == cli::Format::kTable) {
    using A = cli::Table::Align;
    const std::pair<const char*, A> columns[] = {{"KEY", A::kLeft},         {"SEQ", A::kRight},
                                                 {"ACTION", A::kLeft},      {"STATUS", A::kLeft},
                                                 {"RECORDED", A::kRight},   {"TRACED", A::kRight},
                                                 {"DIVERGES AT", A::kLeft}, {"CAUSE", A::kLeft},
                                                 {"RUNS", A::kRight},       {"RE-RUNS", A::kRight}};
    for (const auto& [name, align] : columns) table.add_column(name, align);
  }
  size_t entries = 0, diverged = 0, problems = 0;
  std::string line;
  bool stopped = false;
  auto st = read_trace(o.trace, [&](TraceEntry& t) -> Status {
    if (cli::interrupted()) return fail(Errc::kInterrupted, "interrupted");
    ++entries;
    const ReplayCheck c = checker.check(t);
    const Divergence& d = c.divergence;
    if (c.status == ReplayCheck::Status::kDiverges) ++diverged;
    if (c.status == ReplayCheck::Status::kAmbiguous || c.status == ReplayCheck::Status::kCorrupt) {
      ++problems;
      cli::warning(io,
                   fmt::format("{}: {} seq {} {}: {}", t.where, t.key, t.seq, t.action, c.detail));
    }
    if (format == cli::Format::kTable) {
      std::string status(status_name(c.status));
      if (color && c.status == ReplayCheck::Status::kDiverges)
        status = "\033[31m" + status + "\033[0m";
      table.add_row({t.key, std::to_string(t.seq), t.action, status, std::to_string(c.recorded),
                     std::to_string(t.calls.size()),
                     d.diverged() ? std::to_string(d.first_index) : "-",
                     d.diverged() ? std::string(cause_name(d.cause)) : "-", std::to_string(d.runs),
                     std::to_string(d.re_executes)});
    } else {
      line.clear();
      json::Writer w(line);
      w.begin_object()
          .field("key", t.key)
          .field("seq", t.seq)
          .field("action", t.action)
          .field("status", status_name(c.status))
          .field("recorded", c.recorded)
          .field("traced", t.calls.size());
      if (d.diverged())
        w.field("firstDivergence", d.first_index).field("cause", cause_name(d.cause));
      else
        w.key("firstDivergence").null().key("cause").null();
      write_call(w, "recordedCall", d.recorded);
      write_call(w, "tracedCall", d.traced);
      w.field("replayed", d.replayed)
          .field("pending", d.pending)
          .field("runs", d.runs)
          .field("reExecutes", d.re_executes);
      if (c.entry) {
        w.field("stateKey", c.entry->key.to_string())
            .field("partition", c.entry->position.partition)
            .field("offset", c.entry->position.offset);
      }
      if (!c.detail.empty()) w.field("detail", c.detail);
      w.field("where", t.where).end_object();
      cli::write_json(io, format, line);
    }
    if (o.strict && c.status == ReplayCheck::Status::kDiverges) {
      stopped = true;
      return fail(Errc::kConflict, "stop");
    }
    return {};
  });
  if (format == cli::Format::kTable) table.print(io.out, color);
  if (!st && !stopped) return cli::report_error(io, st.error());
  if (stopped) cli::note(io, "--strict: stopped at the first divergence");
  cli::note(io, fmt::format("{} trace entries, {} diverge, {} live states in {}", entries, diverged,
                            (*store)->cache().size(), o.source.describe()));
  const bool found = diverged > 0 || problems > 0 || !store_problems.empty();
  return found ? cli::kExitProblems : cli::kExitOk;
}

// Event logs name no durable calls: what they give is which actions ran on which events, so
// the report says per action execution what replay would do with its recorded state.
int run_event_logs(const Config& config, LogStore& store, const cli::Io& io) {
  const ReplayOptions& o = config.replay;
  std::vector<std::string> problems;
  auto executions = derive_executions(o.event_logs, &problems);
  if (!executions) return cli::report_error(io, executions.error());
  for (const auto& p : problems) cli::warning(io, p);
  LoggedChecker checker(store);
  const auto format = config.format;
  const bool color = config.color;
  cli::Table table;
  if (format == cli::Format::kTable) {
    using A = cli::Table::Align;
    for (const auto& [name, align] : std::vector<std::pair<const char*, A>>{{"ACTION", A::kLeft},
                                                                            {"TRIGGER", A::kLeft},
                                                                            {"TYPE", A::kLeft},
                                                                            {"KEY", A::kLeft},
                                                                            {"SEQ", A::kRight},
                                                                            {"STATUS", A::kLeft},
                                                                            {"CALLS", A::kRight},
                                                                            {"PENDING", A::kRight},
                                                                            {"OUTPUTS", A::kRight}})
      table.add_column(name, align);
  }
  std::map<std::string, size_t> counts;
  size_t corrupt = 0;
  std::string line;
  for (const auto& e : *executions) {
    const LoggedCheck c = checker.check(e);
    ++counts[std::string(logged_status_name(c.status))];
    if (c.status == LoggedCheck::Status::kCorrupt) ++corrupt;
    std::string key = c.entry ? std::string(c.entry->key.identity()) : e.business_key.value_or("");
    if (format == cli::Format::kTable) {
      table.add_row({e.action, e.trigger_id.substr(0, 8), e.trigger_type.value_or("?"), key,
                     c.entry ? std::to_string(c.entry->key.seq) : "-",
                     std::string(logged_status_name(c.status)), std::to_string(c.calls),
                     std::to_string(c.pending), std::to_string(c.outputs)});
      continue;
    }
    line.clear();
    json::Writer w(line);
    w.begin_object().field("action", e.action).field("triggerEventId", e.trigger_id);
    if (e.trigger_type) w.field("triggerType", *e.trigger_type);
    if (e.event_uuid) w.field("eventUuid", *e.event_uuid);
    if (!key.empty()) w.field("key", key);
    w.field("status", logged_status_name(c.status));
    if (c.entry) {
      w.field("seq", c.entry->key.seq)
          .field("stateKey", c.entry->key.to_string())
          .field("partition", c.entry->position.partition)
          .field("offset", c.entry->position.offset);
      if (c.by_event_only) w.field("matchedByEventOnly", true);
    }
    w.field("calls", c.calls)
        .field("pending", c.pending)
        .field("outputs", c.outputs)
        .field("eventsSent", e.events_sent)
        .field("where", e.where)
        .end_object();
    cli::write_json(io, format, line);
  }
  if (format == cli::Format::kTable) table.print(io.out, color);
  std::string summary;
  for (const auto& [name, n] : counts)
    summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, name);
  cli::note(io,
            fmt::format("{} action executions in the event log{}{}; event logs carry no durable "
                        "call ids, so no call-level divergence is derived",
                        executions->size(), summary.empty() ? "" : ": ", summary));
  return corrupt > 0 ? cli::kExitProblems : cli::kExitOk;
}

// Runs the subcommand given; each prints its own report.
int run(const Config& config, cli::Io& io) {
  return config.simulate ? run_simulate(config, io) : run_replay(config, io);
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "replay-sim"};
  Options o;
  configure(app, o);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    Config config;
    if (auto rc = build_config(o, io, config)) return *rc;
    return run(config, io);
  });
}

}  // namespace aftk::tools::replay_sim
