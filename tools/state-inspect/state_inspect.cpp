// SPDX-License-Identifier: Apache-2.0
// state-inspect: options -> configure -> build_config -> run (the listing) -> report (the
// problems and the counts).
#include "state_inspect.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "health_report.h"

#include "aftk/actionstate/inspect.h"
#include "aftk/cli/state_listing.h"
#include "aftk/cli/store_source.h"
#include "aftk/json/writer.h"
#include "views.h"

namespace aftk::tools::state_inspect {

namespace {

constexpr const char* kDescription = R"(List the live action states of a Flink Agents action-state store.

Examples:
  state-inspect state.jsonl                    one row per live state (a table on a terminal)
  state-inspect --json state.jsonl | jq .      one JSON object per state, with the decoded state
  state-inspect --lenient old-dump.jsonl       read records strict mode rejects, and say why
  state-inspect -b localhost:9092 -t agent-state   the live states of a Kafka topic
  state-inspect --pending --older-than 10m s.jsonl   every PENDING call, its age and verdict
  state-inspect --pending --key user-42 s.jsonl      the PENDING calls of one business key
  state-inspect --stats -t agent-state         sizes, superseded bytes, key formats, policy
  state-inspect --check -t agent-state --partitions 64   what would break an upgrade or restore
  state-inspect --json --decode s.jsonl         each row also "decoded": payloads readable
  state-inspect show user-42 s.jsonl           every live state of business key user-42, whole
  state-inspect show --partition 20 --offset 3 s.jsonl   the record at that position
  state-inspect show --raw -o json KEY s.jsonl  one state as JSON, payloads left as base64
  state-inspect --timeline --key user-42 s.jsonl   every version of user-42's states, in order

FILE is a topic dump (JSON Lines of {"partition","offset","timestamp","key","value"}), the
embedded default store; '-' reads standard input. -t TOPIC reads a Kafka topic instead, from each
partition's start to the end offsets captured first, without joining a group (-b, -X, -F as kcat). The last value of each key wins and a null
value (a tombstone) deletes it, as Kafka compaction would leave it.)";

struct Options {
  cli::StoreSource source;
  cli::OutputOptions output;
  std::vector<std::string> keys;
  std::int64_t seq = -1;
  bool pending = false;
  bool incomplete = false;
  bool lenient = false;
  bool v031 = false;
  bool no_state = false;
  bool wide = false;
  bool summary_only = false;
  bool stats = false;
  bool check = false;
  std::string older_than = "10m";
  std::string now;
  bool partitions_given = false;  // set after parsing
  bool decode = false;
  bool timeline = false;
  ShowOptions show;
  CLI::App* show_command = nullptr;
};

// The views of one state and of key histories (views.h).
void add_view_options(CLI::App& app, Options& o) {
  app.add_flag("--decode", o.decode,
               "JSON output: a \"decoded\" object beside \"state\", call-result payloads readable");
  app.add_flag("--timeline", o.timeline,
               "Every record of each business key (--key: only those), seq by seq, in order");
  o.show_command = add_show_command(app, o.show);
}

// Runs show or --timeline when asked for; nullopt otherwise.
std::optional<int> run_view(const Options& o, const cli::Io& io) {
  const bool show_asked = o.show_command->parsed();
  if (!show_asked && !o.timeline) return std::nullopt;
  cli::StoreSource source = o.source;
  ShowOptions show_options = o.show;
  // "show --partition P --offset O FILE": the one positional was the file, not a key.
  if (show_asked && show_options.partition >= 0 && source.file.empty() && !source.is_kafka()) {
    source.file = std::move(show_options.key);
    show_options.key.clear();
  }
  if (auto rc = cli::handle_store_args(source, io)) return rc;
  if (show_asked && o.timeline) {
    cli::error(io, "show and --timeline are separate views; give one");
    return cli::kExitUsage;
  }
  ViewConfig config;
  config.source = std::move(source);
  config.decode.mode = o.lenient ? actionstate::ReadMode::kLenient : actionstate::ReadMode::kStrict;
  config.decode.reject_lineage_fields = o.v031;
  if (o.v031) config.decode.profile = actionstate::Profile::kV031;
  config.format = cli::resolve_format(o.output, io);
  config.color = cli::resolve_color(o.output, io);
  config.wide = o.wide;
  if (show_asked) return show(show_options, config, io);
  return timeline(o.keys, config, io);
}

void configure(CLI::App& app, Options& o) {
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("-k,--key", o.keys, "Only this business key (0.4 keys: the business key id); repeatable")
      ->allow_extra_args(false);
  app.add_option("--seq", o.seq, "Only this sequence number")->check(cli::non_negative());
  auto* pending = app.add_flag(
      "--pending", o.pending,
      "List every PENDING call with its age and verdict (in flight, stuck, never started)");
  app.add_option("--older-than", o.older_than,
                 "With --pending: a call older than this (10m, 2h, 30s, 1d) is stuck")
      ->default_str("10m")
      ->needs(pending);
  app.add_option("--now", o.now, "With --pending: measure ages from this time (RFC 3339)")
      ->needs(pending);
  auto* stats = app.add_flag("--stats", o.stats,
                             "Store statistics: records, bytes live and superseded, per partition");
  auto* check = app.add_flag("--check", o.check,
                             "Check the store for what upstream fails on; exit 3 on a finding");
  pending->excludes(stats)->excludes(check);
  stats->excludes(check);
  app.add_flag("--incomplete", o.incomplete, "Only states not marked completed");
  app.add_flag("--lenient", o.lenient, "Read values the upstream reader rejects; report each deviation");
  app.add_flag("--v031", o.v031, "Decode as the 0.3.1 reader does (reject lineage fields)");
  app.add_flag("--no-state", o.no_state, "JSON output without the decoded \"state\" object");
  app.add_flag("-w,--wide", o.wide, "Table output with full UUIDs");
  app.add_flag("--summary", o.summary_only, "Print only the counts")
      ->excludes(pending)
      ->excludes(stats)
      ->excludes(check);
  add_view_options(app, o);
  cli::add_output_options(app, o.output);
  app.footer(R"(Exit status: 0 all states read; 1 the input cannot be read; 2 usage error;
3 problems found (corrupt records, unparsable keys or, with --lenient, deviations;
a stuck call with --pending; a finding with --check).
See state-inspect(1).)");
}

// What the run needs, checked.
struct Config {
  cli::StoreSource source;
  actionstate::InspectOptions inspect;
  bool summary_only = false;
  cli::StateListing::Style style;
  std::optional<HealthRequest> health;  // --pending, --stats or --check
};

// Returns the exit code of a usage error (or of -X list), or nullopt with `config` filled.
std::optional<int> build_config(const Options& o, const cli::Io& io, Config& config) {
  using namespace actionstate;
  if (auto rc = cli::handle_store_args(o.source, io)) return rc;
  config.source = o.source;
  InspectOptions& opts = config.inspect;
  opts.decode.mode = o.lenient ? ReadMode::kLenient : ReadMode::kStrict;
  opts.decode.reject_lineage_fields = o.v031;
  if (o.v031) opts.decode.profile = Profile::kV031;
  opts.business_keys = o.keys;
  if (o.seq >= 0) opts.seq = o.seq;
  opts.only_incomplete = o.incomplete;
  config.summary_only = o.summary_only;
  config.style = {cli::resolve_format(o.output, io), cli::resolve_color(o.output, io), o.wide,
                  !o.no_state, o.decode};
  if (!o.pending && !o.stats && !o.check) return std::nullopt;
  HealthRequest& h = config.health.emplace();
  h.mode = o.pending ? HealthRequest::Mode::kPending
           : o.stats ? HealthRequest::Mode::kStats
                     : HealthRequest::Mode::kCheck;
  h.decode = opts.decode;
  h.format = config.style.format;
  h.color = config.style.color;
  h.wide = o.wide;
  h.pending.business_keys = o.keys;
  h.pending.seq = opts.seq;
  if (o.partitions_given) h.expected_partitions = o.source.partitions;
  auto older = actionstate::parse_duration_ms(o.older_than);
  if (!older) {
    cli::error(io, "--older-than: " + older.error().message);
    return cli::kExitUsage;
  }
  h.pending.older_than_ms = *older;
  auto now = actionstate::resolve_now_ms(o.now);
  if (!now) {
    cli::error(io, "--now: " + now.error().message);
    return cli::kExitUsage;
  }
  h.pending.now_ms = *now;
  return std::nullopt;
}

// Reads the store and lists (or, for a table, collects) every matching state as it goes.
// `corrupt` gets one line for stderr per listed state whose value does not decode.
Result<actionstate::InspectSummary> run(const Config& config, const cli::Io& io,
                                        cli::StateListing& listing,
                                        std::vector<std::string>& corrupt) {
  using namespace actionstate;
  cli::Progress progress(io, "reading");
  auto visit = [&](const InspectedState& s) {
    if (!config.summary_only) listing.add(s);
    if (s.error && s.entry != nullptr)
      corrupt.push_back(fmt::format("{} partition {} offset {}: value does not decode: {}",
                                    config.source.describe(), s.entry->position.partition,
                                    s.entry->position.offset, s.error->message));
  };
  AFTK_TRY_ASSIGN(auto store, cli::open_store(config.source, true));
  const cli::CacheLeftAtExit left(io, store.get());
  RebuildOptions ro;
  ro.validate = false;  // decoded once, below
  ro.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
  auto loaded = store->load_all(ro);
  progress.finish();
  if (!loaded) return fail(loaded.error());
  InspectSummary summary = inspect_cache(store->cache(), config.inspect, visit);
  summary.records = loaded->records;
  summary.tombstones = loaded->tombstones;
  for (const Problem* p : cli::ordered_problems(*loaded)) summary.problems.push_back(*p);
  return summary;
}

int report(const Config& config, const actionstate::InspectSummary& summary,
           const std::vector<std::string>& corrupt, cli::StateListing& listing,
           const cli::Io& io) {
  if (!config.summary_only) listing.finish();
  // Problems go to stderr, each with its location, after the data.
  for (const auto& p : summary.problems) cli::warning(io, cli::problem_text(config.source, p));
  for (const auto& line : corrupt) cli::warning(io, line);
  if (config.summary_only) {
    std::string line;
    json::Writer(line)
        .begin_object()
        .field("records", summary.records)
        .field("tombstones", summary.tombstones)
        .field("live", summary.live)
        .field("listed", summary.listed)
        .field("corrupt", summary.corrupt)
        .field("deviating", summary.deviating)
        .field("problems", summary.problems.size())
        .end_object();
    cli::write_json(io, config.style.format, line);
  }
  cli::note(io, fmt::format("{} records ({} tombstones), {} live states, {} listed, {} corrupt, "
                            "{} other problems",
                            summary.records, summary.tombstones, summary.live, summary.listed,
                            summary.corrupt, summary.problems.size()));
  return summary.has_problems() ? cli::kExitProblems : cli::kExitOk;
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-inspect"};
  Options o;
  configure(app, o);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  o.partitions_given = app.count("--partitions") > 0;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    if (auto rc = run_view(o, io)) return *rc;
    Config config;
    if (auto rc = build_config(o, io, config)) return *rc;
    if (config.health) return run_health(*config.health, config.source, io);
    cli::StateListing listing(io, config.style);
    std::vector<std::string> corrupt;
    auto summary = run(config, io, listing, corrupt);
    if (!summary) return cli::report_error(io, summary.error());
    return report(config, *summary, corrupt, listing, io);
  });
}

}  // namespace aftk::tools::state_inspect
