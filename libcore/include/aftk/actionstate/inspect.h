// SPDX-License-Identifier: Apache-2.0
// Listing the live states of a store or dump, decoded, with every problem found on the way.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aftk/actionstate/serde.h"
#include "aftk/actionstate/store.h"
#include "aftk/json/writer.h"

namespace aftk::actionstate {

struct InspectOptions {
  DecodeOptions decode;
  std::vector<std::string> business_keys;  // keep only these identities (empty: all)
  std::optional<std::int64_t> seq;         // keep only this sequence number
  bool only_pending = false;               // keep only states with PENDING calls
  bool only_incomplete = false;            // keep only states not completed
};

/// One live state as found: decoded, or the reason it did not decode.
struct InspectedState {
  const StateCache::Entry* entry = nullptr;
  std::optional<ActionState> state;   // set when the value decoded
  std::optional<Error> error;         // set when it did not
  std::vector<Deviation> deviations;  // lenient mode only
};

struct InspectSummary {
  std::uint64_t records = 0;
  std::uint64_t tombstones = 0;
  std::uint64_t live = 0;       // live states in the input
  std::uint64_t listed = 0;     // live states that passed the filters
  std::uint64_t corrupt = 0;    // listed states whose value does not decode
  std::uint64_t deviating = 0;  // listed states read with deviations (lenient mode)
  /// Unreadable input and records whose key does not parse, with their location (states whose
  /// value does not decode are listed, and counted in `corrupt`).
  std::vector<Problem> problems;
  bool has_problems() const { return corrupt > 0 || deviating > 0 || !problems.empty(); }
};

/// Visits the live states of `cache` that pass the filters, decoding each.
InspectSummary inspect_cache(const StateCache& cache, const InspectOptions& options,
                             const std::function<void(const InspectedState&)>& visit);

/// Writes a key's fields as the listings name them: "format", then "businessKey" (0.3) or a
/// null "businessKey" with "businessKeyId" and "keyGroup" (0.4), then "seq", "eventUUID",
/// "actionUUID".
void write_key_fields(json::Writer& w, const StateKey& key);

/// One JSON object (no newline) describing a listed state: partition, offset, key, format,
/// businessKey (null for 0.4 keys), businessKeyId and keyGroup (0.4), seq, eventUUID,
/// actionUUID, completed, callResults, pendingCalls, and "state" (the decoded state in its
/// JSON form) or "error" and the raw "value" when it does not decode.
void append_state_json(std::string& out, const InspectedState& s, bool include_state = true);

}  // namespace aftk::actionstate
