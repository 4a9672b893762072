// SPDX-License-Identifier: Apache-2.0
// replay-sim: options, the two subcommands, and their reports.
#include "replay_sim.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "aftk/actionstate/file_store.h"
#include "aftk/cli/store_source.h"
#include "aftk/durable/divergence.h"
#include "aftk/durable/logged.h"
#include "aftk/durable/simulate.h"
#include "aftk/json/writer.h"
#include "aftk/kafka/options.h"
#include "aftk/kafka/store.h"

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
  replay-sim simulate --memory --crash-at window:3 --crash-rate 0 --json | jq 'select(.type=="duplicate")'
        one crash between the 3rd call's completion and its persist: one duplicate
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
replay: a divergence, an ambiguous or corrupt state). See replay-sim(1).)";

struct SimulateOptions {
  SimulationOptions sim;
  std::string store;
  std::string topic;
  kafka::Options kafka;
  bool memory = false;
  bool append = false;
  std::int32_t partitions = 64;
  std::vector<std::string> crash_at;
  std::string cleanup = "upstream";
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

// Starts a field of the JSON object being built in `out`.
void field(std::string& out, std::string_view k) {
  if (out.back() != '{') out.push_back(',');
  json::append_string(out, k);
  out.push_back(':');
}
void append_kv(std::string& out, std::string_view k, std::string_view v) {
  field(out, k);
  json::append_string(out, v);
}
void append_kn(std::string& out, std::string_view k, std::int64_t v) {
  field(out, k);
  json::append_int(out, v);
}
void append_nullable(std::string& out, const std::optional<std::string>& v) {
  if (v)
    json::append_string(out, *v);
  else
    out.append("null");
}
void append_call_object(std::string& out, const CallId& c) {
  out.append("{\"functionId\":");
  append_nullable(out, c.function_id);
  out.append(",\"argsDigest\":");
  append_nullable(out, c.args_digest);
  out.push_back('}');
}
void append_call(std::string& out, std::string_view k, const std::optional<CallId>& c) {
  field(out, k);
  if (c)
    append_call_object(out, *c);
  else
    out.append("null");
}
void emit(const cli::Io& io, std::string& line) {
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), io.out);
}

std::string trace_json(const TraceEntry& t) {
  std::string out = "{";
  append_kv(out, "key", t.key);
  append_kn(out, "seq", t.seq);
  append_kv(out, "action", t.action);
  if (t.action_uuid) append_kv(out, "actionUuid", *t.action_uuid);
  if (t.event_uuid) append_kv(out, "eventUuid", *t.event_uuid);
  field(out, "calls");
  out.push_back('[');
  for (size_t i = 0; i < t.calls.size(); ++i) {
    if (i) out.push_back(',');
    append_call_object(out, t.calls[i]);
  }
  out.append("]}");
  return out;
}

int run_simulate(SimulateOptions& o, const cli::OutputOptions& output, cli::Io& io) {
  for (const auto& c : o.crash_at) {
    auto chosen = parse_chosen_crash(c);
    if (!chosen) {
      cli::error(io, fmt::format("--crash-at {}: {}", c, chosen.error().message));
      return cli::kExitUsage;
    }
    o.sim.chosen.push_back(*chosen);
  }
  o.sim.cleanup = o.cleanup == "on-miss" ? StateCache::CleanupRule::kOnMiss
                                         : StateCache::CleanupRule::kUpstream;
  o.sim.record_traces = !o.trace_out.empty();
  o.sim.keep_crash_log = true;
  if (int(o.memory) + int(!o.store.empty()) + int(!o.topic.empty()) != 1) {
    cli::error(io, "give one of --store FILE (a topic dump), -t TOPIC (Kafka) or --memory");
    return cli::kExitUsage;
  }

  std::unique_ptr<LogStore> first, current;
  ReopenStore reopen;
  std::optional<kafka::ClientConfig> kafka_config;
  const auto open_kafka = [&]() -> Result<std::unique_ptr<LogStore>> {
    kafka::StoreOptions ko;
    ko.topic = o.topic;
    ko.num_partitions = o.partitions;
    ko.should_stop = [] { return cli::interrupted(); };
    AFTK_TRY_ASSIGN(auto store, kafka::KafkaActionStateStore::open(*kafka_config, std::move(ko)));
    return std::unique_ptr<LogStore>(std::move(store));
  };
  const auto refuse_used = [&](LogStore& store, const std::string& what) -> int {
    auto end = store.end_offsets();
    if (!end) return cli::report_error(io, end.error());
    std::int64_t records = 0;
    for (const auto& [p, off] : *end) records += off;
    if (records > 0 && !o.append) {
      cli::error(io, fmt::format("{} already holds {} records; remove it or pass --append", what,
                                 records));
      return cli::kExitFailure;
    }
    return -1;
  };
  if (o.memory) {
    first = std::make_unique<MemoryStore>(o.partitions);
  } else if (!o.topic.empty()) {
    auto config = kafka::resolve(o.kafka);
    if (!config) return cli::report_error(io, config.error());
    kafka_config = std::move(*config);
    auto opened = open_kafka();
    if (!opened) return cli::report_error(io, opened.error());
    first = std::move(*opened);
    if (const int rc = refuse_used(*first, fmt::format("topic '{}'", o.topic)); rc >= 0) return rc;
    // A crashed process connects again: what the topic holds is all that survives.
    reopen = [&]() -> Result<LogStore*> {
      AFTK_TRY_ASSIGN(current, open_kafka());
      return current.get();
    };
  } else {
    FileStoreOptions fo;
    fo.num_partitions = o.partitions;
    auto opened = FileStore::open(o.store, fo);
    if (!opened) return cli::report_error(io, opened.error());
    if (const int rc = refuse_used(**opened, fmt::format("store '{}'", o.store)); rc >= 0)
      return rc;
    first = std::move(*opened);
    // A crashed process reopens the file; the dump on disk is all that survives.
    reopen = [&]() -> Result<LogStore*> {
      FileStoreOptions again;
      again.num_partitions = o.partitions;
      AFTK_TRY_ASSIGN(current, FileStore::open(o.store, again));
      return current.get();
    };
  }
  auto report = simulate(o.sim, *first, reopen);
  if (!report) return cli::report_error(io, report.error());
  const SimulationReport& r = *report;

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

  const auto format = cli::resolve_format(output, io);
  const bool color = cli::resolve_color(output, io);
  const std::uint64_t outside = r.cleanup_duplicates + r.unexplained_duplicates;
  if (format == cli::Format::kTable) {
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
    if (o.show_crashes && !r.crash_log.empty()) {
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
  } else {
    std::string line;
    if (o.show_crashes) {
      for (const auto& c : r.crash_log) {
        line = "{\"type\":\"crash\"";
        append_kn(line, "number", static_cast<std::int64_t>(c.number));
        append_kv(line, "point", crash_kind_name(c.kind));
        if (!c.key.empty()) {
          append_kv(line, "key", c.key);
          append_kn(line, "seq", c.seq);
          append_kv(line, "action", c.action);
        }
        if (c.call_index >= 0) append_kn(line, "callIndex", c.call_index);
        append_kn(line, "restoredCheckpoint", c.restored_checkpoint);
        line.push_back('}');
        emit(io, line);
      }
    }
    for (const auto& d : r.duplicates) {
      line = "{\"type\":\"duplicate\"";
      append_kv(line, "key", d.key);
      append_kn(line, "seq", d.seq);
      append_kv(line, "action", d.action);
      append_kn(line, "callIndex", d.call_index);
      append_kv(line, "functionId", d.function_id);
      append_kn(line, "execution", static_cast<std::int64_t>(d.execution));
      append_kv(line, "cause", d.cause);
      line.push_back('}');
      emit(io, line);
    }
    for (const auto& l : r.lost) {
      line = "{\"type\":\"lost\"";
      append_kv(line, "key", l.key);
      append_kn(line, "seq", l.seq);
      append_kv(line, "action", l.action);
      if (l.call_index >= 0) {
        append_kn(line, "callIndex", l.call_index);
        append_kv(line, "functionId", l.function_id);
      }
      append_kv(line, "reason", l.reason);
      line.push_back('}');
      emit(io, line);
    }
    line = "{\"type\":\"summary\"";
    append_kn(line, "seed", static_cast<std::int64_t>(o.sim.seed));
    append_kn(line, "inputs", static_cast<std::int64_t>(r.inputs));
    append_kn(line, "inputsProcessed", static_cast<std::int64_t>(r.inputs_processed));
    append_kn(line, "actionRuns", static_cast<std::int64_t>(r.action_runs));
    append_kn(line, "actionsReused", static_cast<std::int64_t>(r.actions_reused));
    append_kn(line, "callsRun", static_cast<std::int64_t>(r.calls_executed));
    append_kn(line, "callsReplayed", static_cast<std::int64_t>(r.calls_replayed));
    append_kn(line, "reconcilersRun", static_cast<std::int64_t>(r.reconciled));
    append_kn(line, "recordsWritten", static_cast<std::int64_t>(r.persists));
    append_kn(line, "checkpoints", static_cast<std::int64_t>(r.checkpoints));
    append_kn(line, "checkpointsCompleted", static_cast<std::int64_t>(r.checkpoints_completed));
    append_kn(line, "statesPruned", static_cast<std::int64_t>(r.states_pruned));
    append_kn(line, "statesDropped", static_cast<std::int64_t>(r.states_dropped));
    append_kn(line, "crashes", static_cast<std::int64_t>(r.crashes));
    line.append(",\"crashesByPoint\":{");
    for (auto k : kAllCrashKinds) {
      auto it = r.crashes_by_kind.find(k);
      append_kn(line, crash_kind_name(k),
                it == r.crashes_by_kind.end() ? 0 : static_cast<std::int64_t>(it->second));
    }
    line.push_back('}');
    append_kn(line, "effects", static_cast<std::int64_t>(r.effects));
    append_kn(line, "windowDuplicates", static_cast<std::int64_t>(r.window_duplicates));
    append_kn(line, "cleanupDuplicates", static_cast<std::int64_t>(r.cleanup_duplicates));
    append_kn(line, "unexplainedDuplicates", static_cast<std::int64_t>(r.unexplained_duplicates));
    append_kn(line, "orphanedRuns", static_cast<std::int64_t>(r.orphaned));
    append_kn(line, "lost", static_cast<std::int64_t>(r.lost.size()));
    append_kn(line, "liveStates", static_cast<std::int64_t>(r.live_states));
    line.append(r.halted ? ",\"halted\":true" : ",\"halted\":false");
    line.append(r.in_flight ? ",\"inFlight\":true" : ",\"inFlight\":false");
    line.append(r.ok() ? ",\"ok\":true}" : ",\"ok\":false}");
    emit(io, line);
  }

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
                    o.sim.seed, r.crashes, r.effects, r.window_duplicates, outside));
  if (!r.ok() || (o.fail_on_cleanup && r.cleanup_duplicates > 0)) return cli::kExitProblems;
  return cli::kExitOk;
}

int run_event_logs(const ReplayOptions& o, LogStore& store, const cli::OutputOptions& output,
                   cli::Io& io);

int run_replay(const ReplayOptions& o, const cli::OutputOptions& output, cli::Io& io) {
  auto store = cli::open_store(o.source, true);
  if (!store) return cli::report_error(io, store.error());
  const cli::CacheLeftAtExit left(io, store->get());
  if (auto* file = dynamic_cast<FileStore*>(store->get()))
    for (const auto& p : file->problems())
      cli::warning(io, fmt::format("{}: {}", p.where, p.message));
  RebuildOptions ro;
  ro.validate = false;
  auto loaded = (*store)->load_all(ro);
  if (!loaded) return cli::report_error(io, loaded.error());
  for (const auto& p : loaded->problems) cli::warning(io, p.error.to_string());
  if (!o.event_logs.empty()) return run_event_logs(o, **store, output, io);

  DecodeOptions decode;
  decode.mode = o.lenient ? ReadMode::kLenient : ReadMode::kStrict;
  ReplayChecker checker(**store, decode);
  const auto format = cli::resolve_format(output, io);
  const bool color = cli::resolve_color(output, io);
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
      line = "{";
      append_kv(line, "key", t.key);
      append_kn(line, "seq", t.seq);
      append_kv(line, "action", t.action);
      append_kv(line, "status", status_name(c.status));
      append_kn(line, "recorded", static_cast<std::int64_t>(c.recorded));
      append_kn(line, "traced", static_cast<std::int64_t>(t.calls.size()));
      if (d.diverged()) {
        append_kn(line, "firstDivergence", d.first_index);
        append_kv(line, "cause", cause_name(d.cause));
      } else {
        line.append(",\"firstDivergence\":null,\"cause\":null");
      }
      append_call(line, "recordedCall", d.recorded);
      append_call(line, "tracedCall", d.traced);
      append_kn(line, "replayed", static_cast<std::int64_t>(d.replayed));
      append_kn(line, "pending", static_cast<std::int64_t>(d.pending));
      append_kn(line, "runs", static_cast<std::int64_t>(d.runs));
      append_kn(line, "reExecutes", static_cast<std::int64_t>(d.re_executes));
      if (c.entry) {
        append_kv(line, "stateKey", c.entry->key.to_string());
        append_kn(line, "partition", c.entry->position.partition);
        append_kn(line, "offset", c.entry->position.offset);
      }
      if (!c.detail.empty()) append_kv(line, "detail", c.detail);
      append_kv(line, "where", t.where);
      line.push_back('}');
      emit(io, line);
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
  return diverged > 0 || problems > 0 ? cli::kExitProblems : cli::kExitOk;
}

// Event logs name no durable calls: what they give is which actions ran on which events, so
// the report says per action execution what replay would do with its recorded state.
int run_event_logs(const ReplayOptions& o, LogStore& store, const cli::OutputOptions& output,
                   cli::Io& io) {
  std::vector<std::string> problems;
  auto executions = derive_executions(o.event_logs, &problems);
  if (!executions) return cli::report_error(io, executions.error());
  for (const auto& p : problems) cli::warning(io, p);
  LoggedChecker checker(store);
  const auto format = cli::resolve_format(output, io);
  const bool color = cli::resolve_color(output, io);
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
    line = "{";
    append_kv(line, "action", e.action);
    append_kv(line, "triggerEventId", e.trigger_id);
    if (e.trigger_type) append_kv(line, "triggerType", *e.trigger_type);
    if (e.event_uuid) append_kv(line, "eventUuid", *e.event_uuid);
    if (!key.empty()) append_kv(line, "key", key);
    append_kv(line, "status", logged_status_name(c.status));
    if (c.entry) {
      append_kn(line, "seq", c.entry->key.seq);
      append_kv(line, "stateKey", c.entry->key.to_string());
      append_kn(line, "partition", c.entry->position.partition);
      append_kn(line, "offset", c.entry->position.offset);
      if (c.by_event_only) line.append(",\"matchedByEventOnly\":true");
    }
    append_kn(line, "calls", static_cast<std::int64_t>(c.calls));
    append_kn(line, "pending", static_cast<std::int64_t>(c.pending));
    append_kn(line, "outputs", static_cast<std::int64_t>(c.outputs));
    append_kn(line, "eventsSent", static_cast<std::int64_t>(e.events_sent));
    append_kv(line, "where", e.where);
    line.push_back('}');
    emit(io, line);
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

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "replay-sim"};
  app.description(kDescription);
  app.set_version_flag("--version", "");
  app.footer(kFooter);
  app.require_subcommand(1);
  cli::OutputOptions output;

  SimulateOptions so;
  auto* sim = app.add_subcommand("simulate",
                                 "Run a seeded agent workload with crashes and check exactly-once");
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
  kafka::add_options(*sim, so.kafka);
  sim->add_flag("--append", so.append, "Allow a store that already holds records");
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
  cli::add_output_options(*sim, output);

  ReplayOptions ro;
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
  cli::add_output_options(*rep, output);

  if (const int rc = cli::parse(app, argc, argv, io); rc >= 0) return rc;
  io.quiet = output.quiet;
  return cli::guarded(io, [&]() -> int {
    if (sim->parsed()) {
      if (const int rc = kafka::handle_list(so.kafka, io); rc >= 0) return rc;
      return run_simulate(so, output, io);
    }
    if (const int rc = kafka::handle_list(ro.source.kafka, io); rc >= 0) return rc;
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
    return run_replay(ro, output, io);
  });
}

}  // namespace aftk::tools::replay_sim
