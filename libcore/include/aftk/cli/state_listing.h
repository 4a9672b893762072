// SPDX-License-Identifier: Apache-2.0
// Printing live action states as a table or JSON Lines, the same in every command that lists them.
#pragma once

#include <string>

#include "aftk/actionstate/inspect.h"
#include "aftk/cli/tool.h"

namespace aftk::cli {

class StateListing {
 public:
  struct Style {
    Format format = Format::kJsonl;
    bool color = false;
    bool wide = false;           // full UUIDs in the table
    bool include_state = true;   // the decoded "state" object in JSON
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
