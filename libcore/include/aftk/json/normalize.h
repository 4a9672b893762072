// SPDX-License-Identifier: Apache-2.0
// Re-writing arbitrary JSON in Jackson's compact form, and the sorted canonical form.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aftk/json/writer.h"
#include "aftk/result.h"

namespace aftk::json {

/// The deepest nesting of objects and arrays a document may have, the outermost container
/// counting 1: Jackson 2.15 and later (2.18 in the runtime) reject anything deeper
/// (StreamReadConstraints.DEFAULT_MAX_DEPTH), so a value nested deeper never came from, nor
/// would be read by, the runtime. Readers here reject it too instead of recursing without end.
inline constexpr int kMaxNestingDepth = 1000;

struct NormalizeOptions {
  Escape escape = Escape::kSurrogatePairs;
  /// Sort object members by key in Java String.compareTo order (UTF-16 code units), recursively,
  /// as Jackson's ORDER_MAP_ENTRIES_BY_KEYS does for maps.
  bool sort_keys = false;
  /// Containers already open around the value in its document, so that kMaxNestingDepth holds
  /// for the whole document as Jackson counts it.
  int outer_depth = 0;
};

/// simdjson's message for `error`, or ours where it says more (DEPTH_ERROR names the limit).
std::string_view error_text(simdjson::error_code error);

/// Appends the Jackson compact form of one on-demand value: integers keep their digits (any
/// length, "-0" becomes "0", as Jackson reads it as int 0), numbers with '.', 'e' or 'E' are read
/// as doubles and printed by Java's Double.toString, strings are re-escaped.
/// Returns simdjson's error code; SUCCESS when the whole value was written, DEPTH_ERROR for
/// nesting deeper than kMaxNestingDepth.
simdjson::error_code append_normalized(simdjson::ondemand::value value, std::string& out,
                                       const NormalizeOptions& options);

/// The same for an object (e.g. one rewound with reset() after a failed typed read).
simdjson::error_code append_normalized(simdjson::ondemand::object object, std::string& out,
                                       const NormalizeOptions& options);

/// Parses `text` as one JSON document (anything after it is an error) and returns its
/// normalized form. Errors: CORRUPT_RECORD with simdjson's reason.
Result<std::string> normalize(std::string_view text, const NormalizeOptions& options = {});

/// The canonical JSON that ActionStateUtil hashes into an event UUID: compact, keys sorted
/// recursively in UTF-16 order, Jackson's UTF-8 escaping.
Result<std::string> canonical_json(std::string_view text);

/// Compares two UTF-8 strings in Java String.compareTo order (by UTF-16 code units): <0, 0, >0.
int compare_utf16(std::string_view a, std::string_view b);

/// Java's String.hashCode over the UTF-16 code units of a UTF-8 string (int32 wrap-around).
std::int32_t java_string_hash(std::string_view utf8);

/// A reusable buffer that copies text into memory with simdjson's required padding.
class PaddedBuffer {
 public:
  /// Copies `text` and returns a view simdjson may read past the end of.
  simdjson::padded_string_view wrap(std::string_view text);

 private:
  std::vector<char> buf_;
};

/// Validates the JSON number grammar for a raw token (no surrounding whitespace).
bool is_json_number(std::string_view token);

}  // namespace aftk::json
