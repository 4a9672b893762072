// SPDX-License-Identifier: Apache-2.0
// The shared listing of live action states.
#include "aftk/cli/state_listing.h"

#include <fmt/format.h>

#include "aftk/cli/state_show.h"
#include "aftk/json/normalize.h"

namespace aftk::cli {

void add_state_key_columns(Table& table) {
  table.add_column("BUSINESS KEY");
  table.add_column("SEQ", Table::Align::kRight);
  table.add_column("EVENT");
  table.add_column("ACTION");
  table.add_column("P", Table::Align::kRight);
  table.add_column("OFFSET", Table::Align::kRight);
}

std::vector<std::string> state_key_cells(const actionstate::StateKey& k,
                                         const actionstate::RecordPosition& position, bool wide) {
  const auto uuid = [&](const std::string& u) { return wide ? u : u.substr(0, 8); };
  return {k.format == actionstate::KeyFormat::kV03 ? k.business_key : "#" + k.business_key_id,
          std::to_string(k.seq), uuid(k.event_uuid), uuid(k.action_uuid),
          std::to_string(position.partition), std::to_string(position.offset)};
}

StateListing::StateListing(const Io& io, Style style) : io_(io), style_(style) {
  if (style_.format != Format::kTable) return;
  add_state_key_columns(table_);
  table_.add_column("DONE");
  table_.add_column("CALLS", Table::Align::kRight);
  table_.add_column("PENDING", Table::Align::kRight);
}

void StateListing::add(const actionstate::InspectedState& s) {
  using actionstate::KeyFormat;
  if (style_.format == Format::kTable) {
    const auto& k = s.entry->key;
    const auto paint = [&](std::string text, const char* code) {
      return style_.color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
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
    auto cells = state_key_cells(k, s.entry->position, style_.wide);
    cells.insert(cells.end(), {done, calls, pending});
    table_.add_row(std::move(cells));
    return;
  }
  line_.clear();
  actionstate::append_state_json(line_, s, style_.include_state);
  if (style_.decode && s.state) {
    line_.pop_back();  // the closing brace
    line_.append(",\"decoded\":");
    cli::append_decoded_state(line_, *s.state);
    line_.push_back('}');
  }
  write_json(io_, style_.format, line_);
}

void StateListing::finish() {
  if (style_.format == Format::kTable) table_.print(io_.out, style_.color);
}

}  // namespace aftk::cli
