// SPDX-License-Identifier: Apache-2.0
// Reading Flink 2.x KryoSerializer bytes (Kryo 5, writeClassAndObject, references on) as JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/result.h"

namespace aftk::checkpoint {

/// UTF-8 of UTF-16 code units (Java strings); false, leaving `out` partly written, when a
/// surrogate is unpaired.
bool append_utf16(std::string& out, std::span<const std::uint16_t> units);

/// How Kryo's FieldSerializer wrote one field, which follows from the field's declared Java type.
enum class KryoFieldKind {
  kInt,      // int: zig-zag varint
  kLong,     // long: zig-zag varlong
  kShort,    // short: 2 bytes
  kByte,     // byte: 1 byte
  kChar,     // char: 2 bytes
  kBoolean,  // boolean: 1 byte
  kFloat,    // float: 4 bytes
  kDouble,   // double: 8 bytes
  kString,   // a field declared String (a final class): reference marker, then the string
  kObject,   // any other declared type: the class first, then the object
};

struct KryoField {
  std::string name;
  KryoFieldKind kind = KryoFieldKind::kObject;
  /// For kObject fields of a generic type whose arguments are final classes (List<String>,
  /// Map<Integer, Long>): those classes' names, in order. Kryo then writes no class for the
  /// elements, so the reader has to know them.
  std::vector<std::string> type_args;
};

/// A class written field by field. Kryo writes no field names and orders fields by name; the
/// layout lists them in declaration order, which is the order the JSON shows them in.
struct KryoClassLayout {
  std::string name;  // Java binary name, e.g. "aftkfx.KryoPojo"
  std::vector<KryoField> fields;
};

/// The classes the reader may decode field by field. Anything written by FieldSerializer whose
/// class is not here is opaque: without the class the bytes cannot be split into fields.
class KryoRegistry {
 public:
  /// The built-in layouts: Flink Agents' KafkaActionStateRecoveryMarker.
  static const KryoRegistry& standard();

  void add(KryoClassLayout layout);
  const KryoClassLayout* find(std::string_view name) const;

 private:
  std::map<std::string, KryoClassLayout, std::less<>> layouts_;
};

inline constexpr std::string_view kRecoveryMarkerClass =
    "org.apache.flink.agents.runtime.actionstate.KafkaActionStateRecoveryMarker";

/// One decoded value.
struct KryoValue {
  std::string java_class;  // the class of the top-level object; empty for null
  /// The value as compact JSON by the kryo fixtures' conventions: byte[] as an array of
  /// unsigned bytes, char as a one-char string, Date as epoch milliseconds, Instant as ISO-8601,
  /// BigInteger as a JSON integer, maps as objects (non-string keys as their JSON text), objects
  /// as their fields. Empty when opaque.
  std::string json;
  bool opaque = false;
  std::size_t size = 0;  // bytes the object took (all of them when opaque)
  std::string reason;    // why it is opaque, with the byte offset
};

/// Reads one writeClassAndObject object starting at bytes[0]; `size` says where it ended (the
/// rest of `bytes` is not looked at). Errors: CORRUPT_RECORD for truncated or malformed bytes,
/// UNSUPPORTED for a class or serializer the reader does not know; both name the byte offset,
/// counted from `base_offset` (where `bytes` starts in the caller's file).
Result<KryoValue> read_class_and_object(std::span<const std::uint8_t> bytes,
                                        const KryoRegistry& registry = KryoRegistry::standard(),
                                        std::size_t base_offset = 0);

/// Decodes a whole payload (an envelope's bytes): never fails. What cannot be read, or leaves
/// bytes over, comes back opaque with the class name (when readable) and the payload size.
KryoValue decode_payload(std::span<const std::uint8_t> bytes,
                         const KryoRegistry& registry = KryoRegistry::standard());

}  // namespace aftk::checkpoint
