// SPDX-License-Identifier: Apache-2.0
// RecordFolder: turns the records of a log into live states, the one place that does.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "aftk/actionstate/store.h"

namespace aftk::actionstate {

/// Folds records into live states as a rebuild does: each key text parsed once, a tombstone
/// deletes, the last value of a key wins, values validated (when asked) as they arrive, and
/// every bad record kept as a Problem with its position. Each scan worker folds into a shard of
/// its own, so workers never contend; finish() moves the shards' states into a StateCache
/// without copying them. Records of one key must reach one worker (a partition's records do:
/// a key lives in one partition).
class RecordFolder final : public ScanSink {
 public:
  RecordFolder(unsigned workers, const RebuildOptions& options);
  ~RecordFolder() override;
  RecordFolder(const RecordFolder&) = delete;
  RecordFolder& operator=(const RecordFolder&) = delete;

  void expect(std::uint64_t records) override { total_ = records; }
  Status record(unsigned worker, const TopicRecord& record) override;
  void unreadable(unsigned worker, Problem problem) override;

  unsigned workers() const { return static_cast<unsigned>(shards_.size()); }

  /// Replaces the contents of `cache` with the live states and returns the counts and problems
  /// (problems in partition and offset order, unreadable input in the order it was met). The
  /// folder is empty afterwards.
  RebuildReport finish(StateCache& cache);

 private:
  struct Shard;
  void tick();
  const RebuildOptions& options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> done_{0};
  std::mutex progress_mu_;
};

}  // namespace aftk::actionstate
