// SPDX-License-Identifier: Apache-2.0
// Record filters (type, key, id, time, level, status, field predicates) and the prefilter needles.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/eventlog/record.h"
#include "aftk/result.h"

namespace aftk::eventlog {

/// Shell-style glob: '*' any run, '?' one character (byte), '[abc]'/'[a-z]'/'[!a]' a set.
bool glob_match(std::string_view pattern, std::string_view text);
/// True when `pattern` has glob metacharacters.
bool is_glob(std::string_view pattern);

/// A time bound: RFC 3339 ("2026-11-18T11:06:43Z"), a date, "now", or relative to `now_ns`
/// ("-15m", "15m", "2h", "1d", "30s", "500ms"; a leading '-' is optional, it always means ago).
/// Errors: INVALID_ARGUMENT.
Result<std::int64_t> parse_time_bound(std::string_view text, std::int64_t now_ns);

/// A compiled regular expression (std::regex inside; kept out of this header so that <regex> is
/// compiled in one place, see filter.cpp).
struct Regex;

/// A condition on one dotted path: "path=value" (equal), "path~=text" (contains),
/// "path=~regex" (ECMAScript regex search).
struct FieldPredicate {
  enum class Op { kEquals, kContains, kRegex };
  std::vector<std::string> path;
  Op op = Op::kEquals;
  std::string value;
  std::shared_ptr<const Regex> regex;

  /// Parses "a.b=v", "a.b~=v" or "a.b=~re". Errors: INVALID_ARGUMENT (no operator, bad regex).
  static Result<FieldPredicate> parse(std::string_view text);
};

/// The text a dotted path selects in a record, if any: top-level names (eventType, businessKey,
/// status, ...), "eventAttributes."/"attributes." paths into the attributes, "entityMetadata."
/// paths, and otherwise the path looked up in the attributes. Strings come unescaped; other
/// values as their JSON text.
std::optional<std::string> field_text(const Record& record, const std::vector<std::string>& path);

/// Like field_text, but the selected value as JSON text (strings quoted).
std::optional<std::string> field_json(const Record& record, const std::vector<std::string>& path);

/// All conditions are ANDed; the values within one list are ORed.
struct Filter {
  std::vector<std::string> types;      // exact or glob
  std::vector<std::string> keys;       // business keys
  std::vector<std::string> event_ids;  // also matches upstreamEventId? no: the record's own id
  std::optional<std::int64_t> since_ns, until_ns;  // inclusive / exclusive
  std::vector<std::string> levels;                 // case-insensitive
  std::vector<std::string> statuses;               // lifecycle status (or Trace Log status)
  std::vector<FieldPredicate> fields;

  /// Which files needles are for: upstream writes event-log records (events-*.log, whose type is
  /// "eventType") and Trace Log records (traces-*.log, "entityName") to different files.
  enum class Scope { kAny, kEventLog, kTraceLog };

  bool empty() const;
  bool matches(const Record& record) const;
  /// Byte strings of which every matching compact record contains at least one; empty when no
  /// condition allows such a shortcut. Feed them to ReadOptions::needles.
  std::vector<std::string> needles(Scope scope = Scope::kAny) const;
};

/// The needle scope for an input by its file name: traces-*.log and *.trace-log.log are Trace
/// Logs, events-*.log and *.event-log.log event logs (also gzipped); anything else may hold either.
Filter::Scope needle_scope_for(std::string_view path);

}  // namespace aftk::eventlog
