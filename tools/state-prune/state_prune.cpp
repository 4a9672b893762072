// SPDX-License-Identifier: Apache-2.0
// state-prune: the plan, the confirmation, and the writes.
#include "state_prune.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "aftk/actionstate/prune_plan.h"
#include "aftk/cli/store_source.h"
#include "aftk/json/writer.h"

namespace aftk::tools::state_prune {

namespace {

constexpr const char* kDescription = R"(Plan, and with --apply write, tombstones for action states a job no longer needs.

Examples:
  state-prune --completed state.jsonl                 show what can go: finished inputs, per key
  state-prune --cut user-42=17 state.jsonl            every state of user-42 up to seq 17
  state-prune --completed --apply --yes state.jsonl   write the tombstones, no question asked

Without --apply nothing is written: the plan is printed (a table on a terminal, JSON Lines
otherwise) and the exit status is 0. With --apply the plan is shown again, confirmed on a
terminal (or by --yes), and one tombstone per state is appended, with the state's exact key, to
the partition its record is in. Restoring a checkpoint or savepoint taken before the prune can
then re-run actions whose states were pruned: prune only up to the checkpoint you restore from.)";

struct Options {
  cli::StoreSource source;
  cli::OutputOptions output;
  std::vector<std::string> cuts;
  bool completed = false;
  bool apply = false;
  bool yes = false;
};

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-prune"};
  Options o;
  app.description(kDescription);
  app.set_version_flag("--version", "");
  cli::add_store_source(app, o.source);
  app.add_option("--cut", o.cuts, "KEY=SEQ: prune that business key's states up to SEQ; repeatable")
      ->allow_extra_args(false);
  app.add_flag("--completed", o.completed,
               "Per business key, prune finished inputs below its newest one");
  app.add_flag("--apply", o.apply, "Write the tombstones (default: only show the plan)");
  app.add_flag("-y,--yes", o.yes, "With --apply, do not ask for confirmation");
  cli::add_output_options(app, o.output);
  app.footer("Exit status: 0 planned (or applied); 1 the store cannot be read or written; 2 usage\n"
             "error; 3 confirmation needed but not given; 4 some tombstones written, some not.\n"
             "See state-prune(1).");
  if (const int rc = cli::parse(app, argc, argv, io); rc >= 0) return rc;
  if (const int rc = cli::handle_store_args(o.source, io); rc >= 0) return rc;
  io.quiet = o.output.quiet;
  actionstate::PruneRequest request;
  request.completed_prefix = o.completed;
  for (const auto& c : o.cuts) {
    const auto eq = c.rfind('=');
    std::int64_t seq = -1;
    if (eq == std::string::npos || eq == 0 || !actionstate::is_canonical_seq(std::string_view(c).substr(eq + 1), &seq)) {
      cli::error(io, fmt::format("--cut '{}': expected KEY=SEQ with a non-negative SEQ", c));
      return cli::kExitUsage;
    }
    request.cuts.push_back({c.substr(0, eq), seq});
  }
  if (request.cuts.empty() && !o.completed) {
    cli::error(io, "nothing to prune: give --cut KEY=SEQ or --completed");
    return cli::kExitUsage;
  }
  return cli::guarded(io, [&]() -> int {
    using namespace actionstate;
    auto store = cli::open_store(o.source, !o.apply);
    if (!store) return cli::report_error(io, store.error());
    const cli::CacheLeftAtExit left(io, store->get());
    auto& s = **store;
    auto loaded = s.load_all({});
    if (!loaded) return cli::report_error(io, loaded.error());
    for (const auto& p : loaded->problems) cli::warning(io, fmt::format("{}: {}", p.error.where, p.error.message));
    const auto plan = plan_prune(s.cache(), request);
    size_t total = 0;
    for (const auto& cut : plan) total += cut.entries.size();

    const auto format = cli::resolve_format(o.output, io);
    cli::Table table;
    std::string line;
    if (format == cli::Format::kTable)
      for (const char* h : {"BUSINESS KEY", "SEQ", "ACTION", "P", "OFFSET", "WHY"}) table.add_column(h);
    for (const auto& cut : plan) {
      for (const auto* e : cut.entries) {
        const std::string key = e->key.to_string();
        if (format == cli::Format::kTable) {
          table.add_row({e->key.format == KeyFormat::kV03 ? e->key.business_key : "#" + e->key.business_key_id,
                         std::to_string(e->key.seq), e->key.action_uuid.substr(0, 8),
                         std::to_string(e->position.partition), std::to_string(e->position.offset), cut.reason});
        } else {
          line = fmt::format("{{\"plan\":\"tombstone\",\"partition\":{},\"offset\":{},\"key\":",
                             e->position.partition, e->position.offset);
          json::append_string(line, key, json::Escape::kRawUnicode);
          fmt::format_to(std::back_inserter(line), ",\"seq\":{},\"reason\":", e->key.seq);
          json::append_string(line, cut.reason);
          line.append("}\n");
          std::fwrite(line.data(), 1, line.size(), io.out);
        }
      }
    }
    if (format == cli::Format::kTable) table.print(io.out, cli::resolve_color(o.output, io));
    cli::note(io, fmt::format("plan: {} tombstones for {} business key(s) in {} ({} live states)",
                              total, plan.size(), o.source.describe(), s.cache().size()));
    if (!o.apply || total == 0) {
      if (total > 0) cli::note(io, "nothing written; run again with --apply to write these tombstones");
      return cli::kExitOk;
    }
    if (!o.yes) {
      if (!io.err_tty || ::isatty(STDIN_FILENO) != 1) {
        cli::error(io, "--apply needs confirmation: give --yes when running without a terminal");
        return cli::kExitProblems;
      }
      fmt::print(io.err, "{}: write {} tombstones to {}? [y/N] ", io.tool, total, o.source.describe());
      std::fflush(io.err);
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") {
        cli::note(io, "nothing written");
        return cli::kExitProblems;
      }
    }
    cli::warning(io, "restoring a checkpoint taken before this prune can re-run the pruned actions");
    size_t written = 0;
    for (const auto& cut : plan) {
      if (cli::interrupted()) {
        cli::error(io, fmt::format("interrupted after {} of {} tombstones", written, total));
        return cli::kExitPartial;
      }
      auto r = s.prune(cut.identity, cut.seq, PruneOptions{true});
      if (r) written += r->tombstones_written;
      if (!r) {
        cli::error(io, fmt::format("{} after {} of {} tombstones (business key '{}' not finished)",
                                   r.error().to_string(), written, total, cut.identity));
        return written ? cli::kExitPartial : cli::kExitFailure;
      }
    }
    if (auto f = s.flush(); !f) {
      cli::error(io, f.error().to_string());
      return cli::kExitPartial;
    }
    cli::note(io, fmt::format("wrote {} tombstones", written));
    return cli::kExitOk;
  });
}

}  // namespace aftk::tools::state_prune
