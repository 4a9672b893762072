// SPDX-License-Identifier: Apache-2.0
// state-inspect: options, the listing, and the report.
#include "state_inspect.h"

#include <fmt/format.h>

#include "aftk/actionstate/inspect.h"
#include "aftk/kafka/inspect.h"
#include "aftk/kafka/options.h"

namespace aftk::tools::state_inspect {

namespace {

constexpr const char* kDescription = R"(List the live action states of a Flink Agents action-state store.

Examples:
  state-inspect state.jsonl                    one row per live state (a table on a terminal)
  state-inspect --json state.jsonl | jq .      one JSON object per state, with the decoded state
  state-inspect --key user-42 --pending s.jsonl    states of one business key still waiting on a call
  state-inspect --lenient old-dump.jsonl       read records strict mode rejects, and say why
  state-inspect -b localhost:9092 -t action-state    read a Kafka topic instead of a dump

FILE is a topic dump (JSON Lines of {"partition","offset","timestamp","key","value"}), the
embedded default store; '-' reads standard input. The last value of each key wins and a null
value (a tombstone) deletes it, as Kafka compaction would leave it. With -t TOPIC the records
come from a Kafka topic instead, read to the end offsets taken at the start, without joining a
consumer group or committing offsets.)";

struct Options {
  std::string file;
  std::string topic;
  kafka::Options kafka;
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
  auto* file = app.add_option("FILE", o.file, "Topic-dump file, or '-' for standard input");
  auto* topic = app.add_option("-t,--topic", o.topic, "Read this Kafka topic instead of FILE")->group("Kafka");
  file->excludes(topic);
  kafka::add_options(app, o.kafka);
  app.add_option("-k,--key", o.keys, "Only this business key (0.4 keys: the business key id); repeatable");
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

std::string shorten(const std::string& uuid, bool wide) { return wide ? uuid : uuid.substr(0, 8); }

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-inspect"};
  Options o;
  configure(app, o);
  if (const int rc = cli::parse(app, argc, argv, io); rc >= 0) return rc;
  if (const int rc = kafka::handle_list(o.kafka, io); rc >= 0) return rc;
  if (o.file.empty() == o.topic.empty()) {
    cli::error(io, "give a dump FILE or a Kafka topic with -t");
    return cli::kExitUsage;
  }
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

    const auto format = cli::resolve_format(o.output, io);
    const bool color = cli::resolve_color(o.output, io);
    cli::Table table;
    if (format == cli::Format::kTable) {
      table.add_column("BUSINESS KEY");
      table.add_column("SEQ", cli::Table::Align::kRight);
      table.add_column("EVENT");
      table.add_column("ACTION");
      table.add_column("P", cli::Table::Align::kRight);
      table.add_column("OFFSET", cli::Table::Align::kRight);
      table.add_column("DONE");
      table.add_column("CALLS", cli::Table::Align::kRight);
      table.add_column("PENDING", cli::Table::Align::kRight);
    }
    std::string line;
    cli::Progress progress(io, "reading");
    const auto visit = [&](const InspectedState& s) {
          if (o.summary_only) return;
          if (format == cli::Format::kTable) {
            const auto& k = s.entry->key;
            const auto paint = [&](std::string text, const char* code) {
              return color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
            };
            std::string done, calls, pending;
            if (s.state) {
              done = s.state->completed ? paint("yes", "32") : "no";
              calls = std::to_string(s.state->call_results.size());
              const auto n = s.state->pending_calls();
              pending = n ? paint(std::to_string(n), "33") : "0";
            } else {
              done = paint("CORRUPT", "31");
            }
            table.add_row({k.format == KeyFormat::kV03 ? k.business_key : "#" + k.business_key_id,
                           std::to_string(k.seq), shorten(k.event_uuid, o.wide),
                           shorten(k.action_uuid, o.wide), std::to_string(s.entry->position.partition),
                           std::to_string(s.entry->position.offset), done, calls, pending});
          } else {
            line.clear();
            append_state_json(line, s, !o.no_state);
            if (format == cli::Format::kPrettyJson) {
              auto pretty = json::normalize(line);  // compact; pretty printing is jq's job
              fmt::print(io.out, "{}\n", pretty ? *pretty : line);
            } else {
              line.push_back('\n');
              std::fwrite(line.data(), 1, line.size(), io.out);
            }
          }
    };
    Result<InspectSummary> summary = InspectSummary{};
    if (!o.topic.empty()) {
      auto config = kafka::resolve(o.kafka);
      if (!config) return cli::report_error(io, config.error());
      cli::install_signal_handlers();
      summary = kafka::inspect_topic(
          *config, o.topic, opts, visit,
          [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total, "records"); },
          [] { return cli::interrupted(); });
    } else {
      summary = inspect_dump(o.file, opts, visit, [&](std::uint64_t bytes, std::uint64_t total) {
        progress.update(bytes, total, "bytes");
      });
    }
    progress.finish();
    if (!summary) return cli::report_error(io, summary.error());
    if (format == cli::Format::kTable && !o.summary_only) table.print(io.out, color);

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
