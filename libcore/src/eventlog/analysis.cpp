// SPDX-License-Identifier: Apache-2.0
// Directory listing, timestamp merge, statistics and lineage for event logs.
#include "aftk/eventlog/analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>

namespace aftk::eventlog {

Result<std::vector<std::string>> list_log_files(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> out;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) return fail(Errc::kIo, fmt::format("cannot list directory '{}': {}", dir, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec)
      return fail(Errc::kIo, fmt::format("cannot list directory '{}': {}", dir, ec.message()));
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    std::string base = name;
    if (base.size() > 3 && base.ends_with(".gz")) base.resize(base.size() - 3);
    const bool match =
        ((base.starts_with("events-") || base.starts_with("traces-")) && base.ends_with(".log")) ||
        base.ends_with(".event-log.log") || base.ends_with(".trace-log.log");
    if (match) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

MergedReader::MergedReader(std::vector<std::unique_ptr<Reader>> readers)
    : readers_(std::move(readers)), heads_(readers_.size()) {}

Status MergedReader::advance(size_t i) {
  Head& h = heads_[i];
  const std::int64_t previous = h.live ? h.key : std::numeric_limits<std::int64_t>::min();
  AFTK_TRY_ASSIGN(Reader::Next n, readers_[i]->next(h.record));
  h.live = n == Reader::Next::kRecord;
  if (h.live) {
    h.record.source = i;
    // An unparsable or earlier timestamp keeps its place behind the input's previous record.
    h.key = std::max(previous, h.record.time_ns.value_or(previous));
  }
  return {};
}

Result<bool> MergedReader::next(Record& out) {
  if (!started_) {
    for (size_t i = 0; i < readers_.size(); ++i) AFTK_TRY(advance(i));
    started_ = true;
  }
  size_t best = heads_.size();
  for (size_t i = 0; i < heads_.size(); ++i)
    if (heads_[i].live && (best == heads_.size() || heads_[i].key < heads_[best].key)) best = i;
  if (best == heads_.size()) return false;
  std::swap(out, heads_[best].record);
  AFTK_TRY(advance(best));
  return true;
}

void Stats::add(const Record& r) {
  ++records;
  if (r.truncated()) ++truncated;
  ++by_type[r.event_type];
  ++by_key[r.business_key ? *r.business_key : std::string("(none)")];
  ++by_level[r.level.empty() ? std::string("(none)") : r.level];
  ++by_form[std::string(form_name(r.form))];
  if (r.status) ++by_status[*r.status];
  if (r.time_ns) {
    if (!first_ns || *r.time_ns < *first_ns) {
      first_ns = r.time_ns;
      first_timestamp = r.timestamp;
    }
    if (!last_ns || *r.time_ns > *last_ns) {
      last_ns = r.time_ns;
      last_timestamp = r.timestamp;
    }
  }
}

void Lineage::add(const Record& r) {
  TreeNode n;
  n.event_id = r.event_id;
  n.event_type = r.event_type;
  n.timestamp = r.timestamp;
  n.upstream_event_id = r.upstream_event_id;
  n.upstream_action_name = r.upstream_action_name;
  n.business_key = r.business_key;
  index_.emplace(n.event_id, nodes.size());  // the first record of a repeated id wins
  nodes.push_back(std::move(n));
}

void Lineage::link() {
  roots.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    TreeNode& n = nodes[i];
    n.has_parent = false;
    if (n.upstream_event_id) {
      auto it = index_.find(*n.upstream_event_id);
      if (it != index_.end() && it->second != i) {
        nodes[it->second].children.push_back(i);
        n.has_parent = true;
        continue;
      }
    }
    roots.push_back(i);
  }
}

}  // namespace aftk::eventlog
