// SPDX-License-Identifier: Apache-2.0
// Appending JSON text the way Jackson writes it: string escaping, Java number formatting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aftk::json {

/// How characters outside the Basic Multilingual Plane are written.
enum class Escape {
  /// Jackson's UTF-8 generator (Kafka values, canonical JSON for UUIDs): a non-BMP character
  /// becomes an escaped surrogate pair with upper-case hex, e.g. "\uD83D\uDE00".
  kSurrogatePairs,
  /// Jackson writing to a String then a Writer (event logs): non-BMP characters stay raw UTF-8.
  kRawUnicode,
};

/// Appends `utf8` as a quoted JSON string. Escapes `"` and `\`, uses \b \t \n \f \r, writes the
/// other C0 controls as upper-case \u00XX, and leaves '/', DEL and U+0080..U+FFFF raw.
/// The input must be valid UTF-8 (callers validate it; simdjson does on parse).
void append_string(std::string& out, std::string_view utf8, Escape mode = Escape::kSurrogatePairs);

/// Appends, quoted, the Jackson form of a JSON string given as its raw text between the quotes
/// (escapes still in place), in one pass: Jackson's own escapes are copied, others rewritten.
/// Returns false, appending nothing, for text that is not a valid JSON string body (raw control
/// characters, bad or lone-surrogate escapes); the caller then takes the slow path.
bool append_string_from_json(std::string& out, std::string_view raw_inner, Escape mode);

/// Appends the decimal form of a signed 64-bit integer.
void append_int(std::string& out, std::int64_t v);

/// Appends `v` formatted as Java's Double.toString does on JDK 19 and later ("1.0", "1.0E20",
/// "1.0E-5", "4.9E-324", "NaN", "Infinity"). JDK 11/17 differ for a few values (2.0E23 is
/// 1.9999999999999998E23 there); we follow JDK 19+, the runtime current Flink images ship.
void append_java_double(std::string& out, double v);

/// Java's Double.toString(v), JDK 19+.
std::string java_double_to_string(double v);

/// Java's Float.toString(v), JDK 19+ (shortest digits that round-trip a float).
std::string java_float_to_string(float v);

}  // namespace aftk::json
