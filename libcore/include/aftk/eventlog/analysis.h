// SPDX-License-Identifier: Apache-2.0
// Working over many records: timestamp-ordered merging of inputs, statistics, lineage trees.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aftk/eventlog/reader.h"
#include "aftk/eventlog/record.h"
#include "aftk/result.h"

namespace aftk::eventlog {

/// Event-log files in a directory (events-*.log, traces-*.log, *.event-log.log, *.trace-log.log,
/// and the same with .gz), sorted by name. Errors: IO.
Result<std::vector<std::string>> list_log_files(const std::string& dir);

/// Merges several readers into one stream ordered by timestamp (stable: ties keep input order;
/// within one input, records keep file order even when its clock went backwards).
class MergedReader {
 public:
  explicit MergedReader(std::vector<std::unique_ptr<Reader>> readers);
  /// The next record overall; false at the end of every input. Record::source is the index of
  /// the reader it came from. Errors: as Reader::next.
  Result<bool> next(Record& out);
  const std::vector<std::unique_ptr<Reader>>& readers() const { return readers_; }

 private:
  struct Head {
    Record record;
    std::int64_t key = 0;
    bool live = false;
  };
  Status advance(size_t i);
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<Head> heads_;
  bool started_ = false;
};

/// Counts for --stats.
struct Stats {
  std::uint64_t records = 0;
  std::uint64_t truncated = 0;  // records whose attributes carry truncation wrappers
  std::uint64_t torn = 0, corrupt = 0;
  std::map<std::string, std::uint64_t> by_type, by_key, by_level, by_form, by_status;
  std::string first_timestamp, last_timestamp;
  std::optional<std::int64_t> first_ns, last_ns;

  void add(const Record& r);
};

/// One event in a lineage tree.
struct TreeNode {
  std::string event_id, event_type, timestamp;
  std::optional<std::string> upstream_event_id, upstream_action_name, business_key;
  std::vector<size_t> children;  // indexes into Lineage::nodes, in arrival order
  bool has_parent = false;       // its upstream event is in the tree
};

/// The lineage forest rebuilt from upstreamEventId/upstreamActionName.
struct Lineage {
  std::vector<TreeNode> nodes;
  std::vector<size_t> roots;  // events whose upstream is absent or not in the input

  void add(const Record& r);
  /// Links children to parents; call once after the last add().
  void link();

 private:
  std::map<std::string, size_t> index_;
};

}  // namespace aftk::eventlog
