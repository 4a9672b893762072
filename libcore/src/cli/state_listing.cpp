// SPDX-License-Identifier: Apache-2.0
// The shared listing of live action states.
#include "aftk/cli/state_listing.h"

#include <fmt/format.h>


namespace aftk::cli {

StateListing::StateListing(const Io& io, Style style) : io_(io), style_(style) {
  if (style_.format != Format::kTable) return;
  table_.add_column("BUSINESS KEY");
  table_.add_column("SEQ", Table::Align::kRight);
  table_.add_column("EVENT");
  table_.add_column("ACTION");
  table_.add_column("P", Table::Align::kRight);
  table_.add_column("OFFSET", Table::Align::kRight);
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
    const auto uuid = [&](const std::string& u) { return style_.wide ? u : u.substr(0, 8); };
    std::string done, calls, pending;
    if (s.state) {
      done = s.state->completed ? paint("yes", "32") : "no";
      calls = std::to_string(s.state->call_results.size());
      const auto n = s.state->pending_calls();
      pending = n ? paint(std::to_string(n), "33") : "0";
    } else {
      done = paint("CORRUPT", "31");
    }
    table_.add_row({k.format == KeyFormat::kV03 ? k.business_key : "#" + k.business_key_id,
                    std::to_string(k.seq), uuid(k.event_uuid), uuid(k.action_uuid),
                    std::to_string(s.entry->position.partition),
                    std::to_string(s.entry->position.offset), done, calls, pending});
    return;
  }
  line_.clear();
  actionstate::append_state_json(line_, s, style_.include_state);
  write_json(io_, style_.format, line_);
}

void StateListing::finish() {
  if (style_.format == Format::kTable) table_.print(io_.out, style_.color);
}

}  // namespace aftk::cli
