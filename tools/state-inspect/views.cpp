// SPDX-License-Identifier: Apache-2.0
// state-inspect show and --timeline: find the records, decode them, print them.
#include "views.h"

#include <map>

#include <fmt/format.h>

#include "aftk/actionstate/history.h"
#include "aftk/cli/state_show.h"
#include "aftk/json/writer.h"

namespace aftk::tools::state_inspect {

using actionstate::HistoryRecord;

CLI::App* add_show_command(CLI::App& app, ShowOptions& o) {
  auto* show = app.add_subcommand("show", "Show one state whole: its events, memory updates and "
                                          "call results with decoded payloads");
  show->fallthrough();
  show->add_option("KEY", o.key, "A record key, or a business key (0.4: its id) for each of its "
                                 "live states");
  show->add_option("--partition", o.partition, "The record at this partition (with --offset)")
      ->check(CLI::NonNegativeNumber);
  show->add_option("--offset", o.offset, "The record at this offset (with --partition)")
      ->check(CLI::NonNegativeNumber);
  show->add_flag("--raw", o.raw, "Payloads as base64, not decoded");
  show->footer(R"(Examples:
  state-inspect show user-42 s.jsonl             each live state of business key user-42
  state-inspect show 'user-42_0_<event>_<action>' s.jsonl   the state of one record key
  state-inspect show --partition 20 --offset 3 --json s.jsonl   the record at a position
  state-inspect show --raw user-42 -t agent-state -b localhost:9092   payloads as base64

FILE, -t and the output options may come before or after 'show'. A key is looked up in the
partition upstream's partitioner maps it to only. See state-inspect(1), SHOW.)");
  return show;
}

namespace {

// Decodes the record's value, if it has one; counts those that do not decode.
cli::ShownRecord decode_record(const HistoryRecord& r, actionstate::Decoder& decoder,
                               std::uint64_t& corrupt) {
  cli::ShownRecord s;
  s.record = &r;
  if (!r.value) return s;
  auto st = decoder.decode(*r.value);
  if (st) {
    s.state = std::move(*st);
  } else {
    s.error = st.error();
    ++corrupt;
  }
  return s;
}

std::string partitions_read(const std::vector<std::int32_t>& partitions, std::int32_t total) {
  if (partitions.empty()) return fmt::format("all {} partitions", total);
  std::string list;
  for (const auto p : partitions) list += (list.empty() ? "" : ", ") + std::to_string(p);
  return fmt::format("partition{} {} of {}", partitions.size() == 1 ? "" : "s", list, total);
}

// The records `show` prints, found by position, record key or business key.
Result<std::vector<HistoryRecord>> find_shown(const ShowOptions& o, actionstate::LogStore& store,
                                              const cli::StoreSource& source) {
  using namespace actionstate;
  std::vector<HistoryRecord> out;
  if (o.partition >= 0) {
    AFTK_TRY_ASSIGN(auto r, find_at(store, o.partition, o.offset));
    if (!r)
      return fail(Errc::kNotFound, fmt::format("no record at partition {} offset {} in {}",
                                               o.partition, o.offset, source.describe()));
    out.push_back(std::move(*r));
    return out;
  }
  if (parse_key(o.key)) {
    AFTK_TRY_ASSIGN(auto r, find_latest(store, o.key));
    if (!r)
      return fail(Errc::kNotFound,
                  fmt::format("no record with key '{}' in {} (read {})", o.key, source.describe(),
                              partitions_read({*partition_for_key(o.key, store.num_partitions())},
                                              store.num_partitions())));
    out.push_back(std::move(*r));
    return out;
  }
  // A business key: its live states, the last record of each record key that is not deleted.
  AFTK_TRY_ASSIGN(History h, read_history(store, {o.key}));
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < h.records.size(); ++i) last[h.records[i].key] = i;
  for (size_t i = 0; i < h.records.size(); ++i) {
    if (last[h.records[i].key] == i && h.records[i].value) out.push_back(std::move(h.records[i]));
  }
  if (out.empty())
    return fail(Errc::kNotFound,
                fmt::format("no live state of business key '{}' in {} (read {})", o.key,
                            source.describe(),
                            partitions_read(h.partitions, store.num_partitions())));
  return out;
}

}  // namespace

int show(const ShowOptions& o, const ViewConfig& config, const cli::Io& io) {
  if ((o.partition >= 0) != (o.offset >= 0)) {
    cli::error(io, "show: --partition and --offset go together");
    return cli::kExitUsage;
  }
  if ((o.partition >= 0) == !o.key.empty()) {
    cli::error(io, "show: give a KEY, or --partition P --offset O, not both and not neither");
    return cli::kExitUsage;
  }
  auto store = cli::open_store(config.source, true);
  if (!store) return cli::report_error(io, store.error());
  const cli::CacheLeftAtExit left(io, store->get());
  auto found = find_shown(o, **store, config.source);
  if (!found) return cli::report_error(io, found.error());
  actionstate::Decoder decoder(config.decode);
  std::uint64_t corrupt = 0;
  std::string text;
  for (size_t i = 0; i < found->size(); ++i) {
    const cli::ShownRecord s = decode_record((*found)[i], decoder, corrupt);
    text.clear();
    if (config.format == cli::Format::kTable) {
      if (i) text.push_back('\n');
      text += cli::show_tree(s, o.raw, config.color);
    } else {
      cli::append_show_json(text, s, o.raw);
      if (config.format == cli::Format::kPrettyJson) text = json::pretty(text);
      text.push_back('\n');
    }
    std::fwrite(text.data(), 1, text.size(), io.out);
  }
  return corrupt ? cli::kExitProblems : cli::kExitOk;
}

int timeline(const std::vector<std::string>& keys, const ViewConfig& config, const cli::Io& io) {
  auto store = cli::open_store(config.source, true);
  if (!store) return cli::report_error(io, store.error());
  const cli::CacheLeftAtExit left(io, store->get());
  auto history = actionstate::read_history(**store, keys);
  if (!history) return cli::report_error(io, history.error());
  actionstate::Decoder decoder(config.decode);
  cli::TimelineListing listing(io, config.format, config.color, config.wide);
  std::uint64_t corrupt = 0;
  size_t identities = 0;
  for (size_t i = 0; i < history->records.size(); ++i) {
    const auto& r = history->records[i];
    if (i == 0 || r.state_key->identity() != history->records[i - 1].state_key->identity())
      ++identities;
    listing.add(decode_record(r, decoder, corrupt));
  }
  listing.finish();
  for (const auto& p : history->unreadable)
    cli::warning(io, cli::problem_text(config.source, p));
  if (history->unparsed > 0)
    cli::warning(io, fmt::format("{} records whose key does not parse are not in the timeline "
                                 "(state-inspect without --timeline names them)",
                                 history->unparsed));
  cli::note(io, fmt::format("{} records of {} business keys, {} corrupt; {} records read from {}",
                            history->records.size(), identities, corrupt, history->scanned,
                            partitions_read(history->partitions, (*store)->num_partitions())));
  const bool problems = corrupt || !history->unreadable.empty() || history->unparsed > 0;
  return problems ? cli::kExitProblems : cli::kExitOk;
}

}  // namespace aftk::tools::state_inspect
