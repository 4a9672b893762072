// SPDX-License-Identifier: Apache-2.0
// state-inspect --pending, --stats and --check: one scan, then a table or JSON.
#include "health_report.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aftk/cli/state_show.h"
#include "aftk/json/writer.h"
#include "aftk/kafka/store.h"

namespace aftk::tools::state_inspect {

namespace {

using namespace actionstate;

std::string shown_key(const StateKey& k) {
  return k.format == KeyFormat::kV03 ? k.business_key : "#" + k.business_key_id;
}

void print_line(const cli::Io& io, std::string& line, cli::Format format) {
  if (format == cli::Format::kPrettyJson) line = json::pretty(line);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), io.out);
}

void key_fields(json::Writer& w, const StateCache::Entry& e) {
  const StateKey& k = e.key;
  w.field("partition", e.position.partition)
      .field("offset", e.position.offset)
      .field("timestamp", e.position.timestamp)
      .field("key", k.to_string())
      .field("format", key_format_name(k.format));
  if (k.format == KeyFormat::kV03)
    w.field("businessKey", k.business_key);
  else
    w.key("businessKey").null().field("businessKeyId", k.business_key_id);
  if (k.format == KeyFormat::kV04) w.field("keyGroup", k.key_group);
  w.field("seq", k.seq).field("actionUUID", k.action_uuid);
}

void warn_problems(const cli::StoreSource& source, const RebuildReport& report,
                   const cli::Io& io) {
  for (const Problem* p : cli::ordered_problems(report))
    cli::warning(io, cli::problem_text(source, *p));
}

// -- --pending ------------------------------------------------------------------------------

int report_pending(const HealthRequest& rq, const cli::StoreSource& source,
                   const RebuildReport& loaded, const PendingReport& r, const cli::Io& io) {
  cli::Table table;
  if (rq.format == cli::Format::kTable) {
    for (const char* h :
         {"AGE", "VERDICT", "BUSINESS KEY", "SEQ", "ACTION", "SLOTS", "KIND", "FUNCTION"})
      table.add_column(h, std::string_view(h) == "SEQ" || std::string_view(h) == "AGE"
                              ? cli::Table::Align::kRight
                              : cli::Table::Align::kLeft);
    table.add_column("P", cli::Table::Align::kRight);
    table.add_column("OFFSET", cli::Table::Align::kRight);
  }
  std::string line;
  for (const PendingRun& run : r.runs) {
    const StateCache::Entry& e = *run.entry;
    if (rq.format == cli::Format::kTable) {
      const size_t last = run.first_slot + run.slots.size() - 1;
      std::string slots = run.slots.size() == 1 ? std::to_string(run.first_slot)
                                                : fmt::format("{}-{}", run.first_slot, last);
      slots += fmt::format(" of {}", run.call_results);
      std::set<std::string> functions;
      std::vector<std::string> kinds;  // in slot order, each once
      for (size_t i = 0; i < run.slots.size(); ++i) {
        functions.insert(run.slots[i].function_id.value_or("(null)"));
        std::string kind =
            cli::call_kind_text(classify_function_id(run.slots[i].function_id), run.owners[i]);
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
          kinds.push_back(std::move(kind));
      }
      table.add_row({format_age(run.age_ms), std::string(pending_verdict_name(run.verdict)),
                     shown_key(e.key), std::to_string(e.key.seq),
                     rq.wide ? e.key.action_uuid : e.key.action_uuid.substr(0, 8), slots,
                     fmt::format("{}", fmt::join(kinds, ",")),
                     fmt::format("{}", fmt::join(functions, ",")),
                     std::to_string(e.position.partition), std::to_string(e.position.offset)});
      continue;
    }
    line.clear();
    json::Writer w(line);
    w.begin_object();
    key_fields(w, e);
    w.field("ageMs", run.age_ms)
        .field("verdict", pending_verdict_name(run.verdict))
        .field("completed", run.completed)
        .field("callResults", run.call_results)
        .field("batch", run.slots.size() > 1)
        .key("slots")
        .begin_array();
    for (size_t i = 0; i < run.slots.size(); ++i) {
      w.begin_object()
          .field("index", run.first_slot + i)
          .field("functionId", run.slots[i].function_id)
          .field("argsDigest", run.slots[i].args_digest);
      cli::write_call_kind(w, classify_function_id(run.slots[i].function_id), run.owners[i]);
      w.end_object();
    }
    w.end_array().end_object();
    print_line(io, line, rq.format);
  }
  if (rq.format == cli::Format::kTable && table.rows() > 0) table.print(io.out, rq.color);
  warn_problems(source, loaded, io);
  for (const auto& p : r.undecodable) cli::warning(io, cli::problem_text(source, p));
  cli::note(io, fmt::format("{} PENDING call(s) in {} run(s): {} stuck (older than {}), {} in "
                            "flight, {} never started, {} of unknown age",
                            r.calls, r.runs.size(), r.stuck, format_age(rq.pending.older_than_ms),
                            r.in_flight, r.never_started, r.unknown_age));
  const bool problems = loaded.has_problems() || !r.undecodable.empty();
  return r.stuck > 0 || problems ? cli::kExitProblems : cli::kExitOk;
}

// -- --stats --------------------------------------------------------------------------------

void counts_json(json::Writer& w, const ByteCounts& c) {
  w.field("records", c.records)
      .field("tombstones", c.tombstones)
      .field("liveStates", c.live_states)
      .field("bytes", c.bytes)
      .field("liveBytes", c.live_bytes)
      .field("supersededBytes", c.superseded_bytes)
      .field("tombstoneBytes", c.tombstone_bytes)
      .field("dirtyRatio", c.dirty_ratio());
}

template <class Map>
void histogram_json(json::Writer& w, std::string_view name, const Map& m) {
  w.key(name).begin_object();
  for (const auto& [k, v] : m) w.field(std::to_string(k), v);
  w.end_object();
}

template <class Map>
std::string histogram_text(const Map& m) {
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format("{}{}:{}", s.empty() ? "" : " ", k, v);
  return s.empty() ? "-" : s;
}

std::string ratio_text(double r) { return fmt::format("{:.1f}%", r * 100.0); }

int report_stats(const HealthRequest& rq, const cli::StoreSource& source, const HealthScan& scan,
                 const std::optional<std::string>& policy, const cli::Io& io) {
  const StoreStats& st = scan.stats;
  if (rq.format != cli::Format::kTable) {
    std::string line;
    json::Writer w(line);
    w.begin_object();
    counts_json(w, st.total);
    w.field("businessKeys", st.business_keys).key("partitions").begin_array();
    for (const auto& [p, c] : st.partitions) {
      w.begin_object().field("partition", p);
      counts_json(w, c);
      w.end_object();
    }
    w.end_array();
    histogram_json(w, "statesPerSeq", st.states_per_seq);
    histogram_json(w, "seqsPerKey", st.seqs_per_key);
    w.key("keyFormats")
        .begin_object()
        .field("0.3", st.records_v03)
        .field("0.4", st.records_v04)
        .field("unparsable", st.records_bad_key)
        .end_object();
    histogram_json(w, "keysPerKeyGroup", st.keys_per_key_group);
    w.field("pendingCalls", st.pending_calls)
        .field("statesWithPending", st.states_with_pending)
        .field("undecodable", st.undecodable);
    if (policy) w.field("cleanupPolicy", *policy);
    w.field("problems", scan.report.problems.size() + scan.report.unreadable.size());
    w.end_object();
    print_line(io, line, rq.format);
  } else {
    const ByteCounts& t = st.total;
    cli::Table summary;
    summary.add_column("STORE");
    summary.add_column("VALUE");
    const auto row = [&](std::string what, std::string value) {
      summary.add_row({std::move(what), std::move(value)});
    };
    row("records", fmt::format("{} ({} tombstones)", t.records, t.tombstones));
    row("live states", fmt::format("{} of {} business keys", t.live_states, st.business_keys));
    row("bytes", fmt::format("{} live, {} superseded, {} in tombstones, {} in all", t.live_bytes,
                             t.superseded_bytes, t.tombstone_bytes, t.bytes));
    row("dirty ratio", ratio_text(t.dirty_ratio()) + " (superseded / all bytes)");
    row("key formats", fmt::format("0.3: {}, 0.4: {}, unparsable: {} records", st.records_v03,
                                   st.records_v04, st.records_bad_key));
    row("states per seq", histogram_text(st.states_per_seq));
    row("seqs per key", histogram_text(st.seqs_per_key));
    if (!st.keys_per_key_group.empty())
      row("keys per key group", histogram_text(st.keys_per_key_group));
    row("PENDING calls", fmt::format("{} in {} states", st.pending_calls, st.states_with_pending));
    if (st.undecodable > 0) row("undecodable", std::to_string(st.undecodable));
    if (policy) row("cleanup.policy", *policy);
    summary.print(io.out, rq.color);
    std::fputc('\n', io.out);
    cli::Table parts;
    parts.add_column("P", cli::Table::Align::kRight);
    for (const char* h : {"RECORDS", "TOMBSTONES", "LIVE", "BYTES", "LIVE BYTES", "SUPERSEDED",
                          "DIRTY"})
      parts.add_column(h, cli::Table::Align::kRight);
    for (const auto& [p, c] : st.partitions)
      parts.add_row({std::to_string(p), std::to_string(c.records), std::to_string(c.tombstones),
                     std::to_string(c.live_states), std::to_string(c.bytes),
                     std::to_string(c.live_bytes), std::to_string(c.superseded_bytes),
                     ratio_text(c.dirty_ratio())});
    parts.print(io.out, rq.color);
  }
  warn_problems(source, scan.report, io);
  return scan.report.has_problems() ? cli::kExitProblems : cli::kExitOk;
}

// -- --check --------------------------------------------------------------------------------

int report_check(const HealthRequest& rq, const cli::StoreSource& source,
                 const std::vector<Finding>& findings, const cli::Io& io) {
  cli::Table table;
  if (rq.format == cli::Format::kTable)
    for (const char* h : {"FINDING", "UPSTREAM", "WHERE", "MESSAGE"}) table.add_column(h);
  std::string line;
  for (const Finding& f : findings) {
    if (rq.format == cli::Format::kTable) {
      table.add_row({f.code, f.upstream.empty() ? "-" : f.upstream,
                     f.where ? fmt::format("{}/{}", f.where->partition, f.where->offset) : "-",
                     f.message});
      continue;
    }
    line.clear();
    json::Writer w(line);
    w.begin_object().field("finding", f.code);
    if (f.upstream.empty())
      w.key("upstream").null();
    else
      w.field("upstream", f.upstream);
    if (f.where)
      w.field("partition", f.where->partition).field("offset", f.where->offset);
    w.field("message", f.message).end_object();
    print_line(io, line, rq.format);
  }
  if (rq.format == cli::Format::kTable && table.rows() > 0) table.print(io.out, rq.color);
  cli::note(io, findings.empty() ? fmt::format("{}: no findings", source.describe())
                                 : fmt::format("{}: {} finding(s)", source.describe(),
                                               findings.size()));
  return findings.empty() ? cli::kExitOk : cli::kExitProblems;
}

}  // namespace

int run_health(const HealthRequest& rq, const cli::StoreSource& source, const cli::Io& io) {
  using Mode = HealthRequest::Mode;
  auto opened = cli::open_store(source, true);
  if (!opened) return cli::report_error(io, opened.error());
  LogStore& store = **opened;
  const cli::CacheLeftAtExit left(io, &store);
  cli::Progress progress(io, "reading");
  RebuildOptions ro;
  ro.validate = rq.mode == Mode::kCheck;  // --check wants every record strictly valid
  ro.decode = rq.decode;
  // --check asks whether upstream's reader takes every record: never leniently.
  if (rq.mode == Mode::kCheck) ro.decode.mode = ReadMode::kStrict;
  ro.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
  if (rq.mode == Mode::kPending) {
    auto loaded = store.load_all(ro);
    progress.finish();
    if (!loaded) return cli::report_error(io, loaded.error());
    return report_pending(rq, source, *loaded, find_pending(store.cache(), rq.pending), io);
  }
  StateCache cache;
  // Left to the operating system at exit, as CacheLeftAtExit does for the store's own cache.
  struct LeftAtExit {
    const cli::Io& io;
    StateCache& cache;
    ~LeftAtExit() {
      if (io.exits_after) cache.abandon();
    }
  } cache_left{io, cache};
  auto scan = scan_health(store, cache, ro);
  progress.finish();
  if (!scan) return cli::report_error(io, scan.error());
  std::optional<std::string> policy;
  if (const auto* k = dynamic_cast<const kafka::KafkaActionStateStore*>(&store);
      k != nullptr && !k->cleanup_policy().empty())
    policy = k->cleanup_policy();
  if (rq.mode == Mode::kStats) return report_stats(rq, source, *scan, policy, io);
  CheckOptions co;
  co.cleanup_policy = policy;
  co.partitions = store.num_partitions();
  if (source.is_kafka()) co.expected_partitions = rq.expected_partitions;
  return report_check(rq, source, check_store(*scan, cache, co), io);
}

}  // namespace aftk::tools::state_inspect
