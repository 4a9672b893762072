// SPDX-License-Identifier: Apache-2.0
// Appending JSON text: Jackson's string escaping and Java number formatting (the exact bytes of
// re-encoded values), and a streaming writer for the JSON the tools print.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

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
/// A lone surrogate escape ("\ud800", or a low surrogate without a high one before it) is
/// written as an upper-case \uXXXX escape in either mode: Jackson's parser takes it into the
/// Java String as it is, and its UTF-8 generator writes such a char back as that escape (checked
/// with jackson-databind 2.18.2). Returns false, appending nothing, for text that is not a valid
/// JSON string body (raw control characters, bad escapes); the caller then takes the slow path.
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

/// Streams one JSON value (usually an object) into a string, placing the commas and colons
/// itself. Every string it writes uses one rule, Escape::kRawUnicode unless told otherwise: the
/// JSON our tools print keeps non-BMP characters as UTF-8, as the event logs do. Re-encoding an
/// ActionState byte for byte is the serde encoder's job, not this writer's.
///
///   json::Writer w(line);
///   w.begin_object().field("partition", 3).key("key").value(text).end_object();
class Writer {
 public:
  explicit Writer(std::string& out, Escape mode = Escape::kRawUnicode) : out_(out), mode_(mode) {}

  Writer& begin_object() { return open('{'); }
  Writer& end_object() { return close('}'); }
  Writer& begin_array() { return open('['); }
  Writer& end_array() { return close(']'); }
  /// A member name; the next call writes its value.
  Writer& key(std::string_view name);

  Writer& value(std::string_view s);
  Writer& value(const char* s) { return value(std::string_view(s)); }
  Writer& value(const std::string& s) { return value(std::string_view(s)); }
  Writer& value(bool b) { return raw(b ? "true" : "false"); }
  /// Shortest form that reads back as the same double; NaN and infinities become null.
  Writer& value(double d);
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Writer& value(T v) {
    return std::is_signed_v<T> ? integer(static_cast<std::int64_t>(v))
                               : unsigned_integer(static_cast<std::uint64_t>(v));
  }
  /// The string, or null when there is none.
  Writer& value(const std::optional<std::string>& s) { return s ? value(*s) : null(); }
  Writer& null() { return raw("null"); }
  /// JSON text written as it is (the caller guarantees it is one valid JSON value).
  Writer& raw(std::string_view json);
  /// The output, for an encoder to append exactly one JSON value to in place of raw().
  std::string& raw_target() {
    separate();
    return out_;
  }

  /// key(name) then value(v).
  template <class T>
  Writer& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }
  /// key(name) then raw(json).
  Writer& raw_field(std::string_view name, std::string_view json) {
    key(name);
    return raw(json);
  }

 private:
  // Before a value or an opening bracket: the comma that separates it from the one before.
  void separate();
  Writer& open(char bracket);
  Writer& close(char bracket);
  Writer& integer(std::int64_t v);
  Writer& unsigned_integer(std::uint64_t v);

  std::string& out_;
  Escape mode_;
  std::uint64_t has_items_ = 0;  // bit d: the container at depth d holds a value already
  int depth_ = 0;
  bool after_key_ = false;
};

/// `json` (one valid JSON value, compact or not) re-indented with two spaces per level, members
/// and elements one per line, as jq prints it; empty objects and arrays stay "{}" and "[]".
std::string pretty(std::string_view json);

}  // namespace aftk::json
