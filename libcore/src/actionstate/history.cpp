// SPDX-License-Identifier: Apache-2.0
// Single records and key histories, read through the store's scan().
#include "aftk/actionstate/history.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

namespace aftk::actionstate {

namespace {

// Keeps the records a predicate accepts; scans here run on one worker, in record order.
class CollectSink : public ScanSink {
 public:
  explicit CollectSink(std::function<bool(const TopicRecord&)> keep) : keep_(std::move(keep)) {}
  Status record(unsigned, const TopicRecord& r) override {
    ++scanned;
    if (!keep_(r)) return {};
    HistoryRecord h;
    h.position = {r.partition, r.offset, r.timestamp};
    h.line = r.line;
    h.key.assign(r.key);
    if (auto k = parse_key(r.key)) h.state_key = std::move(*k);
    if (r.value) h.value.emplace(*r.value);
    records.push_back(std::move(h));
    return {};
  }
  void unreadable(unsigned, Problem problem) override { problems.push_back(std::move(problem)); }

  std::vector<HistoryRecord> records;
  std::vector<Problem> problems;
  std::uint64_t scanned = 0;

 private:
  std::function<bool(const TopicRecord&)> keep_;
};

// Scans the whole of each partition in `partitions` (all when empty).
Status scan_partitions(LogStore& store, const std::vector<std::int32_t>& partitions,
                       ScanSink& sink) {
  if (partitions.empty()) {
    AFTK_TRY(store.scan_all(1, sink));
    return {};
  }
  AFTK_TRY_ASSIGN(const LogOffsets now, store.offsets());
  std::vector<ScanRange> ranges;
  for (const std::int32_t p : partitions) {
    const auto b = now.begin.find(p);
    const auto e = now.end.find(p);
    if (b == now.begin.end() || e == now.end.end() || e->second <= b->second) continue;
    ranges.push_back({p, b->second, e->second});
  }
  if (ranges.empty()) return {};
  return store.scan(ranges, 1, sink);
}

bool looks_like_business_key_id(std::string_view s) {
  if (s.size() != 44 || s.back() != '=') return false;
  return std::all_of(s.begin(), s.end() - 1, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
  });
}

}  // namespace

std::vector<std::int32_t> partitions_for_identity(std::string_view identity,
                                                  std::int32_t num_partitions) {
  std::vector<std::int32_t> out;
  // The partitioner hashes a 0.3 key's first '_' field and a 0.4 key's last: a made-up key of
  // each format with this identity lands where the real ones do.
  constexpr std::string_view kUuid = "00000000-0000-0000-0000-000000000000";
  if (!identity.empty()) {
    const std::string v03 = fmt::format("{}_0_{}_{}", identity, kUuid, kUuid);
    if (auto p = partition_for_key(v03, num_partitions)) out.push_back(*p);
  }
  if (looks_like_business_key_id(identity)) {
    const std::string v04 = fmt::format("0_0_{}_{}_{}", kUuid, kUuid, identity);
    if (auto p = partition_for_key(v04, num_partitions)) out.push_back(*p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<History> read_history(LogStore& store, const std::vector<std::string>& identities) {
  History h;
  for (const auto& id : identities) {
    for (const std::int32_t p : partitions_for_identity(id, store.num_partitions()))
      h.partitions.push_back(p);
  }
  std::sort(h.partitions.begin(), h.partitions.end());
  h.partitions.erase(std::unique(h.partitions.begin(), h.partitions.end()), h.partitions.end());
  // Asked for keys none of which any partition can hold: read nothing rather than everything.
  if (!identities.empty() && h.partitions.empty()) return h;
  CollectSink sink([](const TopicRecord&) { return true; });
  AFTK_TRY(scan_partitions(store, h.partitions, sink));
  h.scanned = sink.scanned;
  h.unreadable = std::move(sink.problems);
  for (auto& r : sink.records) {
    if (!r.state_key) {
      ++h.unparsed;  // whose key it is cannot be told: counted, for every lookup
      continue;
    }
    if (!identities.empty() && std::find(identities.begin(), identities.end(),
                                         r.state_key->identity()) == identities.end())
      continue;
    h.records.push_back(std::move(r));
  }
  // Record order: a dump's line order, a topic's offsets (one key lives in one partition).
  std::stable_sort(h.records.begin(), h.records.end(),
                   [](const HistoryRecord& a, const HistoryRecord& b) {
                     const auto ia = a.state_key->identity(), ib = b.state_key->identity();
                     if (ia != ib) return ia < ib;
                     if (a.state_key->seq != b.state_key->seq)
                       return a.state_key->seq < b.state_key->seq;
                     if (a.line != b.line) return a.line < b.line;
                     return a.position.offset < b.position.offset;
                   });
  return h;
}

Result<std::optional<HistoryRecord>> find_latest(LogStore& store, std::string_view key) {
  AFTK_TRY_ASSIGN(const std::int32_t p, partition_for_key(key, store.num_partitions()));
  CollectSink sink([&](const TopicRecord& r) { return r.key == key; });
  AFTK_TRY(scan_partitions(store, {p}, sink));
  if (sink.records.empty()) return std::optional<HistoryRecord>();
  return std::optional<HistoryRecord>(std::move(sink.records.back()));
}

Result<std::optional<HistoryRecord>> find_at(LogStore& store, std::int32_t partition,
                                             std::int64_t offset) {
  if (partition < 0 || partition >= store.num_partitions())
    return fail(Errc::kInvalidArgument,
                fmt::format("partition {} is outside the store's {} partitions", partition,
                            store.num_partitions()));
  CollectSink sink([&](const TopicRecord& r) { return r.offset == offset; });
  const ScanRange range{partition, offset, offset + 1};
  AFTK_TRY(store.scan({&range, 1}, 1, sink));
  if (sink.records.empty()) return std::optional<HistoryRecord>();
  return std::optional<HistoryRecord>(std::move(sink.records.back()));
}

}  // namespace aftk::actionstate
