// SPDX-License-Identifier: Apache-2.0
// The action-state store: cache semantics shared by every backend, and the store interface.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aftk/actionstate/key.h"
#include "aftk/actionstate/marker.h"
#include "aftk/actionstate/model.h"
#include "aftk/actionstate/serde.h"
#include "aftk/problem.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// Where a record sits in its topic.
struct RecordPosition {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp = -1;  // the record's timestamp, milliseconds since the epoch; -1: none
};

/// One record of a topic or dump as a reader sees it (views valid during the callback).
struct TopicRecord {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp = -1;  // milliseconds since the epoch; -1 when unknown
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt: a tombstone
  std::uint64_t line = 0;                 // 1-based line in a dump file; 0 for a topic
};

/// The live states a store holds in memory, keyed by record key, with the upstream cache rules
/// (divergence and cleanup scoped to one business key, as newer upstream does).
class StateCache {
 public:
  /// When get() drops later sequences of a business key.
  enum class CleanupRule {
    kUpstream,  // on a miss, or when more than one state is cached at the sequence (upstream)
    kOnMiss,    // on a miss only: chained actions at one sequence are not a divergence
  };

  struct Entry {
    StateKey key;
    std::string value;  // the record value bytes, as stored
    RecordPosition position;
  };

  /// Inserts or replaces the entry for `key`, copying the value into the entry's own buffer (a
  /// replaced entry keeps its capacity, so rebuilding many versions of a key does not allocate).
  void put(const StateKey& key, std::string_view key_text, std::string_view value, RecordPosition position);
  /// Inserts or replaces the entry for `key`, taking the key, its text and the value.
  void put(StateKey&& key, std::string&& key_text, std::string&& value, RecordPosition position);
  /// Makes room for `n` entries in all, so that filling the cache does not rehash it.
  void reserve(size_t n) { entries_.reserve(n); }
  /// Removes the entry; true if there was one.
  bool erase(std::string_view key_text);
  /// The entry for a record key, or null.
  const Entry* find(std::string_view key_text) const;

  struct GetOutcome {
    const Entry* entry = nullptr;   // the state asked for, or null
    bool diverged = false;          // more than one state cached for this (business key, seq)
    std::vector<Entry> removed;     // later sequences dropped because of a miss or divergence
  };
  /// Upstream's get: when the key is missing or its sequence diverged, every entry of the same
  /// business key with a higher sequence number is dropped.
  GetOutcome get(const StateKey& key);

  /// Removes every entry of `identity` with seq <= `seq`; returns them.
  std::vector<Entry> prune(std::string_view identity, std::int64_t seq);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear();
  /// Empties the cache without freeing its entries: their memory stays in use, reachable, until
  /// the process ends. For programs about to exit, where the operating system takes it all back
  /// at once, but freeing a large cache entry by entry touches every one of them again (0.3 s for
  /// 200k states). Never for a cache that lives on.
  void abandon();

  void set_cleanup_rule(CleanupRule rule) { rule_ = rule; }
  CleanupRule cleanup_rule() const { return rule_; }

  /// Visits entries ordered by business key identity, sequence number, record key.
  void for_each(const std::function<void(const Entry&)>& visit) const;

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;
  using Node = Map::value_type;  // stable address: unordered_map never moves its nodes

  // The entry for `key_text`, made (and indexed) if missing; copies the key only then.
  Entry& slot(const StateKey& key, std::string_view key_text);
  // Adds an entry the map does not hold yet and indexes it.
  Entry& insert(std::string&& key_text, StateKey&& key);
  void unindex(Node* node);
  Map entries_;
  // identity -> seq -> the entries' own nodes (no second copy of any key)
  using Index = std::map<std::string, std::map<std::int64_t, std::vector<Node*>>, std::less<>>;
  Index index_;
  CleanupRule rule_ = CleanupRule::kUpstream;
};

struct RebuildOptions {
  /// Decode every value (strictly by default) and report those that do not decode.
  bool validate = true;
  DecodeOptions decode;
  /// Called now and then with records read so far and the total to read (for progress).
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

/// A record a rebuild could not take in as it is: an unparsable key or a value that does not
/// decode. Values that do not decode are still cached (nothing is dropped silently).
using RecordProblem = Problem;

struct RebuildReport {
  std::uint64_t records = 0;     // records read
  std::uint64_t tombstones = 0;  // of which tombstones
  std::uint64_t bytes = 0;       // key and value bytes read
  size_t live = 0;               // live states afterwards
  OffsetMap from;                // per partition, first offset asked for
  OffsetMap to;                  // per partition, end offset captured before reading
  /// Records read whose key does not parse or whose value does not decode, by position.
  std::vector<Problem> problems;
  /// Input that could not be read as a record at all (a dump line that is not JSON, a torn last
  /// line, a partition the store does not have), in input order. Topics have none.
  std::vector<Problem> unreadable;

  bool has_problems() const { return !problems.empty() || !unreadable.empty(); }
};

/// Per partition, the first offset held and the end offset (the next to be written), read
/// together: one request pair on Kafka.
struct LogOffsets {
  OffsetMap begin;
  OffsetMap end;
};

/// One partition's share of a scan: records with begin <= offset < end.
struct ScanRange {
  std::int32_t partition = -1;
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

/// Where a scan delivers. record() may be called from several threads at once, each passing
/// its own worker number below the count the scan was given; the records of one partition
/// arrive in offset order on one worker. An error record() returns stops the scan.
class ScanSink {
 public:
  virtual ~ScanSink() = default;
  /// Told once before the first record how many records the scan will deliver (0: unknown).
  virtual void expect(std::uint64_t records) { (void)records; }
  virtual Status record(unsigned worker, const TopicRecord& record) = 0;
  /// Input that could not be read as a record (see RebuildReport::unreadable).
  virtual void unreadable(unsigned worker, Problem problem) = 0;
};

struct PruneOptions {
  /// Also write tombstones, each to the partition its record was seen in.
  bool tombstones = false;
};

struct PruneResult {
  std::vector<StateCache::Entry> evicted;
  size_t tombstones_written = 0;
};

/// The action-state store interface (upstream's ActionStateStore).
class ActionStateStore {
 public:
  virtual ~ActionStateStore() = default;

  /// Writes `state` under `key` and caches it. Errors: the backend's write errors.
  virtual Status put(const StateKey& key, const ActionState& state) = 0;
  /// The cached state for `key`, or nullopt; applies the divergence cleanup. Errors:
  /// CORRUPT_RECORD if the cached value does not decode.
  virtual Result<std::optional<ActionState>> get(const StateKey& key) = 0;
  /// Replaces the cache with the states written since the merged markers (an empty list is a
  /// fresh start: nothing is read). Errors: CONFLICT for disagreeing markers, INVALID_ARGUMENT
  /// for an offset outside a partition's range, and backend read errors.
  virtual Result<RebuildReport> rebuild(std::span<const RecoveryMarker> markers,
                                        const RebuildOptions& options = {}) = 0;
  /// Evicts states of one business key up to `seq`, writing tombstones when asked.
  virtual Result<PruneResult> prune(std::string_view identity, std::int64_t seq,
                                    const PruneOptions& options = {}) = 0;
  /// The end offsets of every partition now: a versioned marker when the backend knows its
  /// topic id, else the legacy map.
  virtual Result<RecoveryMarker> recovery_marker() = 0;
  /// Makes every write durable. Errors: backend errors.
  virtual Status flush() = 0;
  /// The live states held now.
  virtual const StateCache& cache() const = 0;
};

/// The store logic over any partitioned append-only log (memory, a dump file, a Kafka topic).
/// A backend is only a transport: it appends, tells its offsets and scans ranges of records;
/// put/get/rebuild/prune, and the folding of records into live states (RecordFolder, in
/// replay.h), are shared.
class LogStore : public ActionStateStore {
 public:
  Status put(const StateKey& key, const ActionState& state) override;
  Result<std::optional<ActionState>> get(const StateKey& key) override;
  Result<RebuildReport> rebuild(std::span<const RecoveryMarker> markers,
                                const RebuildOptions& options = {}) override;
  Result<PruneResult> prune(std::string_view identity, std::int64_t seq,
                            const PruneOptions& options = {}) override;
  Result<RecoveryMarker> recovery_marker() override;
  Status flush() override { return {}; }
  const StateCache& cache() const override { return cache_; }

  /// Loads every record from each partition's beginning (what an inspector wants).
  Result<RebuildReport> load_all(const RebuildOptions& options = {});
  /// Empties the cache without freeing it; see StateCache::abandon. Writes are unaffected.
  void abandon_cache() { cache_.abandon(); }

  std::int32_t num_partitions() const { return num_partitions_; }

  /// Which rule get() follows when it drops later sequences (upstream's by default).
  void set_cleanup_rule(StateCache::CleanupRule rule) { cache_.set_cleanup_rule(rule); }
  /// Writes every put in the value form of `profile` (encode_as), so that a put the target
  /// job's reader would reject fails here instead; nullopt (the default) writes each state
  /// with the fields it holds.
  void set_write_profile(std::optional<Profile> profile) { write_profile_ = profile; }
  /// Called with every state get() drops from the cache (simulations attribute re-runs to it).
  void set_drop_observer(std::function<void(const StateCache::Entry&)> observer) {
    drop_observer_ = std::move(observer);
  }

  // -- the transport ------------------------------------------------------------------------

  /// Per partition: [first, end) offsets available now.
  virtual Result<LogOffsets> offsets() = 0;
  Result<OffsetMap> begin_offsets();
  Result<OffsetMap> end_offsets();
  /// Delivers the records of `ranges` to `sink`, on up to `workers` threads (at least one).
  /// Errors: the backend's read errors, or the sink's.
  virtual Status scan(std::span<const ScanRange> ranges, unsigned workers, ScanSink& sink) = 0;
  /// Delivers every record held now, from each partition's first, and returns the offsets it
  /// read between. This asks offsets() and then scans; a log that learns its offsets only by
  /// reading (a dump file, a pipe) does both in one pass.
  virtual Result<LogOffsets> scan_all(unsigned workers, ScanSink& sink);
  /// Threads a rebuild may read on (the Kafka store reads partitions in parallel).
  virtual unsigned read_workers() const { return 1; }

 protected:
  explicit LogStore(std::int32_t num_partitions) : num_partitions_(num_partitions) {}

  /// Appends one record (value null: a tombstone); returns where it landed.
  virtual Result<RecordPosition> append(std::int32_t partition, std::string_view key,
                                        const std::string* value) = 0;
  /// Topic and topic id for versioned markers; empty topic id means legacy markers.
  virtual std::string topic() const { return {}; }
  virtual std::string topic_id() const { return {}; }

  StateCache cache_;
  std::int32_t num_partitions_;
  std::string encode_buffer_;
  std::optional<Profile> write_profile_;
  Decoder decoder_;
  std::function<void(const StateCache::Entry&)> drop_observer_;
};

/// A log held in memory: the same semantics as a topic, for tests and simulations.
class MemoryStore : public LogStore {
 public:
  explicit MemoryStore(std::int32_t num_partitions = 64);
  Result<LogOffsets> offsets() override;
  Status scan(std::span<const ScanRange> ranges, unsigned workers, ScanSink& sink) override;

  struct Stored {
    std::int64_t offset;
    std::string key;
    std::optional<std::string> value;
  };
  /// Every record ever appended to a partition (for tests).
  const std::vector<Stored>& partition_log(std::int32_t p) const { return logs_.at(static_cast<size_t>(p)); }

 protected:
  Result<RecordPosition> append(std::int32_t partition, std::string_view key,
                                const std::string* value) override;

 private:
  std::vector<std::vector<Stored>> logs_;
};

}  // namespace aftk::actionstate
