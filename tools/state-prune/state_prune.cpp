// SPDX-License-Identifier: Apache-2.0
// state-prune: options -> configure -> build_config -> run (the plan) -> report (the plan
// printed) -> apply (the confirmation and the writes).
#include "state_prune.h"

#include "cleanup.h"

#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "aftk/actionstate/health.h"
#include "aftk/actionstate/prune_plan.h"
#include "aftk/cli/store_source.h"
#include "aftk/json/writer.h"

namespace aftk::tools::state_prune {

namespace {

constexpr const char* kDescription = R"(Plan, and with --apply write, tombstones for action states a job no longer needs.

Examples:
  state-prune --completed state.jsonl                 show what can go: finished inputs, per key
  state-prune --cut user-42=17 state.jsonl            every state of user-42 up to seq 17
  state-prune --keep-latest state.jsonl               per key, all but its newest input
  state-prune --before-seq 100 state.jsonl            per key, every input below seq 100
  state-prune --older-than 7d -t agent-state          per key, inputs written over a week ago
  state-prune --completed --apply --yes state.jsonl   write the tombstones, no question asked
  state-prune plan --checkpoint chk-42 --output plan.json     upstream's cleanup plan (no JVM)
  state-prune verify --plan plan.json -b kafka:9092           check it against the live topic
  state-prune apply --plan plan.json --control-topic T -b kafka:9092 --apply
                                                      commit it, delete the prefix, mark APPLIED

Without --apply nothing is written: the plan is printed (a table on a terminal, JSON Lines
otherwise) and the exit status is 0. With --apply the plan is shown again, confirmed on a
terminal (or by --yes), and one tombstone per state is appended, with the state's exact key, to
the partition its record is in. Restoring a checkpoint or savepoint taken before the prune can
then re-run actions whose states were pruned: prune only up to the checkpoint you restore from.

`state-prune plan|verify|apply --help` describe checkpoint-aligned cleanup (prefix deletion
through a control topic), upstream's answer to topic growth; a file named plan, verify or apply
is given as ./plan.)";

constexpr const char* kRestoreWarning =
    "restoring a checkpoint taken before this prune can re-run the pruned actions";

struct Options {
  cli::StoreSource source;
  cli::OutputOptions output;
  std::vector<std::string> cuts;
  bool completed = false;
  std::string older_than;
  std::int64_t before_seq = -1;
  bool keep_latest = false;
  std::string now;
  bool apply = false;
  bool yes = false;
};

void configure(CLI::App& app, Options& o) {
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("--cut", o.cuts, "KEY=SEQ: prune that business key's states up to SEQ; repeatable")
      ->allow_extra_args(false);
  app.add_flag("--completed", o.completed,
               "Per business key, prune finished inputs below its newest one");
  app.add_option("--older-than", o.older_than,
                 "DURATION: per business key, prune inputs whose records are all older (7d, 12h)");
  app.add_option("--before-seq", o.before_seq, "N: per business key, prune inputs below seq N")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--keep-latest", o.keep_latest,
               "Per business key, prune every input below its newest one, finished or not");
  app.add_option("--now", o.now, "With --older-than: measure ages from this time (RFC 3339)");
  app.add_flag("--apply", o.apply, "Write the tombstones (default: only show the plan)");
  app.add_flag("-y,--yes", o.yes, "With --apply, do not ask for confirmation");
  cli::add_output_options(app, o.output);
  app.footer("Exit status: 0 planned (or applied); 1 the store cannot be read or written; 2 usage\n"
             "error; 3 confirmation needed but not given; 4 some tombstones written, some not.\n"
             "See state-prune(1).");
}

struct Config {
  cli::StoreSource source;
  actionstate::PruneRequest request;
  bool apply = false;
  bool yes = false;
  cli::Format format = cli::Format::kJsonl;
  bool color = false;
};

// Returns the exit code of a usage error (or of -X list), or nullopt with `config` filled.
std::optional<int> build_config(const Options& o, const cli::Io& io, Config& config) {
  if (auto rc = cli::handle_store_args(o.source, io)) return rc;
  config.request.completed_prefix = o.completed;
  for (const auto& c : o.cuts) {
    const auto eq = c.rfind('=');
    std::int64_t seq = -1;
    if (eq == std::string::npos || eq == 0 ||
        !actionstate::is_canonical_seq(std::string_view(c).substr(eq + 1), &seq)) {
      cli::error(io, fmt::format("--cut '{}': expected KEY=SEQ with a non-negative SEQ", c));
      return cli::kExitUsage;
    }
    config.request.cuts.push_back({c.substr(0, eq), seq});
  }
  if (o.before_seq >= 0) config.request.before_seq = o.before_seq;
  config.request.keep_latest = o.keep_latest;
  if (!o.older_than.empty()) {
    auto age = actionstate::parse_duration_ms(o.older_than);
    if (!age) {
      cli::error(io, "--older-than: " + age.error().message);
      return cli::kExitUsage;
    }
    auto now = actionstate::resolve_now_ms(o.now);
    if (!now) {
      cli::error(io, "--now: " + now.error().message);
      return cli::kExitUsage;
    }
    config.request.written_before_ms = *now - *age;
  } else if (!o.now.empty()) {
    cli::error(io, "--now needs --older-than");
    return cli::kExitUsage;
  }
  const auto& rq = config.request;
  if (rq.cuts.empty() && !rq.completed_prefix && !rq.before_seq && !rq.keep_latest &&
      !rq.written_before_ms) {
    cli::error(io, "nothing to prune: give --cut KEY=SEQ, --completed, --older-than DURATION, "
                   "--before-seq N or --keep-latest");
    return cli::kExitUsage;
  }
  config.source = o.source;
  config.apply = o.apply;
  config.yes = o.yes;
  config.format = cli::resolve_format(o.output, io);
  config.color = cli::resolve_color(o.output, io);
  return std::nullopt;
}

struct Planned {
  std::unique_ptr<actionstate::LogStore> store;
  actionstate::RebuildReport loaded;
  std::vector<actionstate::PlannedCut> plan;
  size_t total = 0;          // tombstones in the plan
  std::uint64_t bytes = 0;   // key and value bytes of the states they delete
};

// Loads the store and plans the tombstones; writes nothing.
Result<Planned> run(const Config& config) {
  Planned p;
  AFTK_TRY_ASSIGN(p.store, cli::open_store(config.source, !config.apply));
  AFTK_TRY_ASSIGN(p.loaded, p.store->load_all({}));
  p.plan = actionstate::plan_prune(p.store->cache(), config.request);
  for (const auto& cut : p.plan) {
    p.total += cut.entries.size();
    p.bytes += cut.bytes;
  }
  return p;
}

// Prints the load's problems and the plan (a table or one JSON object per tombstone).
void report(const Config& config, const Planned& p, const cli::Io& io) {
  using namespace actionstate;
  for (const Problem* pr : cli::ordered_problems(p.loaded))
    cli::warning(io, cli::problem_text(config.source, *pr));
  cli::Table table;
  std::string line;
  if (config.format == cli::Format::kTable)
    for (const char* h : {"BUSINESS KEY", "SEQ", "ACTION", "P", "OFFSET", "BYTES", "WHY"})
      table.add_column(h);
  for (const auto& cut : p.plan) {
    for (const auto* e : cut.entries) {
      if (config.format == cli::Format::kTable) {
        table.add_row({e->key.format == KeyFormat::kV03 ? e->key.business_key
                                                        : "#" + e->key.business_key_id,
                       std::to_string(e->key.seq), e->key.action_uuid.substr(0, 8),
                       std::to_string(e->position.partition), std::to_string(e->position.offset),
                       std::to_string(e->key.to_string().size() + e->value.size()), cut.reason});
        continue;
      }
      line.clear();
      json::Writer(line)
          .begin_object()
          .field("plan", "tombstone")
          .field("partition", e->position.partition)
          .field("offset", e->position.offset)
          .field("key", e->key.to_string())
          .field("seq", e->key.seq)
          .field("bytes", e->key.to_string().size() + e->value.size())
          .field("reason", cut.reason)
          .end_object();
      cli::write_json(io, config.format, line);
    }
  }
  if (config.format == cli::Format::kTable) table.print(io.out, config.color);
  cli::note(io, fmt::format("plan: {} tombstones for {} business key(s) in {}, {} bytes of "
                            "live states reclaimed ({} live states)",
                            p.total, p.plan.size(), config.source.describe(), p.bytes,
                            p.store->cache().size()));
  if (p.total > 0) cli::warning(io, kRestoreWarning);
}

// With --apply: confirms (unless --yes) and writes the plan's tombstones.
int apply(const Config& config, Planned& p, const cli::Io& io) {
  if (!config.yes) {
    if (!io.err_tty || !io.in_tty) {
      cli::error(io, "--apply needs confirmation: give --yes when running without a terminal");
      return cli::kExitProblems;
    }
    if (!cli::confirm(io, fmt::format("write {} tombstones to {}?", p.total,
                                      config.source.describe()))) {
      cli::note(io, "nothing written");
      return cli::kExitProblems;
    }
  }
  cli::warning(io, kRestoreWarning);
  size_t written = 0;
  for (const auto& cut : p.plan) {
    if (cli::interrupted()) {
      // Before the first write nothing is partial: the signal is the whole story (exit 130).
      cli::error(io, fmt::format("interrupted after {} of {} tombstones", written, p.total));
      return written ? cli::kExitPartial : cli::kExitInterrupted;
    }
    auto r = p.store->prune(cut.identity, cut.seq, actionstate::PruneOptions{true});
    if (r) written += r->tombstones_written;
    if (!r) {
      cli::error(io, fmt::format("{} after {} of {} tombstones (business key '{}' not finished)",
                                 r.error().to_string(), written, p.total, cut.identity));
      return written ? cli::kExitPartial : cli::exit_code(r.error());
    }
  }
  if (auto f = p.store->flush(); !f) {
    cli::error(io, f.error().to_string());
    return cli::kExitPartial;
  }
  cli::note(io, fmt::format("wrote {} tombstones", written));
  return cli::kExitOk;
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  // The cleanup commands are picked by the first argument only, not as CLI11 subcommands:
  // those would also match a store file named "plan" anywhere among the positionals and
  // change what an existing `state-prune --completed plan` means.
  if (argc > 1 && is_cleanup_command(argv[1])) return cleanup_main(argc - 1, argv + 1, io);
  CLI::App app{"", "state-prune"};
  Options o;
  configure(app, o);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    Config config;
    if (auto rc = build_config(o, io, config)) return *rc;
    auto planned = run(config);
    if (!planned) return cli::report_error(io, planned.error());
    const cli::CacheLeftAtExit left(io, planned->store.get());
    report(config, *planned, io);
    // Bad input does not stop a plan (each tombstone names an exact key that was read), but
    // the run says it saw some.
    const int found = planned->loaded.has_problems() ? cli::kExitProblems : cli::kExitOk;
    if (!config.apply || planned->total == 0) {
      if (planned->total > 0)
        cli::note(io, "nothing written; run again with --apply to write these tombstones");
      return found;
    }
    const int rc = apply(config, *planned, io);
    return rc == cli::kExitOk ? found : rc;
  });
}

}  // namespace aftk::tools::state_prune
