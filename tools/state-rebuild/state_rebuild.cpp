// SPDX-License-Identifier: Apache-2.0
// state-rebuild: options, the rebuild, the listing and the export.
#include "state_rebuild.h"

#include <sys/stat.h>

#include <cstdio>

#include <fmt/format.h>

#include "aftk/actionstate/file_store.h"
#include "aftk/actionstate/inspect.h"
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

Markers are JSON files: the legacy map {"0":5,"1":3} of 0.3.x, the versioned marker
{"schemaVersion":1,"topic":...,"topicId":...,"offsets":{...}}, or an array of them. Several
markers merge as recovery merges them: the minimum offset per partition. Each partition is read
from its marker offset up to the end offset captured before reading.)";

struct Options {
  cli::StoreSource source;
  cli::OutputOptions output;
  std::vector<std::string> markers;
  bool from_beginning = false;
  std::string out;
  bool force = false;
  bool summary_only = false;
  bool lenient = false;
};

std::string offsets_json(const actionstate::OffsetMap& m) {
  return actionstate::to_json(actionstate::RecoveryMarker::legacy(m));
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-rebuild"};
  Options o;
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("-m,--marker", o.markers, "Recovery marker file; repeatable (merged by minimum)")
      ->allow_extra_args(false);
  app.add_flag("--from-beginning", o.from_beginning, "Read every partition from its first offset");
  app.add_option("--out", o.out, "Write the rebuilt live states to this new topic-dump file");
  app.add_flag("--force", o.force, "With --out, replace an existing file");
  app.add_flag("--summary", o.summary_only, "Print only the counts and offsets");
  app.add_flag("--lenient", o.lenient, "Validate values leniently (see state-inspect --lenient)");
  cli::add_output_options(app, o.output);
  app.footer("Exit status: 0 rebuilt; 1 the store or a marker cannot be read, or markers conflict;\n"
             "2 usage error; 3 rebuilt, with problem records. See state-rebuild(1).");
  if (const int rc = cli::parse(app, argc, argv, io); rc >= 0) return rc;
  if (const int rc = cli::handle_store_args(o.source, io); rc >= 0) return rc;
  io.quiet = o.output.quiet;
  if (o.markers.empty() == !o.from_beginning) {
    cli::error(io, "give recovery markers (-m) or --from-beginning, not both and not neither");
    return cli::kExitUsage;
  }
  return cli::guarded(io, [&]() -> int {
    using namespace actionstate;
    std::vector<RecoveryMarker> markers;
    for (const auto& path : o.markers) {
      auto m = read_marker_file(path);
      if (!m) return cli::report_error(io, m.error());
      markers.insert(markers.end(), m->begin(), m->end());
    }
    if (!o.out.empty() && !o.force) {
      struct stat st {};
      if (::stat(o.out.c_str(), &st) == 0) {
        cli::error(io, fmt::format("'{}' exists; give --force to replace it", o.out));
        return cli::kExitFailure;
      }
    }
    auto store = cli::open_store(o.source, true);
    if (!store) return cli::report_error(io, store.error());
    const cli::CacheLeftAtExit left(io, store->get());
    auto& s = **store;
    RebuildOptions ro;
    ro.decode.mode = o.lenient ? ReadMode::kLenient : ReadMode::kStrict;
    cli::Progress progress(io, "rebuilding");
    ro.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
    auto report = markers.empty() ? s.load_all(ro) : s.rebuild(markers, ro);
    progress.finish();
    if (!report) return cli::report_error(io, report.error());

    if (!o.out.empty()) {
      const std::string tmp = o.out + ".tmp";
      std::FILE* f = std::fopen(tmp.c_str(), "wb");
      if (!f) {
        cli::error(io, fmt::format("cannot write '{}'", tmp));
        return cli::kExitFailure;
      }
      std::string line;
      bool ok = true;
      // Live states only, at their original partitions and offsets: a compacted copy.
      std::vector<const StateCache::Entry*> entries;
      s.cache().for_each([&](const StateCache::Entry& e) { entries.push_back(&e); });
      std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) {
        return std::pair(a->position.partition, a->position.offset) < std::pair(b->position.partition, b->position.offset);
      });
      for (const auto* e : entries) {
        line.clear();
        const std::string key = e->key.to_string();
        append_dump_line(line, TopicRecord{e->position.partition, e->position.offset, -1, key, e->value});
        ok = ok && std::fwrite(line.data(), 1, line.size(), f) == line.size();
      }
      ok = std::fclose(f) == 0 && ok;
      if (!ok || std::rename(tmp.c_str(), o.out.c_str()) != 0) {
        std::remove(tmp.c_str());
        cli::error(io, fmt::format("cannot write '{}'", o.out));
        return cli::kExitFailure;
      }
      cli::note(io, fmt::format("wrote {} live states to '{}'", entries.size(), o.out));
    }

    if (o.summary_only) {
      fmt::print(io.out, "{{\"from\":{},\"to\":{},\"records\":{},\"tombstones\":{},\"bytes\":{},\"live\":{},\"problems\":{}}}\n",
                 offsets_json(report->from), offsets_json(report->to), report->records,
                 report->tombstones, report->bytes, report->live, report->problems.size());
    } else if (o.out.empty()) {
      InspectOptions io_opts;
      io_opts.decode = ro.decode;
      cli::StateListing listing(io, {cli::resolve_format(o.output, io), cli::resolve_color(o.output, io),
                                     false, true});
      inspect_cache(s.cache(), io_opts, [&](const InspectedState& st) { listing.add(st); });
      listing.finish();
    }
    for (const auto& p : report->problems) cli::warning(io, fmt::format("{}: {}", p.error.where, p.error.message));
    std::int64_t span = 0;
    for (const auto& [p, f] : report->from)
      if (auto t = report->to.find(p); t != report->to.end() && t->second > f) span += t->second - f;
    cli::note(io, fmt::format("read {} records ({} tombstones) of {} offsets in {} partitions: {} live states, {} problems",
                              report->records, report->tombstones, span, report->from.size(),
                              report->live, report->problems.size()));
    return report->problems.empty() ? cli::kExitOk : cli::kExitProblems;
  });
}

}  // namespace aftk::tools::state_rebuild
