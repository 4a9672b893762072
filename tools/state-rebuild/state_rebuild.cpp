// SPDX-License-Identifier: Apache-2.0
// state-rebuild: options -> configure -> build_config -> run (the rebuild and the export) ->
// report (the listing or the summary, the problems).
#include "state_rebuild.h"

#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "aftk/actionstate/file_store.h"
#include "aftk/actionstate/inspect.h"
#include "aftk/actionstate/snapshot.h"
#include "aftk/checkpoint/checkpoint.h"
#include "aftk/cli/state_listing.h"
#include "aftk/cli/store_source.h"
#include "aftk/json/writer.h"

namespace aftk::tools::state_rebuild {

namespace {

constexpr const char* kDescription = R"(Rebuild the action state a Flink Agents job would restore from its recovery markers.

Examples:
  state-rebuild -m marker.json state.jsonl            the states a restore from that checkpoint sees
  state-rebuild -m sub0.json -m sub1.json --summary s.jsonl   markers of two subtasks, merged
  state-rebuild --from-beginning --out compact.jsonl s.jsonl  a compacted copy: live states only
  state-rebuild --checkpoint ckpts/<job>/chk-42 s.jsonl     what a restore from chk-42 rebuilds
  state-rebuild --checkpoint savepoint-1a2b-3c4d --print-markers   the markers it holds, as JSON

Markers are JSON files: the legacy map {"0":5,"1":3} of 0.3.x, the versioned marker
{"schemaVersion":1,"topic":...,"topicId":...,"offsets":{...}}, or an array of them; or a Flink
checkpoint or savepoint directory (--checkpoint DIR, or -m DIR), whose markers are read from its
_metadata and state files with no JVM. Several markers merge as recovery merges them: the
minimum offset per partition. Each partition is read from its marker offset up to the end
offset captured before reading.)";

struct Options {
  cli::StoreSource source;
  cli::OutputOptions output;
  std::vector<std::string> markers;
  std::vector<std::string> checkpoints;
  checkpoint::OperatorSelector selector;
  bool print_markers = false;
  bool from_beginning = false;
  std::string out;
  bool force = false;
  bool summary_only = false;
  bool lenient = false;
};

void configure(CLI::App& app, Options& o) {
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("-m,--marker", o.markers,
                 "Recovery marker file or checkpoint directory; repeatable (merged by minimum)")
      ->allow_extra_args(false);
  app.add_option("--checkpoint", o.checkpoints,
                 "Flink checkpoint or savepoint directory to take the markers from; repeatable")
      ->allow_extra_args(false);
  auto* uid = app.add_option("--operator-uid", o.selector.uid,
                             "In checkpoints, the operator holding the markers, by its uid");
  app.add_option("--operator-uid-hash", o.selector.uid_hash,
                 "In checkpoints, that operator by its id (uid hash, 32 hex digits)")
      ->excludes(uid)
      ->check(CLI::Validator(
          [](const std::string& v) {
            const bool hex = v.size() == 32 && v.find_first_not_of("0123456789abcdefABCDEF") ==
                                                   std::string::npos;
            return hex ? std::string() : "'" + v + "' is not 32 hex digits";
          },
          "HEX32"));
  app.add_flag("--print-markers", o.print_markers,
               "Print the markers as one JSON array and stop (no store is read)");
  app.add_flag("--from-beginning", o.from_beginning, "Read every partition from its first offset");
  app.add_option("--out", o.out, "Write the rebuilt live states to this new topic-dump file");
  app.add_flag("--force", o.force, "With --out, replace an existing file");
  app.add_flag("--summary", o.summary_only, "Print only the counts and offsets");
  app.add_flag("--lenient", o.lenient, "Validate values leniently (see state-inspect --lenient)");
  cli::add_output_options(app, o.output);
  app.footer("Exit status: 0 rebuilt; 1 the store, a marker or a checkpoint cannot be read, or\n"
             "markers conflict; 2 usage error; 3 rebuilt, with problem records. See state-rebuild(1).");
}

// What the run needs, checked: the markers read, the output chosen.
struct Config {
  cli::StoreSource source;
  std::vector<actionstate::RecoveryMarker> markers;  // empty: from the beginning
  bool print_markers = false;
  actionstate::DecodeOptions decode;
  std::string out;
  bool summary_only = false;
  cli::Format format = cli::Format::kJsonl;
  bool color = false;
};

// Returns the exit code to stop with (a usage error, -X list, an unreadable marker, an --out
// that exists), or nullopt with `config` filled.
// The markers of a checkpoint or savepoint directory, in the order Flink stores them.
Result<std::vector<actionstate::RecoveryMarker>> checkpoint_markers(
    const std::string& dir, const checkpoint::OperatorSelector& selector, const cli::Io& io) {
  AFTK_TRY_ASSIGN(checkpoint::CheckpointMarkers found,
                  checkpoint::read_recovery_markers(dir, selector));
  if (found.elements.empty())
    return fail(Errc::kNotFound,
                fmt::format("'{}': the recoveryMarker state of operator {} is empty",
                            found.metadata_path, found.operator_id),
                found.metadata_path);
  cli::note(io, fmt::format("{} recovery markers from checkpoint {} in '{}' (operator {})",
                            found.elements.size(), found.checkpoint_id, dir, found.operator_id));
  return found.markers();
}

std::optional<int> build_config(const Options& o, const cli::Io& io, Config& config) {
  const bool has_markers = !o.markers.empty() || !o.checkpoints.empty();
  if (o.print_markers) {
    if (!has_markers || o.from_beginning) {
      cli::error(io, "--print-markers needs markers (-m or --checkpoint)");
      return cli::kExitUsage;
    }
    if (!o.source.file.empty() || !o.source.topic.empty()) {
      cli::error(io, "--print-markers reads no store; leave out FILE and -t");
      return cli::kExitUsage;
    }
  } else {
    if (auto rc = cli::handle_store_args(o.source, io)) return rc;
    if (has_markers == o.from_beginning) {
      cli::error(io,
                 "give recovery markers (-m, --checkpoint) or --from-beginning, not both and not "
                 "neither");
      return cli::kExitUsage;
    }
  }
  for (const auto& path : o.markers) {
    auto m = checkpoint::is_checkpoint(path) ? checkpoint_markers(path, o.selector, io)
                                             : actionstate::read_marker_file(path);
    if (!m) return cli::report_error(io, m.error());
    config.markers.insert(config.markers.end(), m->begin(), m->end());
  }
  for (const auto& dir : o.checkpoints) {
    if (!checkpoint::is_checkpoint(dir)) {
      cli::error(io, fmt::format("'{}' is not a checkpoint or savepoint directory (no _metadata)",
                                 dir));
      return cli::kExitFailure;
    }
    auto m = checkpoint_markers(dir, o.selector, io);
    if (!m) return cli::report_error(io, m.error());
    config.markers.insert(config.markers.end(), m->begin(), m->end());
  }
  config.print_markers = o.print_markers;
  if (!o.out.empty() && !o.force) {
    struct stat st {};
    if (::stat(o.out.c_str(), &st) == 0) {
      cli::error(io, fmt::format("'{}' exists; give --force to replace it", o.out));
      return cli::kExitFailure;
    }
  }
  config.source = o.source;
  config.decode.mode = o.lenient ? actionstate::ReadMode::kLenient : actionstate::ReadMode::kStrict;
  config.out = o.out;
  config.summary_only = o.summary_only;
  config.format = cli::resolve_format(o.output, io);
  config.color = cli::resolve_color(o.output, io);
  return std::nullopt;
}

struct Rebuilt {
  std::unique_ptr<actionstate::LogStore> store;  // its cache holds the live states
  actionstate::RebuildReport report;
  std::optional<std::uint64_t> exported;  // states written to --out
};

// Rebuilds from the markers (or the beginning) and writes the --out snapshot.
Result<Rebuilt> run(const Config& config, const cli::Io& io) {
  Rebuilt done;
  AFTK_TRY_ASSIGN(done.store, cli::open_store(config.source, true));
  actionstate::RebuildOptions ro;
  ro.decode = config.decode;
  cli::Progress progress(io, "rebuilding");
  ro.progress = [&](std::uint64_t n, std::uint64_t total) { progress.update(n, total); };
  auto& s = *done.store;
  AFTK_TRY_ASSIGN(done.report,
                  config.markers.empty() ? s.load_all(ro) : s.rebuild(config.markers, ro));
  progress.finish();
  if (!config.out.empty()) {
    AFTK_TRY_ASSIGN(done.exported, actionstate::export_snapshot(s.cache(), config.out));
  }
  return done;
}

std::string offsets_json(const actionstate::OffsetMap& m) {
  return actionstate::to_json(actionstate::RecoveryMarker::legacy(m));
}

int report(const Config& config, const Rebuilt& done, const cli::Io& io) {
  using namespace actionstate;
  const RebuildReport& r = done.report;
  if (done.exported)
    cli::note(io, fmt::format("wrote {} live states to '{}'", *done.exported, config.out));
  if (config.summary_only) {
    std::string line;
    json::Writer(line)
        .begin_object()
        .raw_field("from", offsets_json(r.from))
        .raw_field("to", offsets_json(r.to))
        .field("records", r.records)
        .field("tombstones", r.tombstones)
        .field("bytes", r.bytes)
        .field("live", r.live)
        .field("problems", r.problems.size() + r.unreadable.size())
        .end_object();
    cli::write_json(io, config.format, line);
  } else if (config.out.empty()) {
    InspectOptions io_opts;
    io_opts.decode = config.decode;
    cli::StateListing listing(io, {config.format, config.color, false, true});
    inspect_cache(done.store->cache(), io_opts, [&](const InspectedState& st) { listing.add(st); });
    listing.finish();
  }
  const auto problems = cli::ordered_problems(r);
  for (const Problem* p : problems) cli::warning(io, cli::problem_text(config.source, *p));
  std::int64_t span = 0;
  for (const auto& [p, f] : r.from)
    if (auto t = r.to.find(p); t != r.to.end() && t->second > f) span += t->second - f;
  cli::note(io, fmt::format("read {} records ({} tombstones) of {} offsets in {} partitions: {} "
                            "live states, {} problems",
                            r.records, r.tombstones, span, r.from.size(), r.live,
                            problems.size()));
  return problems.empty() ? cli::kExitOk : cli::kExitProblems;
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-rebuild"};
  Options o;
  configure(app, o);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    Config config;
    if (auto rc = build_config(o, io, config)) return *rc;
    if (config.print_markers) {
      std::string line = "[";
      for (std::size_t i = 0; i < config.markers.size(); ++i)
        line += (i ? "," : "") + actionstate::to_json(config.markers[i]);
      line += "]\n";
      std::fwrite(line.data(), 1, line.size(), io.out);
      return cli::kExitOk;
    }
    auto done = run(config, io);
    if (!done) return cli::report_error(io, done.error());
    const cli::CacheLeftAtExit left(io, done->store.get());
    return report(config, *done, io);
  });
}

}  // namespace aftk::tools::state_rebuild
