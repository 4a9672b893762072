// SPDX-License-Identifier: Apache-2.0
// StateCache, the shared LogStore logic, and the in-memory log.
#include "aftk/actionstate/store.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "aftk/actionstate/replay.h"
#include "aftk/json/base64.h"

namespace aftk::actionstate {

// ---------------------------------------------------------------------------------------------
// StateCache

StateCache::Entry& StateCache::insert(std::string&& key_text, StateKey&& key) {
  Node& node = *entries_.try_emplace(std::move(key_text)).first;
  node.second.key = std::move(key);
  auto id = index_.find(node.second.key.identity());
  if (id == index_.end()) id = index_.emplace(std::string(node.second.key.identity()), Index::mapped_type{}).first;
  id->second[node.second.key.seq].push_back(&node);
  return node.second;
}

StateCache::Entry& StateCache::slot(const StateKey& key, std::string_view key_text) {
  if (auto it = entries_.find(key_text); it != entries_.end()) return it->second;
  return insert(std::string(key_text), StateKey(key));
}

void StateCache::put(StateKey&& key, std::string&& key_text, std::string&& value, RecordPosition position) {
  auto it = entries_.find(std::string_view(key_text));
  Entry& e = it != entries_.end() ? it->second : insert(std::move(key_text), std::move(key));
  e.value = std::move(value);
  e.position = position;
}

void StateCache::put(const StateKey& key, std::string_view key_text, std::string_view value,
                     RecordPosition position) {
  Entry& e = slot(key, key_text);
  e.value.assign(value);
  e.position = position;
}

void StateCache::unindex(Node* node) {
  const Entry& e = node->second;
  auto id = index_.find(e.key.identity());
  if (id == index_.end()) return;
  auto seq = id->second.find(e.key.seq);
  if (seq != id->second.end()) {
    auto& nodes = seq->second;
    nodes.erase(std::remove(nodes.begin(), nodes.end(), node), nodes.end());
    if (nodes.empty()) id->second.erase(seq);
  }
  if (id->second.empty()) index_.erase(id);
}

bool StateCache::erase(std::string_view key_text) {
  auto it = entries_.find(key_text);
  if (it == entries_.end()) return false;
  unindex(&*it);
  entries_.erase(it);
  return true;
}

const StateCache::Entry* StateCache::find(std::string_view key_text) const {
  auto it = entries_.find(key_text);
  return it == entries_.end() ? nullptr : &it->second;
}

StateCache::GetOutcome StateCache::get(const StateKey& key) {
  GetOutcome out;
  const std::string text = key.to_string();
  auto it = entries_.find(text);
  auto id = index_.find(key.identity());
  if (id != index_.end()) {
    auto seq = id->second.find(key.seq);
    out.diverged = seq != id->second.end() && seq->second.size() > 1;
    if (it == entries_.end() || (out.diverged && rule_ == CleanupRule::kUpstream)) {
      // Later sequences of this business key were computed on a path that no longer holds.
      for (auto s = id->second.upper_bound(key.seq); s != id->second.end(); ++s) {
        for (Node* n : s->second) {
          out.removed.push_back(std::move(n->second));
          entries_.erase(entries_.find(n->first));
        }
      }
      id->second.erase(id->second.upper_bound(key.seq), id->second.end());
      if (id->second.empty()) index_.erase(id);
    }
  }
  out.entry = it == entries_.end() ? nullptr : &it->second;
  return out;
}

std::vector<StateCache::Entry> StateCache::prune(std::string_view identity, std::int64_t seq) {
  std::vector<Entry> removed;
  auto id = index_.find(identity);
  if (id == index_.end()) return removed;
  auto stop = id->second.upper_bound(seq);
  for (auto s = id->second.begin(); s != stop; ++s) {
    for (Node* n : s->second) {
      removed.push_back(std::move(n->second));
      entries_.erase(entries_.find(n->first));
    }
  }
  id->second.erase(id->second.begin(), stop);
  if (id->second.empty()) index_.erase(id);
  return removed;
}

void StateCache::abandon() {
  struct Kept {
    Map entries;
    Index index;
  };
  // Held from a static that is never destroyed, so leak checkers see memory in use.
  static std::mutex mu;
  static auto* kept = new std::vector<std::unique_ptr<Kept>>();
  std::lock_guard lock(mu);
  kept->push_back(std::make_unique<Kept>(Kept{std::move(entries_), std::move(index_)}));
  entries_.clear();
  index_.clear();
}

void StateCache::clear() {
  entries_.clear();
  index_.clear();
}

void StateCache::for_each(const std::function<void(const Entry&)>& visit) const {
  std::vector<const Node*> sorted;
  for (const auto& [identity, seqs] : index_) {
    for (const auto& [seq, nodes] : seqs) {
      sorted.assign(nodes.begin(), nodes.end());
      std::sort(sorted.begin(), sorted.end(), [](const Node* a, const Node* b) { return a->first < b->first; });
      for (const Node* n : sorted) visit(n->second);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LogStore

namespace {
std::string where(RecordPosition p) { return fmt::format("partition {} offset {}", p.partition, p.offset); }
}  // namespace

Status LogStore::put(const StateKey& key, const ActionState& state) {
  std::string text = key.to_string();
  AFTK_TRY_ASSIGN(const std::int32_t partition, partition_for_key(text, num_partitions_));
  // Encoded into a buffer that keeps its capacity, then copied into the cache at its exact size
  // (a replaced entry reuses its own buffer): a string grown by encoding holds up to twice its
  // size, which a cache of many states would keep for good.
  encode_buffer_.clear();
  if (write_profile_)
    AFTK_TRY(encode_as(state, *write_profile_, encode_buffer_));
  else
    encode(state, encode_buffer_);
  AFTK_TRY_ASSIGN(const RecordPosition pos, append(partition, text, &encode_buffer_));
  cache_.put(key, text, std::string_view(encode_buffer_), pos);
  return {};
}

Result<std::optional<ActionState>> LogStore::get(const StateKey& key) {
  auto outcome = cache_.get(key);
  if (drop_observer_)
    for (const auto& e : outcome.removed) drop_observer_(e);
  if (!outcome.entry) return std::optional<ActionState>{};
  auto state = decoder_.decode(outcome.entry->value);
  if (!state) {
    auto e = state.error();
    e.where = where(outcome.entry->position);
    return fail(std::move(e));
  }
  return std::optional<ActionState>(std::move(*state));
}

Result<OffsetMap> LogStore::begin_offsets() {
  AFTK_TRY_ASSIGN(LogOffsets o, offsets());
  return std::move(o.begin);
}

Result<OffsetMap> LogStore::end_offsets() {
  AFTK_TRY_ASSIGN(LogOffsets o, offsets());
  return std::move(o.end);
}

Result<LogOffsets> LogStore::scan_all(unsigned workers, ScanSink& sink) {
  AFTK_TRY_ASSIGN(LogOffsets now, offsets());
  std::vector<ScanRange> ranges;
  std::uint64_t total = 0;
  for (const auto& [p, b] : now.begin) {
    const auto e = now.end.find(p);
    if (e == now.end.end() || e->second <= b) continue;
    ranges.push_back({p, b, e->second});
    total += static_cast<std::uint64_t>(e->second - b);
  }
  sink.expect(total);
  AFTK_TRY(scan(ranges, workers, sink));
  return now;
}

Result<RebuildReport> LogStore::rebuild(std::span<const RecoveryMarker> markers,
                                        const RebuildOptions& options) {
  if (markers.empty()) {  // a fresh start: nothing to restore
    cache_.clear();
    return RebuildReport{};
  }
  AFTK_TRY_ASSIGN(const RecoveryMarker merged, merge_markers(markers));
  // Captured once, first: the checks below and the read's end offsets are the same snapshot.
  AFTK_TRY_ASSIGN(const LogOffsets now, offsets());
  if (merged.versioned()) {
    if (merged.topic != topic())
      return fail(Errc::kConflict, fmt::format("recovery markers are for topic '{}', not '{}'",
                                               merged.topic, topic()));
    if (json::normalize_topic_id(merged.topic_id) != json::normalize_topic_id(topic_id()))
      return fail(Errc::kConflict,
                  fmt::format("recovery markers carry topic id {} but the topic's id is {}: was "
                              "the topic recreated?",
                              merged.topic_id, topic_id()));
    if (merged.offsets.size() != now.end.size())
      return fail(Errc::kConflict, fmt::format("recovery markers cover {} partitions, the topic "
                                               "has {}",
                                               merged.offsets.size(), now.end.size()));
  }
  std::vector<ScanRange> ranges;
  std::uint64_t total = 0;
  for (const auto& [p, o] : merged.offsets) {
    auto e = now.end.find(p);
    if (e == now.end.end())
      return fail(Errc::kInvalidArgument,
                  fmt::format("recovery marker names partition {}, which does not exist", p));
    const auto b = now.begin.count(p) ? now.begin.at(p) : 0;
    if (o < b || o > e->second)
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot restore partition {} from offset {}: outside the available "
                              "range [{}, {}]",
                              p, o, b, e->second));
    if (o < e->second) {
      ranges.push_back({p, o, e->second});
      total += static_cast<std::uint64_t>(e->second - o);
    }
  }
  RecordFolder folder(read_workers(), options);
  folder.expect(total);
  cache_.clear();
  AFTK_TRY(scan(ranges, folder.workers(), folder));
  RebuildReport report = folder.finish(cache_);
  report.from = merged.offsets;
  report.to = now.end;
  return report;
}

Result<RebuildReport> LogStore::load_all(const RebuildOptions& options) {
  RecordFolder folder(read_workers(), options);
  cache_.clear();
  AFTK_TRY_ASSIGN(LogOffsets read, scan_all(folder.workers(), folder));
  RebuildReport report = folder.finish(cache_);
  report.from = std::move(read.begin);
  report.to = std::move(read.end);
  return report;
}

Result<PruneResult> LogStore::prune(std::string_view identity, std::int64_t seq,
                                    const PruneOptions& options) {
  PruneResult result;
  result.evicted = cache_.prune(identity, seq);
  if (!options.tombstones) return result;
  for (const auto& e : result.evicted) {
    // The exact original key, to the partition the record was seen in: the partitioner has
    // changed between versions, so recomputing it could miss.
    auto pos = append(e.position.partition, e.key.to_string(), nullptr);
    if (!pos) {
      auto err = pos.error();
      err.message = fmt::format("{} ({} of {} tombstones written)", err.message,
                                result.tombstones_written, result.evicted.size());
      return fail(std::move(err));
    }
    ++result.tombstones_written;
  }
  return result;
}

Result<RecoveryMarker> LogStore::recovery_marker() {
  AFTK_TRY_ASSIGN(OffsetMap end, end_offsets());
  const std::string id = topic_id();
  if (id.empty()) return RecoveryMarker::legacy(std::move(end));
  return RecoveryMarker{1, topic(), id, std::move(end)};
}

// ---------------------------------------------------------------------------------------------
// MemoryStore

MemoryStore::MemoryStore(std::int32_t num_partitions)
    : LogStore(num_partitions), logs_(static_cast<size_t>(num_partitions)) {}

Result<LogOffsets> MemoryStore::offsets() {
  LogOffsets o;
  for (std::int32_t p = 0; p < num_partitions_; ++p) {
    const auto& log = logs_[static_cast<size_t>(p)];
    o.begin[p] = log.empty() ? 0 : log.front().offset;
    o.end[p] = log.empty() ? 0 : log.back().offset + 1;
  }
  return o;
}

Result<RecordPosition> MemoryStore::append(std::int32_t partition, std::string_view key,
                                           const std::string* value) {
  if (partition < 0 || partition >= num_partitions_)
    return fail(Errc::kInvalidArgument, fmt::format("no partition {}", partition));
  auto& log = logs_[static_cast<size_t>(partition)];
  const std::int64_t offset = log.empty() ? 0 : log.back().offset + 1;
  log.push_back({offset, std::string(key), value ? std::optional<std::string>(*value) : std::nullopt});
  return RecordPosition{partition, offset, -1};
}

Status MemoryStore::scan(std::span<const ScanRange> ranges, unsigned, ScanSink& sink) {
  for (const ScanRange& r : ranges) {
    if (r.partition < 0 || r.partition >= num_partitions_) continue;
    const auto& log = logs_[static_cast<size_t>(r.partition)];
    // Offsets are contiguous from the first record, so start there instead of searching.
    const std::int64_t first = log.empty() ? 0 : log.front().offset;
    const auto skip = std::clamp<std::int64_t>(r.begin - first, 0, static_cast<std::int64_t>(log.size()));
    for (size_t i = static_cast<size_t>(skip); i < log.size() && log[i].offset < r.end; ++i) {
      const auto& s = log[i];
      const TopicRecord rec{r.partition, s.offset, -1, s.key,
                            s.value ? std::optional<std::string_view>(*s.value) : std::nullopt};
      AFTK_TRY(sink.record(0, rec));
    }
  }
  return {};
}

}  // namespace aftk::actionstate
