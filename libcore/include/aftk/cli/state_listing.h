// SPDX-License-Identifier: Apache-2.0
// Printing live action states as a table or JSON Lines, the same in every command that lists them.
#pragma once

#include <string>

#include "aftk/actionstate/inspect.h"
#include "aftk/cli/tool.h"

namespace aftk::cli {

/// Adds the columns every table of states starts with: BUSINESS KEY, SEQ, EVENT, ACTION, P,
/// OFFSET.
void add_state_key_columns(Table& table);
/// The cells of those columns for a record (UUIDs cut to 8 characters unless `wide`).
std::vector<std::string> state_key_cells(const actionstate::StateKey& key,
                                         const actionstate::RecordPosition& position, bool wide);

class StateListing {
 public:
  struct Style {
    Format format = Format::kJsonl;
    bool color = false;
    bool wide = false;           // full UUIDs in the table
    bool include_state = true;   // the decoded "state" object in JSON
    bool decode = false;         // and beside it "decoded", payloads readable (state_show.h)
  };
  StateListing(const Io& io, Style style);

  /// Prints (JSON) or collects (table) one state.
  void add(const actionstate::InspectedState& state);
  /// Prints the table, if the format is a table.
  void finish();

 private:
  const Io& io_;
  Style style_;
  Table table_;
  std::string line_;
};

}  // namespace aftk::cli
