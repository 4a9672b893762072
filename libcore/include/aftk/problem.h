// SPDX-License-Identifier: Apache-2.0
// Problem: a piece of input that is bad but did not stop the work, with where it sits.
#pragma once

#include <cstdint>
#include <string>

#include "aftk/result.h"

namespace aftk {

/// One bad record or line met on the way: counted, reported with its location, never dropped
/// silently. `error.where` is the location as a user reads it ("dump.jsonl:12 (partition 3
/// offset 7)", "partition 3 offset 7"); the fields beside it are the same location for
/// programs. Every reader of records (stores, rebuilds, listings) reports this one type.
struct Problem {
  Error error;                 // CORRUPT_RECORD mostly; the message says what is wrong
  std::int32_t partition = -1;  // -1 when the record's partition is unknown (an unreadable line)
  std::int64_t offset = -1;     // -1 when unknown
  std::uint64_t line = 0;       // 1-based line of a file input, 0 for a topic
  std::string key;              // the record key text when it could be read

  std::string to_string() const { return error.to_string(); }
};

}  // namespace aftk
