// SPDX-License-Identifier: Apache-2.0
// PENDING calls, store statistics and upstream checks over one scan of a store.
#include "aftk/actionstate/health.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "aftk/actionstate/call_id.h"
#include "aftk/actionstate/replay.h"
#include "aftk/eventlog/record.h"

namespace aftk::actionstate {

// -- PENDING calls --------------------------------------------------------------------------

std::string_view pending_verdict_name(PendingVerdict v) {
  switch (v) {
    case PendingVerdict::kInFlight: return "in flight";
    case PendingVerdict::kStuck: return "stuck";
    case PendingVerdict::kNeverStarted: return "never started";
    case PendingVerdict::kUnknownAge: return "unknown age";
  }
  return "?";
}

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + i, n);
  const std::string_view unit = text.substr(i);
  std::int64_t mult = 0;
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "d") mult = 86'400'000;
  else if (unit == "w") mult = 7 * 86'400'000LL;
  if (i == 0 || ec != std::errc() || mult == 0 || n > INT64_MAX / mult)
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid duration '{}': expected a number and a unit, like 500ms, "
                            "30s, 10m, 2h, 1d or 1w",
                            text));
  return n * mult;
}

Result<std::int64_t> resolve_now_ms(std::string_view text) {
  if (text.empty())
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  AFTK_TRY_ASSIGN(const std::int64_t ns, eventlog::parse_time(text));
  return ns / 1'000'000;
}

std::string format_age(std::int64_t ms) {
  if (ms < 0) return "-";
  const std::int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  // The larger unit and, when not zero, the next one: "12m", "12m05s", "3h", "2d04h".
  const auto two = [](std::int64_t big, char bu, std::int64_t small, char su) {
    return small == 0 ? fmt::format("{}{}", big, bu)
                      : fmt::format("{}{}{:02}{}", big, bu, small, su);
  };
  if (s < 3600) return two(s / 60, 'm', s % 60, 's');
  if (s < 86400) return two(s / 3600, 'h', s % 3600 / 60, 'm');
  return two(s / 86400, 'd', s % 86400 / 3600, 'h');
}

namespace {

bool wanted(const StateCache::Entry& e, const std::vector<std::string>& keys,
            const std::optional<std::int64_t>& seq) {
  if (!keys.empty() && std::find(keys.begin(), keys.end(), e.key.identity()) == keys.end())
    return false;
  return !seq || e.key.seq == *seq;
}

Problem undecodable_problem(const StateCache::Entry& e, Error error) {
  Problem p;
  error.where = fmt::format("partition {} offset {}", e.position.partition, e.position.offset);
  p.error = std::move(error);
  p.partition = e.position.partition;
  p.offset = e.position.offset;
  p.key = e.key.to_string();
  return p;
}

}  // namespace

PendingReport find_pending(const StateCache& cache, const PendingOptions& options) {
  PendingReport report;
  // Lenient: a PENDING call is worth seeing even in a value the strict reader refuses.
  Decoder decoder({ReadMode::kLenient, false});
  ActionState state;
  cache.for_each([&](const StateCache::Entry& e) {
    if (!wanted(e, options.business_keys, options.seq)) return;
    if (auto st = decoder.decode(e.value, state); !st) {
      report.undecodable.push_back(undecodable_problem(e, st.error()));
      return;
    }
    const auto& calls = state.call_results;
    const std::int64_t age = e.position.timestamp < 0 ? -1 : options.now_ms - e.position.timestamp;
    for (size_t i = 0; i < calls.size();) {
      if (!calls[i].is_pending()) {
        ++i;
        continue;
      }
      PendingRun run;
      run.entry = &e;
      run.first_slot = i;
      for (; i < calls.size() && calls[i].is_pending(); ++i) {
        run.slots.push_back(calls[i]);
        run.owners.push_back(owning_slot(calls, i));
      }
      run.call_results = calls.size();
      run.completed = state.completed;
      run.age_ms = age;
      bool finished_after = false;
      for (size_t j = i; j < calls.size() && !finished_after; ++j)
        finished_after = !calls[j].is_pending();
      if (state.completed)
        run.verdict = PendingVerdict::kNeverStarted;
      else if (age < 0)
        run.verdict = PendingVerdict::kUnknownAge;
      else if (age < options.older_than_ms)
        run.verdict = PendingVerdict::kInFlight;
      else
        run.verdict = finished_after ? PendingVerdict::kNeverStarted : PendingVerdict::kStuck;
      const auto n = run.slots.size();
      report.calls += n;
      switch (run.verdict) {
        case PendingVerdict::kInFlight: report.in_flight += n; break;
        case PendingVerdict::kStuck: report.stuck += n; break;
        case PendingVerdict::kNeverStarted: report.never_started += n; break;
        case PendingVerdict::kUnknownAge: report.unknown_age += n; break;
      }
      report.runs.push_back(std::move(run));
    }
  });
  return report;
}

// -- the scan -------------------------------------------------------------------------------

namespace {

struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

enum class KeyKind : std::uint8_t { kV03, kV04, kBad };

// The last record seen of one key in one partition.
struct LastRecord {
  std::uint64_t bytes = 0;
  bool tombstone = false;
};

struct PartitionAcc {
  ByteCounts counts;
  std::uint64_t v03 = 0, v04 = 0, bad = 0;
  std::unordered_map<std::string, std::pair<LastRecord, KeyKind>, TextHash, std::equal_to<>> keys;
};

constexpr size_t kRejectedExamples = 5;

bool earlier(const RecordPosition& a, const RecordPosition& b) {
  return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
}

void keep_first(std::optional<RecordPosition>& first, const RecordPosition& pos) {
  if (!first || earlier(pos, *first)) first = pos;
}

// Counts bytes and key formats per partition and hands every record on to the folder. One
// shard per worker: a partition's records all arrive on one worker, so shards never share a
// partition.
class HealthSink final : public ScanSink {
 public:
  HealthSink(unsigned workers, const RebuildOptions& options)
      : folder_(workers, options), shards_(folder_.workers()) {}

  unsigned workers() const { return folder_.workers(); }
  void expect(std::uint64_t records) override { folder_.expect(records); }
  void unreadable(unsigned worker, Problem problem) override {
    folder_.unreadable(worker, std::move(problem));
  }

  Status record(unsigned worker, const TopicRecord& r) override {
    Shard& shard = shards_[worker];
    if (shard.last == nullptr || shard.last_partition != r.partition) {
      // A worker reads one partition at a time: look it up only when it changes.
      shard.last = &shard.partitions[r.partition];
      shard.last_partition = r.partition;
    }
    PartitionAcc& acc = *shard.last;
    const std::uint64_t bytes = r.key.size() + (r.value ? r.value->size() : 0);
    ++acc.counts.records;
    acc.counts.bytes += bytes;
    if (!r.value) ++acc.counts.tombstones;
    auto it = acc.keys.find(r.key);
    if (it == acc.keys.end()) {
      it = acc.keys.emplace(std::string(r.key), std::pair{LastRecord{}, classify(shard, r)}).first;
    } else {
      acc.counts.superseded_bytes += it->second.first.bytes;
    }
    it->second.first = {bytes, !r.value};
    const RecordPosition pos{r.partition, r.offset, r.timestamp};
    switch (it->second.second) {
      case KeyKind::kV03: ++acc.v03; keep_first(shard.first_v03, pos); break;
      case KeyKind::kV04: ++acc.v04; keep_first(shard.first_v04, pos); break;
      case KeyKind::kBad: ++acc.bad; break;
    }
    return folder_.record(worker, r);
  }

  HealthScan finish(StateCache& cache) {
    HealthScan out;
    out.report = folder_.finish(cache);
    StoreStats& st = out.stats;
    RecordFacts& facts = out.facts;
    for (Shard& shard : shards_) {
      if (shard.first_v03) keep_first(facts.first_v03, *shard.first_v03);
      if (shard.first_v04) keep_first(facts.first_v04, *shard.first_v04);
      facts.upstream_rejected_keys += shard.rejected;
      for (auto& ex : shard.examples) facts.upstream_rejected_examples.push_back(std::move(ex));
      for (auto& [p, acc] : shard.partitions) {
        ByteCounts& c = acc.counts;
        for (const auto& [key, last] : acc.keys)
          (last.first.tombstone ? c.tombstone_bytes : c.live_bytes) += last.first.bytes;
        st.records_v03 += acc.v03;
        st.records_v04 += acc.v04;
        st.records_bad_key += acc.bad;
        facts.formats_by_partition[p] = {acc.v03, acc.v04};
        st.partitions[p] = c;
      }
    }
    std::sort(facts.upstream_rejected_examples.begin(), facts.upstream_rejected_examples.end(),
              [](const auto& a, const auto& b) { return earlier(a.second, b.second); });
    if (facts.upstream_rejected_examples.size() > kRejectedExamples)
      facts.upstream_rejected_examples.resize(kRejectedExamples);
    return out;
  }

 private:
  struct Shard {
    std::map<std::int32_t, PartitionAcc> partitions;  // nodes never move: `last` stays valid
    PartitionAcc* last = nullptr;
    std::int32_t last_partition = -1;
    std::optional<RecordPosition> first_v03, first_v04;
    std::uint64_t rejected = 0;
    std::vector<std::pair<std::string, RecordPosition>> examples;
  };

  // Once per distinct key of a partition: its format, and whether upstream's 0.3 parser takes it.
  static KeyKind classify(Shard& shard, const TopicRecord& r) {
    auto key = parse_key(r.key);
    if (!key) return KeyKind::kBad;
    if (key->format == KeyFormat::kV04) return KeyKind::kV04;
    if (!upstream_parse_key(r.key)) {
      ++shard.rejected;
      if (shard.examples.size() < kRejectedExamples)
        shard.examples.emplace_back(std::string(r.key),
                                    RecordPosition{r.partition, r.offset, r.timestamp});
    }
    return KeyKind::kV03;
  }

  RecordFolder folder_;
  std::vector<Shard> shards_;
};

void add_cache_stats(const StateCache& cache, StoreStats& st) {
  Decoder decoder({ReadMode::kLenient, false});
  ActionState state;
  std::string identity;   // the business key being counted
  std::int64_t seq = -1;  // and its sequence number
  std::uint64_t at_seq = 0, seqs = 0;
  std::set<std::int32_t> groups;  // key groups of the identity's 0.4 states
  const auto end_seq = [&] {
    if (at_seq > 0) ++st.states_per_seq[at_seq];
    at_seq = 0;
  };
  const auto end_key = [&] {
    end_seq();
    if (seqs > 0) ++st.seqs_per_key[seqs];
    for (auto g : groups) ++st.keys_per_key_group[g];
    seqs = 0;
    groups.clear();
  };
  cache.for_each([&](const StateCache::Entry& e) {
    if (seqs == 0 || e.key.identity() != identity) {
      end_key();
      identity = e.key.identity();
      ++st.business_keys;
      seq = -1;
    }
    if (e.key.seq != seq) {
      end_seq();
      seq = e.key.seq;
      ++seqs;
    }
    ++at_seq;
    if (e.key.format == KeyFormat::kV04) groups.insert(e.key.key_group);
    ++st.partitions[e.position.partition].live_states;
    ++st.total.live_states;
    if (!decoder.decode(e.value, state)) {
      ++st.undecodable;
      return;
    }
    const auto pending = state.pending_calls();
    st.pending_calls += pending;
    if (pending > 0) ++st.states_with_pending;
  });
  end_key();
}

}  // namespace

Result<HealthScan> scan_health(LogStore& store, StateCache& cache, const RebuildOptions& options) {
  HealthSink sink(store.read_workers(), options);
  AFTK_TRY(store.scan_all(sink.workers(), sink));
  HealthScan scan = sink.finish(cache);
  StoreStats& st = scan.stats;
  for (const auto& [p, c] : st.partitions) {
    st.total.records += c.records;
    st.total.tombstones += c.tombstones;
    st.total.bytes += c.bytes;
    st.total.live_bytes += c.live_bytes;
    st.total.superseded_bytes += c.superseded_bytes;
    st.total.tombstone_bytes += c.tombstone_bytes;
  }
  add_cache_stats(cache, st);
  return scan;
}

// -- checks ---------------------------------------------------------------------------------

namespace {

std::string position_text(const RecordPosition& p) {
  return fmt::format("partition {} offset {}", p.partition, p.offset);
}

void add_finding(std::vector<Finding>& out, std::string code, std::string upstream,
                 std::string message, std::optional<RecordPosition> where = {}) {
  out.push_back({std::move(code), std::move(upstream), std::move(message), where});
}

bool is_input_event(const Event& e) {
  return e.class_name == kInputEventClass || e.type == "_input_event";
}

// #1099: a 0.3 key holds the business key's toString, so typed keys with one text (Long 1 and
// "1") share every state key. Each input of one Flink key has a sequence number of its own; two
// different input events at one (text, seq) can only come from two keys that print alike.
void check_text_collisions(const StateCache& cache, std::vector<Finding>& out) {
  Decoder decoder({ReadMode::kLenient, false});
  ActionState state;
  std::string identity;
  std::int64_t seq = -1;
  std::map<std::string, const StateCache::Entry*> inputs;  // input event UUID -> a state
  const auto flush = [&] {
    if (inputs.size() > 1) {
      std::string uuids;
      for (const auto& [uuid, e] : inputs) uuids += (uuids.empty() ? "" : ", ") + uuid;
      add_finding(
          out, "key-text-collision", "#1099",
          fmt::format(
              "business key '{}' seq {} holds states of {} different input events ({}): typed "
              "keys whose toString is the same (Long 1 and \"1\") share these states, and a "
              "lookup or prune for one evicts the other's (#1099, fixed by 0.4's digest keys)",
              identity, seq, inputs.size(), uuids),
          inputs.begin()->second->position);
    }
    inputs.clear();
  };
  cache.for_each([&](const StateCache::Entry& e) {
    if (e.key.format != KeyFormat::kV03) return;
    if (e.key.business_key != identity || e.key.seq != seq) {
      flush();
      identity = e.key.business_key;
      seq = e.key.seq;
    }
    if (!decoder.decode(e.value, state) || !state.task_event || !is_input_event(*state.task_event))
      return;
    inputs.emplace(e.key.event_uuid, &e);
  });
  flush();
}

}  // namespace

std::vector<Finding> check_store(const HealthScan& scan, const StateCache& cache,
                                 const CheckOptions& options) {
  std::vector<Finding> out;
  for (const auto& p : scan.report.unreadable) {
    add_finding(out, "unreadable", "",
        fmt::format("{}{}{}: not a record a reader can take in", p.error.where,
        p.error.where.empty() ? "" : ": ", p.error.message));
  }
  for (const auto& p : scan.report.problems) {
    add_finding(out, "invalid-record", "",
        fmt::format("{}: {}: upstream's reader rejects it, and one such record fails "
        "the job's whole recovery",
        p.error.where, p.error.message),
        RecordPosition{p.partition, p.offset, -1});
  }
  const RecordFacts& facts = scan.facts;
  if (facts.upstream_rejected_keys > 0) {
    std::string examples;
    for (const auto& [key, pos] : facts.upstream_rejected_examples)
      examples += fmt::format("{}'{}' ({})", examples.empty() ? "" : ", ", key, position_text(pos));
    add_finding(out, "underscore-business-key", "PR #1024",
        fmt::format(
        "{} 0.3 key(s) have a business key containing '_', which upstream's 0.3 parseKey "
        "rejects ('Invalid key format.'): a 0.3.x job's lookups then fail for every key of its "
        "store (PR #1024 review); e.g. {}",
        facts.upstream_rejected_keys, examples),
        facts.upstream_rejected_examples.front().second);
  }
  if (facts.first_v03 && facts.first_v04) {
    std::string parts;
    for (const auto& [p, n] : facts.formats_by_partition)
      if (n.first > 0 && n.second > 0)
        parts += fmt::format("{}{}: {}/{}", parts.empty() ? "" : ", ", p, n.first, n.second);
    add_finding(out, "mixed-key-formats", "PR #1024",
        fmt::format(
        "key formats mixed: {} record(s) with 0.3 four-field keys (first at {}) and {} with 0.4 "
        "five-field keys (first at {}); a 0.4 job whose replay range reaches a four-field key "
        "fails recovery ('Malformed action-state key during recovery: expected five fields', "
        "PR #1024){}{}",
        scan.stats.records_v03, position_text(*facts.first_v03), scan.stats.records_v04,
        position_text(*facts.first_v04), parts.empty() ? "" : "; both in partition 0.3/0.4: ",
        parts),
        facts.first_v03);
  }
  check_text_collisions(cache, out);
  if (options.cleanup_policy && options.cleanup_policy->find("compact") == std::string::npos) {
    add_finding(out, "not-compacted", "#691",
        fmt::format(
        "cleanup.policy is '{}', without compact: every put writes a whole state snapshot and "
        "superseded ones are never removed, so the topic grows forever (#691); upstream creates "
        "it with 'compact' (0.3) or 'compact,delete' with infinite retention (0.4)",
        *options.cleanup_policy));
  }
  if (options.expected_partitions && *options.expected_partitions != options.partitions) {
    add_finding(out, "partition-count", "",
        fmt::format(
        "the topic has {} partitions, the job expects {}: upstream's partitioner (murmur hash "
        "modulo the partition count) then looks for keys elsewhere than they were written, and "
        "0.4 runtimes refuse a restore whose marker covers another partition set",
        options.partitions, *options.expected_partitions));
  }
  return out;
}

}  // namespace aftk::actionstate
