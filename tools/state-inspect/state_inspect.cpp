// SPDX-License-Identifier: Apache-2.0
// state-inspect: options, the listing, and the report.
#include "state_inspect.h"

#include <fmt/format.h>

#include "aftk/actionstate/inspect.h"
#include "aftk/cli/state_listing.h"
#include "aftk/cli/store_source.h"

namespace aftk::tools::state_inspect {

namespace {

constexpr const char* kDescription = R"(List the live action states of a Flink Agents action-state store.

Examples:
  state-inspect state.jsonl                    one row per live state (a table on a terminal)
  state-inspect --json state.jsonl | jq .      one JSON object per state, with the decoded state
  state-inspect --key user-42 --pending s.jsonl    states of one business key still waiting on a call
  state-inspect --lenient old-dump.jsonl       read records strict mode rejects, and say why
  state-inspect -b localhost:9092 -t agent-state   the live states of a Kafka topic

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
};

void configure(CLI::App& app, Options& o) {
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("-k,--key", o.keys, "Only this business key (0.4 keys: the business key id); repeatable")
      ->allow_extra_args(false);
  app.add_option("--seq", o.seq, "Only this sequence number")->check(CLI::NonNegativeNumber);
  app.add_flag("--pending", o.pending, "Only states with PENDING calls");
  app.add_flag("--incomplete", o.incomplete, "Only states not marked completed");
  app.add_flag("--lenient", o.lenient, "Read values the upstream reader rejects; report each deviation");
  app.add_flag("--v031", o.v031, "Decode as the 0.3.1 reader does (reject lineage fields)");
  app.add_flag("--no-state", o.no_state, "JSON output without the decoded \"state\" object");
  app.add_flag("-w,--wide", o.wide, "Table output with full UUIDs");
  app.add_flag("--summary", o.summary_only, "Print only the counts");
  cli::add_output_options(app, o.output);
  app.footer(R"(Exit status: 0 all states read; 1 the input cannot be read; 2 usage error;
3 problems found (corrupt records, unparsable keys or, with --lenient, deviations).
See state-inspect(1).)");
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-inspect"};
  Options o;
  configure(app, o);
  if (const int rc = cli::parse(app, argc, argv, io); rc >= 0) return rc;
  if (const int rc = cli::handle_store_args(o.source, io); rc >= 0) return rc;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    using namespace actionstate;
    InspectOptions opts;
    opts.decode.mode = o.lenient ? ReadMode::kLenient : ReadMode::kStrict;
    opts.decode.reject_lineage_fields = o.v031;
    opts.business_keys = o.keys;
    if (o.seq >= 0) opts.seq = o.seq;
    opts.only_pending = o.pending;
    opts.only_incomplete = o.incomplete;

    cli::StateListing listing(io, {cli::resolve_format(o.output, io), cli::resolve_color(o.output, io),
                                   o.wide, !o.no_state});
    cli::Progress progress(io, "reading");
    auto visit = [&](const InspectedState& s) {
      if (!o.summary_only) listing.add(s);
    };
    Result<InspectSummary> summary = InspectSummary{};
    if (o.source.is_kafka()) {
      auto store = cli::open_store(o.source, true);
      if (!store) return cli::report_error(io, store.error());
      const cli::CacheLeftAtExit left(io, store->get());
      RebuildOptions ro;
      ro.validate = false;  // decoded once, below
      ro.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
      auto loaded = (*store)->load_all(ro);
      progress.finish();
      if (!loaded) return cli::report_error(io, loaded.error());
      summary = inspect_cache((*store)->cache(), opts, visit);
      summary->records = loaded->records;
      summary->tombstones = loaded->tombstones;
      for (const auto& p : loaded->problems) summary->problems.push_back(p.error);
    } else {
      summary = inspect_dump(o.source.file, opts, visit, [&](std::uint64_t bytes, std::uint64_t total) {
        progress.update(bytes, total, "bytes");
      });
    }
    progress.finish();
    if (!summary) return cli::report_error(io, summary.error());
    if (!o.summary_only) listing.finish();

    // Problems go to stderr, each with its location, after the data.
    for (const auto& p : summary->problems) cli::warning(io, fmt::format("{}: {}", p.where, p.message));
    if (o.summary_only) {
      fmt::print(io.out,
                 "{{\"records\":{},\"tombstones\":{},\"live\":{},\"listed\":{},\"corrupt\":{},\"deviating\":{},\"problems\":{}}}\n",
                 summary->records, summary->tombstones, summary->live, summary->listed,
                 summary->corrupt, summary->deviating, summary->problems.size());
    }
    cli::note(io, fmt::format("{} records ({} tombstones), {} live states, {} listed, {} corrupt, {} other problems",
                              summary->records, summary->tombstones, summary->live, summary->listed,
                              summary->corrupt, summary->problems.size()));
    return summary->has_problems() ? cli::kExitProblems : cli::kExitOk;
  });
}

}  // namespace aftk::tools::state_inspect
