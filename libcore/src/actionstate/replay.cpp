// SPDX-License-Identifier: Apache-2.0
// RecordFolder: per-worker shards of live records, merged into the cache at the end.
#include "aftk/actionstate/replay.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/detail/key_table.h"

namespace aftk::actionstate {

namespace {

std::string where(std::int32_t partition, std::int64_t offset) {
  return fmt::format("partition {} offset {}", partition, offset);
}

}  // namespace

// The live records one worker has seen for its partitions, and what it counted on the way.
struct RecordFolder::Shard {
  struct Live {
    StateKey key;
    std::string value;
    RecordPosition position;
  };
  KeyTable<Live> live;
  std::vector<Problem> problems;
  std::vector<Problem> unreadable;
  std::uint64_t records = 0, tombstones = 0, bytes = 0;
  Decoder decoder;
  ActionState scratch;

  void bad_record(const TopicRecord& r, Error error) {
    error.where = where(r.partition, r.offset);
    problems.push_back(Problem{std::move(error), r.partition, r.offset, r.line, std::string(r.key)});
  }
};

RecordFolder::RecordFolder(unsigned workers, const RebuildOptions& options) : options_(options) {
  shards_.resize(std::max(1u, workers));
  for (auto& s : shards_) {
    s = std::make_unique<Shard>();
    s->decoder.set_options(options.decode);
  }
}

RecordFolder::~RecordFolder() = default;

void RecordFolder::tick() {
  // Every 64Ki records, from whichever worker crosses the mark.
  if ((done_.fetch_add(1, std::memory_order_relaxed) & 0xFFFF) != 0xFFFF) return;
  std::lock_guard lock(progress_mu_);
  options_.progress(done_.load(std::memory_order_relaxed), total_);
}

Status RecordFolder::record(unsigned worker, const TopicRecord& r) {
  Shard& s = *shards_[worker];
  ++s.records;
  s.bytes += r.key.size() + (r.value ? r.value->size() : 0);
  if (options_.progress) tick();
  // A key already in the table parsed when it went in; only a new key text is parsed.
  const std::uint64_t h = s.live.hash(r.key);
  Shard::Live* live = s.live.find(r.key, h);
  std::optional<StateKey> parsed;
  if (live == nullptr) {
    auto key = parse_key(r.key);
    if (!key) {
      s.bad_record(r, std::move(key).error());
      if (!r.value) ++s.tombstones;
      return {};
    }
    parsed = std::move(*key);
  }
  if (!r.value) {
    ++s.tombstones;
    if (live != nullptr) s.live.erase(r.key, h);
    return {};
  }
  if (live == nullptr) {
    live = s.live.try_emplace(r.key, h).first;
    live->key = std::move(*parsed);
  }
  // The copy the table keeps (in the superseded value's storage) is also what gets decoded:
  // with simdjson's padding reserved behind it, the value is copied once, not twice. A value
  // that outgrows its storage gets a fresh buffer of just its size: reserve() would double the
  // capacity, and a value one byte longer than the last (a counter gaining a digit) would then
  // hold twice its size for the rest of the rebuild.
  const size_t need = r.value->size() + simdjson::SIMDJSON_PADDING;
  if (live->value.capacity() < need) {
    std::string fresh;
    fresh.reserve(need);
    live->value.swap(fresh);
  }
  live->value.assign(*r.value);
  live->position = RecordPosition{r.partition, r.offset, r.timestamp};
  if (options_.validate) {
    const simdjson::padded_string_view padded(live->value.data(), live->value.size(),
                                              live->value.capacity());
    if (auto st = s.decoder.decode_padded(padded, s.scratch); !st) s.bad_record(r, st.error());
  }
  return {};
}

void RecordFolder::unreadable(unsigned worker, Problem problem) {
  shards_[worker]->unreadable.push_back(std::move(problem));
}

RebuildReport RecordFolder::finish(StateCache& cache) {
  RebuildReport report;
  cache.clear();
  size_t live = 0;
  for (const auto& s : shards_) live += s->live.size();
  cache.reserve(live);
  for (auto& s : shards_) {
    report.records += s->records;
    report.tombstones += s->tombstones;
    report.bytes += s->bytes;
    for (auto& p : s->problems) report.problems.push_back(std::move(p));
    for (auto& p : s->unreadable) report.unreadable.push_back(std::move(p));
    // Keys, key texts and values move into the cache: nothing is copied.
    s->live.drain([&](std::string&& text, Shard::Live&& entry) {
      cache.put(std::move(entry.key), std::move(text), std::move(entry.value), entry.position);
    });
    s->problems.clear();
    s->unreadable.clear();
  }
  std::sort(report.problems.begin(), report.problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  if (options_.progress) options_.progress(report.records, total_);
  report.live = cache.size();
  return report;
}

}  // namespace aftk::actionstate
