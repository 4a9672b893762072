// SPDX-License-Identifier: Apache-2.0
// Reading single records and a business key's whole history from a store, every version and
// tombstone in record order, from only the partitions the upstream partitioner maps keys to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/key.h"
#include "aftk/actionstate/store.h"
#include "aftk/problem.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// One record as read, its key parsed when it parses.
struct HistoryRecord {
  RecordPosition position;
  std::uint64_t line = 0;             // 1-based line of a dump; 0 for a topic
  std::string key;                    // the record key text
  std::optional<StateKey> state_key;  // nullopt: the key does not parse
  std::optional<std::string> value;   // nullopt: a tombstone
};

/// The partitions upstream's partitioner sends records of business key `identity` to: that
/// of a 0.3 business key and, when `identity` has the shape of a 0.4 business key id (44
/// characters of base64), that of the id too. Sorted, without duplicates.
std::vector<std::int32_t> partitions_for_identity(std::string_view identity,
                                                  std::int32_t num_partitions);

struct History {
  /// By business key identity, then sequence number, then record order. Records whose key
  /// does not parse are left out.
  std::vector<HistoryRecord> records;
  std::vector<std::int32_t> partitions;  // partitions read; empty: all of them
  std::uint64_t scanned = 0;             // records read
  std::vector<Problem> unreadable;       // input that could not be read as a record
  std::uint64_t unparsed = 0;            // records left out because their key does not parse
};

/// Every record of the business keys `identities` (for 0.4 keys, the business key ids), read
/// from their partitions only; every record of the store when `identities` is empty.
/// Errors: the store's read errors.
Result<History> read_history(LogStore& store, const std::vector<std::string>& identities);

/// The last record with record key `key`, read from the partition the key maps to, or
/// nullopt. Errors: INVALID_ARGUMENT for a key upstream's partitioner rejects; read errors.
Result<std::optional<HistoryRecord>> find_latest(LogStore& store, std::string_view key);

/// The record at `offset` of `partition`, or nullopt. Errors: INVALID_ARGUMENT for a
/// partition outside the store; read errors.
Result<std::optional<HistoryRecord>> find_at(LogStore& store, std::int32_t partition,
                                             std::int64_t offset);

}  // namespace aftk::actionstate
