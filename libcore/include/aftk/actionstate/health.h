// SPDX-License-Identifier: Apache-2.0
// A store's health: PENDING calls with their age and verdict, statistics and upstream checks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/serde.h"
#include "aftk/actionstate/store.h"

namespace aftk::actionstate {

// -- PENDING calls --------------------------------------------------------------------------

/// What a PENDING call most likely is.
enum class PendingVerdict {
  kInFlight,      // younger than the threshold: may still be running
  kStuck,         // older than the threshold and nothing after it finished
  kNeverStarted,  // the action went on without it: a batch slot that never ran, re-run on recovery
  kUnknownAge,    // the record has no timestamp
};

/// "in flight", "stuck", "never started", "unknown age".
std::string_view pending_verdict_name(PendingVerdict v);

struct PendingOptions {
  std::int64_t now_ms = 0;                    // what ages are measured from
  std::int64_t older_than_ms = 10 * 60'000;   // older than this and not finished: stuck
  std::vector<std::string> business_keys;     // only these identities (empty: all)
  std::optional<std::int64_t> seq;            // only this sequence number
};

/// One run of consecutive PENDING slots of a state: a single call, or a batch reserved in one
/// write (upstream PR #926) of which these slots are not finalized yet.
struct PendingRun {
  const StateCache::Entry* entry = nullptr;
  size_t first_slot = 0;                // index of the run's first slot in callResults
  std::vector<CallResult> slots;        // the run's PENDING slots, in index order
  /// Per slot of `slots`: the slot (in callResults) of the call it belongs to, see
  /// owning_slot() in call_id.h (an await's is its call's; nullopt if the state lacks it).
  std::vector<std::optional<size_t>> owners;
  size_t call_results = 0;              // slots the state holds in all
  bool completed = false;               // the state is marked completed
  std::int64_t age_ms = -1;             // now minus the record's timestamp; -1 unknown
  PendingVerdict verdict = PendingVerdict::kInFlight;
};

struct PendingReport {
  std::vector<PendingRun> runs;  // by business key, sequence number, key, slot
  std::uint64_t calls = 0;       // PENDING slots in all
  std::uint64_t stuck = 0;       // of which stuck
  std::uint64_t in_flight = 0;
  std::uint64_t never_started = 0;
  std::uint64_t unknown_age = 0;
  std::vector<Problem> undecodable;  // live states whose value does not decode (leniently)
};

/// Every PENDING slot of the live states in `cache`, grouped into runs of consecutive slots,
/// with a verdict: a completed state's PENDING slot never started; in a state older than the
/// threshold, a slot followed by a finished one never started (a batch timed out or moved on),
/// any other is stuck; younger states are in flight (a batch finalizes its slots in
/// completion order, so a finished slot after a PENDING one does not end it yet).
PendingReport find_pending(const StateCache& cache, const PendingOptions& options);

/// Parses a duration "500ms", "30s", "10m", "2h", "1d", "1w" into milliseconds. Errors:
/// INVALID_ARGUMENT naming the text.
Result<std::int64_t> parse_duration_ms(std::string_view text);

/// Milliseconds since the epoch of `text` (RFC 3339, as --now takes it), or of the clock when
/// `text` is empty. Errors: INVALID_ARGUMENT naming the text.
Result<std::int64_t> resolve_now_ms(std::string_view text);

/// "45s", "12m", "3h05m", "2d04h": an age for a table.
std::string format_age(std::int64_t ms);

// -- statistics -----------------------------------------------------------------------------

/// Byte counts are key plus value bytes of each record.
struct ByteCounts {
  std::uint64_t records = 0;
  std::uint64_t tombstones = 0;        // tombstone records
  std::uint64_t live_states = 0;
  std::uint64_t bytes = 0;             // every record
  std::uint64_t live_bytes = 0;        // the last record of each key, when it holds a value
  std::uint64_t superseded_bytes = 0;  // records a later record of the same key replaces
  std::uint64_t tombstone_bytes = 0;   // last records that are tombstones (kept for a while)

  /// superseded / all bytes: what compaction would take away (0 for an empty log).
  double dirty_ratio() const {
    return bytes == 0 ? 0.0 : static_cast<double>(superseded_bytes) / static_cast<double>(bytes);
  }
};

struct StoreStats {
  ByteCounts total;
  std::map<std::int32_t, ByteCounts> partitions;  // every partition that holds a record
  std::uint64_t business_keys = 0;                // distinct identities of live states
  /// Live states an input (business key, seq) holds -> inputs holding that many.
  std::map<std::uint64_t, std::uint64_t> states_per_seq;
  /// Sequence numbers a business key has live states for -> keys with that many.
  std::map<std::uint64_t, std::uint64_t> seqs_per_key;
  /// Records by key format (tombstones included: a replay parses their keys too).
  std::uint64_t records_v03 = 0;
  std::uint64_t records_v04 = 0;
  std::uint64_t records_bad_key = 0;
  /// 0.4 live states: key group -> distinct business keys in it.
  std::map<std::int32_t, std::uint64_t> keys_per_key_group;
  std::uint64_t pending_calls = 0;        // PENDING slots of live states
  std::uint64_t states_with_pending = 0;  // live states with one or more
  std::uint64_t undecodable = 0;          // live states whose value does not decode leniently
};

/// Facts a check needs about individual records, gathered during the same scan.
struct RecordFacts {
  /// The first record of each key format, and per partition how many records each has.
  std::optional<RecordPosition> first_v03, first_v04;
  std::map<std::int32_t, std::pair<std::uint64_t, std::uint64_t>> formats_by_partition;
  /// 0.3 keys aftk parses but upstream's 0.3 parseKey rejects (a business key containing '_'),
  /// distinct keys, the first few kept with their position.
  std::uint64_t upstream_rejected_keys = 0;
  std::vector<std::pair<std::string, RecordPosition>> upstream_rejected_examples;
};

/// What one pass over a store found: the live states (folded as a rebuild does, into the cache
/// given), the load's report, the statistics and the per-record facts.
struct HealthScan {
  RebuildReport report;
  StoreStats stats;
  RecordFacts facts;
};

/// Reads every record of `store` once: folds them into `cache` (strict validation unless
/// `options` say otherwise) and counts bytes per partition and key format as they pass.
/// Errors: the store's read errors.
Result<HealthScan> scan_health(LogStore& store, StateCache& cache,
                               const RebuildOptions& options = {});

// -- checks ---------------------------------------------------------------------------------

struct CheckOptions {
  /// The topic's cleanup.policy (a Kafka topic only; nullopt: not known, not checked).
  std::optional<std::string> cleanup_policy;
  /// The partition count the job expects (nullopt: not checked) and the one the store has.
  std::optional<std::int32_t> expected_partitions;
  std::int32_t partitions = 0;
};

/// One thing a check found, with the upstream issue or PR that explains why it matters.
struct Finding {
  std::string code;      // stable: "invalid-record", "mixed-key-formats", ...
  std::string upstream;  // "#1099", "PR #1024", or empty when upstream has no number for it
  std::string message;   // says what, where, and what upstream does with it
  std::optional<RecordPosition> where;
};

/// The findings on a scanned store: records the strict reader rejects, 0.3 keys upstream's
/// parser rejects, key formats mixed in one topic, business keys whose text two typed keys
/// share, a topic without compaction and a partition count other than expected.
std::vector<Finding> check_store(const HealthScan& scan, const StateCache& cache,
                                 const CheckOptions& options);

}  // namespace aftk::actionstate
