// SPDX-License-Identifier: Apache-2.0
// A reader for the Kryo 5 bytes Flink 2.x's KryoSerializer writes, as JSON text.
//
// Facts it relies on (Kryo 5.6 as Flink 2.3 configures it, checked against genuine payloads in
// tests/data/kryo/): a class is a varint, 0 for null, registered id + 2, or 1 followed by a
// name id and, the first time a name id appears in one object graph, the class name. Every
// object of a class other than the eight boxed primitives then carries a reference varint:
// 1 for a new object (ids count up from 0 in the order objects start), n >= 2 for the object
// with id n - 2. Fixed-size numbers are little-endian.
#include "aftk/checkpoint/kryo.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>

#include "aftk/json/writer.h"

namespace aftk::checkpoint {
namespace {

constexpr std::string_view kInteger = "java.lang.Integer";
constexpr std::string_view kLong = "java.lang.Long";
constexpr std::string_view kString = "java.lang.String";

// Kryo's own registrations (ids 0-8), and the one Flink adds that payloads were seen to use.
std::string_view registered_class(std::uint32_t id) {
  static constexpr std::array<std::string_view, 9> kDefault = {
      kInteger,           kString,          "java.lang.Float",
      "java.lang.Boolean", "java.lang.Byte", "java.lang.Character",
      "java.lang.Short",  kLong,            "java.lang.Double"};
  if (id < kDefault.size()) return kDefault[id];
  if (id == 82) return "java.util.UUID";
  return {};
}

bool is_boxed(std::string_view c) {
  return c == kInteger || c == kLong || c == "java.lang.Float" || c == "java.lang.Boolean" ||
         c == "java.lang.Byte" || c == "java.lang.Character" || c == "java.lang.Short" ||
         c == "java.lang.Double";
}

enum class Shape { kNone, kCollection, kMap };

struct ContainerKind {
  Shape shape = Shape::kNone;
  bool comparator_header = false;  // TreeMap, TreeSet: the comparator comes first
  bool elements_can_be_null = true;
};

ContainerKind container_kind(std::string_view c) {
  if (c == "java.util.ArrayList" || c == "java.util.LinkedList" || c == "java.util.HashSet" ||
      c == "java.util.LinkedHashSet")
    return {Shape::kCollection, false, true};
  if (c == "java.util.TreeSet") return {Shape::kCollection, true, true};
  // List.of and Set.of: Kryo's serializer for them knows the elements are never null.
  if (c == "java.util.ImmutableCollections$ListN" || c == "java.util.ImmutableCollections$List12" ||
      c == "java.util.ImmutableCollections$SetN" || c == "java.util.ImmutableCollections$Set12")
    return {Shape::kCollection, false, false};
  if (c == "java.util.HashMap" || c == "java.util.LinkedHashMap" ||
      c == "java.util.concurrent.ConcurrentHashMap")
    return {Shape::kMap, false, true};
  if (c == "java.util.TreeMap") return {Shape::kMap, true, true};
  if (c == "java.util.ImmutableCollections$MapN" || c == "java.util.ImmutableCollections$Map1")
    return {Shape::kMap, false, false};
  return {};
}

bool utf16_to_utf8(std::string& out, std::span<const std::uint16_t> units) {
  for (std::size_t i = 0; i < units.size(); ++i) {
    std::uint32_t cp = units[i];
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 1 >= units.size() || units[i + 1] < 0xDC00 || units[i + 1] > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (units[i + 1] - 0xDC00);
      ++i;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return false;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return true;
}

// Decimal text of a big-endian two's-complement integer (java.math.BigInteger's bytes).
std::string big_integer_text(std::vector<std::uint8_t> mag) {
  const bool negative = !mag.empty() && (mag[0] & 0x80) != 0;
  if (negative) {  // two's complement: invert and add one
    for (auto& b : mag) b = static_cast<std::uint8_t>(~b);
    for (auto it = mag.rbegin(); it != mag.rend(); ++it)
      if (++*it != 0) break;
  }
  std::vector<std::uint32_t> chunks;  // base 10^9, least significant first
  while (std::any_of(mag.begin(), mag.end(), [](std::uint8_t b) { return b != 0; })) {
    std::uint64_t rem = 0;
    for (auto& b : mag) {
      const std::uint64_t cur = (rem << 8) | b;
      b = static_cast<std::uint8_t>(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    chunks.push_back(static_cast<std::uint32_t>(rem));
  }
  if (chunks.empty()) return "0";
  std::string out = negative ? "-" : "";
  out += std::to_string(chunks.back());
  for (std::size_t i = chunks.size() - 1; i-- > 0;) out += fmt::format("{:09}", chunks[i]);
  return out;
}

// java.time.Instant.toString(): ISO-8601 in UTC, fractions in groups of three digits.
std::string instant_text(std::int64_t seconds, std::uint32_t nanos) {
  std::int64_t days = seconds / 86400;
  std::int64_t secs = seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  std::string out;
  if (y > 9999)
    out = fmt::format("+{}", y);
  else if (y < 0)
    out = fmt::format("-{:04}", -y);
  else
    out = fmt::format("{:04}", y);
  out += fmt::format("-{:02}-{:02}T{:02}:{:02}:{:02}", m, d, secs / 3600, secs / 60 % 60, secs % 60);
  if (nanos != 0) {
    if (nanos % 1000000 == 0)
      out += fmt::format(".{:03}", nanos / 1000000);
    else if (nanos % 1000 == 0)
      out += fmt::format(".{:06}", nanos / 1000);
    else
      out += fmt::format(".{:09}", nanos);
  }
  return out + "Z";
}

constexpr std::size_t kMaxExpansion = std::size_t{64} << 20;
constexpr std::uint32_t kMaxNulls = 1u << 20;

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const KryoRegistry& registry, std::size_t base)
      : b_(bytes), registry_(registry), base_(base) {}

  std::size_t pos() const { return pos_; }

  // A class: nullopt-like empty string for null. Sets top_class_ on the first call.
  Result<std::string> read_class() {
    const std::size_t at = pos_;
    AFTK_TRY_ASSIGN(std::uint32_t id, varint());
    if (id == 0) return std::string();
    if (id == 1) {
      AFTK_TRY_ASSIGN(std::uint32_t name_id, varint());
      if (name_id < names_.size()) return names_[name_id];
      if (name_id != names_.size())
        return corrupt(at, fmt::format("class name id {} out of sequence", name_id));
      AFTK_TRY_ASSIGN(std::optional<std::string> name, string());
      if (!name || name->empty()) return corrupt(at, "empty class name");
      names_.push_back(*name);
      return *name;
    }
    const std::string_view known = registered_class(id - 2);
    if (known.empty())
      return unsupported(at, fmt::format("class registered as id {} is not known", id - 2));
    return std::string(known);
  }

  Status class_and_object(std::string& out, std::string* cls_out = nullptr) {
    AFTK_TRY_ASSIGN(std::string cls, read_class());
    if (cls_out) *cls_out = cls;
    if (cls.empty()) {
      out += "null";
      return {};
    }
    return object(cls, {}, out);
  }

  // writeObject: the reference varint (for tracked classes), then the serializer's bytes.
  Status object(const std::string& cls, std::span<const std::string> generics, std::string& out) {
    if (is_boxed(cls)) return body(cls, generics, out);
    const std::size_t at = pos_;
    AFTK_TRY_ASSIGN(std::uint32_t ref, varint());
    if (ref == 0) return corrupt(at, "null reference where an object must follow");
    return tracked(cls, generics, ref, at, out);
  }

  // writeObjectOrNull: a varint first, 0 for null.
  Status object_or_null(const std::string& cls, std::span<const std::string> generics,
                        std::string& out) {
    const std::size_t at = pos_;
    AFTK_TRY_ASSIGN(std::uint32_t ref, varint());
    if (ref == 0) {
      out += "null";
      return {};
    }
    if (is_boxed(cls)) {
      if (ref != 1) return corrupt(at, fmt::format("bad null marker {}", ref));
      return body(cls, generics, out);
    }
    return tracked(cls, generics, ref, at, out);
  }

 private:
  Status tracked(const std::string& cls, std::span<const std::string> generics, std::uint32_t ref,
                 std::size_t at, std::string& out) {
    if (ref >= 2) {
      const std::size_t id = ref - 2;
      if (id >= refs_.size()) return corrupt(at, fmt::format("reference to unknown object {}", id));
      if (!refs_[id])
        return unsupported(at, fmt::format("reference to object {} while it is read (a cycle)", id));
      // References repeat whole objects, so a few bytes could stand for a JSON text of any size.
      expanded_ += refs_[id]->size();
      if (expanded_ > kMaxExpansion)
        return unsupported(at, "references repeat more than 64 MiB of JSON");
      out += *refs_[id];
      return {};
    }
    const std::size_t slot = refs_.size();
    refs_.emplace_back();
    const std::size_t start = out.size();
    AFTK_TRY(body(cls, generics, out));
    refs_[slot] = out.substr(start);
    return {};
  }

  Status body(const std::string& cls, std::span<const std::string> generics, std::string& out) {
    if (++depth_ > 64) return unsupported(pos_, "objects nested more than 64 deep");
    Status s = body_inner(cls, generics, out);
    --depth_;
    return s;
  }

  Status body_inner(const std::string& cls, std::span<const std::string> generics,
                    std::string& out) {
    const std::size_t at = pos_;
    if (cls == kInteger) return int_value(out);
    if (cls == kLong) return long_value(out);
    if (cls == kString) {
      AFTK_TRY_ASSIGN(std::optional<std::string> s, string());
      if (!s)
        out += "null";
      else
        json::append_string(out, *s, json::Escape::kRawUnicode);
      return {};
    }
    if (cls == "java.lang.Boolean") {
      AFTK_TRY_ASSIGN(std::uint64_t v, fixed(1));
      if (v > 1) return corrupt(at, fmt::format("boolean byte {}", v));
      out += v ? "true" : "false";
      return {};
    }
    if (cls == "java.lang.Byte") return fixed_signed(1, out);
    if (cls == "java.lang.Short") return fixed_signed(2, out);
    if (cls == "java.lang.Character") {
      AFTK_TRY_ASSIGN(std::uint64_t v, fixed(2));
      std::string text;
      const auto unit = static_cast<std::uint16_t>(v);
      if (!utf16_to_utf8(text, {&unit, 1}))
        return unsupported(at, "a lone surrogate char has no JSON form");
      json::append_string(out, text, json::Escape::kRawUnicode);
      return {};
    }
    if (cls == "java.lang.Float") {
      AFTK_TRY_ASSIGN(std::uint64_t v, fixed(4));
      float f;
      const auto u = static_cast<std::uint32_t>(v);
      std::memcpy(&f, &u, 4);
      if (!std::isfinite(f)) return unsupported(at, "a non-finite float has no JSON form");
      out += json::java_float_to_string(f);
      return {};
    }
    if (cls == "java.lang.Double") {
      AFTK_TRY_ASSIGN(std::uint64_t v, fixed(8));
      double d;
      std::memcpy(&d, &v, 8);
      if (!std::isfinite(d)) return unsupported(at, "a non-finite double has no JSON form");
      json::append_java_double(out, d);
      return {};
    }
    if (cls == "[B" || cls == "[I" || cls == "[J") return primitive_array(cls, out);
    if (cls == "[Ljava.lang.String;") {
      AFTK_TRY_ASSIGN(std::uint32_t n, varint());
      if (n == 0) {
        out += "null";
        return {};
      }
      if (n - 1 > b_.size() - pos_) return truncated();
      out += '[';
      for (std::uint32_t i = 0; i + 1 < n; ++i) {
        if (i) out += ',';
        AFTK_TRY(object_or_null(std::string(kString), {}, out));
      }
      out += ']';
      return {};
    }
    if (cls == "java.util.Date") {
      AFTK_TRY_ASSIGN(std::uint64_t v, varlong());
      json::append_int(out, static_cast<std::int64_t>(v));
      return {};
    }
    if (cls == "java.time.Instant") {
      AFTK_TRY_ASSIGN(std::uint64_t secs, varlong());
      AFTK_TRY_ASSIGN(std::uint32_t nanos, varint());
      if (nanos > 999999999) return corrupt(at, fmt::format("Instant nanos {}", nanos));
      json::append_string(out, instant_text(static_cast<std::int64_t>(secs), nanos));
      return {};
    }
    if (cls == "java.math.BigInteger") {
      AFTK_TRY_ASSIGN(std::uint32_t n, varint());
      if (n == 0) {
        out += "null";
        return {};
      }
      AFTK_TRY_ASSIGN(auto bytes, take(n - 1));
      out += big_integer_text({bytes.begin(), bytes.end()});
      return {};
    }
    const ContainerKind kind = container_kind(cls);
    if (kind.shape == Shape::kCollection) return collection(kind, generics, out);
    if (kind.shape == Shape::kMap) return map(kind, generics, out);
    if (const KryoClassLayout* layout = registry_.find(cls)) return fields(*layout, out);
    return unsupported(at, fmt::format("no reader for class {}", cls));
  }

  Status primitive_array(const std::string& cls, std::string& out) {
    AFTK_TRY_ASSIGN(std::uint32_t n, varint());
    if (n == 0) {
      out += "null";
      return {};
    }
    if (n - 1 > b_.size() - pos_) return truncated();  // a byte an element at least
    out += '[';
    for (std::uint32_t i = 0; i + 1 < n; ++i) {
      if (i) out += ',';
      if (cls == "[B") {
        AFTK_TRY_ASSIGN(std::uint64_t v, fixed(1));
        json::append_int(out, static_cast<std::int64_t>(v));
      } else if (cls == "[I") {
        AFTK_TRY(int_value(out));
      } else {
        AFTK_TRY(long_value(out));
      }
    }
    out += ']';
    return {};
  }

  Status collection(const ContainerKind& kind, std::span<const std::string> generics,
                    std::string& out) {
    const std::string elem = generics.empty() ? std::string() : generics[0];
    std::uint32_t length = 0;
    bool flag = false;
    if (!elem.empty() && !kind.elements_can_be_null) {
      AFTK_TRY_ASSIGN(length, varint());
    } else {
      AFTK_TRY_ASSIGN(auto fl, varint_flag());
      flag = fl.first;
      length = fl.second;
    }
    if (length == 0) {
      out += "null";
      return {};
    }
    --length;
    if (kind.comparator_header) AFTK_TRY(comparator());
    // Every element takes a byte at least, but for a run of nulls written as one class.
    if (length > b_.size() - pos_ && !(elem.empty() && flag)) return truncated();
    out += '[';
    if (length == 0) {
      out += ']';
      return {};
    }
    if (!elem.empty()) {  // known element class: flag says whether some are null
      for (std::uint32_t i = 0; i < length; ++i) {
        if (i) out += ',';
        AFTK_TRY(flag ? object_or_null(elem, {}, out) : object(elem, {}, out));
      }
    } else if (flag) {  // all elements of one class, written once
      AFTK_TRY_ASSIGN(std::string cls, read_class());
      if (cls.empty() && length > kMaxNulls)  // all null: no bytes bound the count
        return unsupported(pos_, fmt::format("a collection of {} nulls", length));
      if (!cls.empty() && length > b_.size() - pos_) return truncated();
      bool has_null = false;
      if (!cls.empty() && kind.elements_can_be_null) {
        AFTK_TRY_ASSIGN(std::uint64_t b, fixed(1));
        has_null = b != 0;
      }
      for (std::uint32_t i = 0; i < length; ++i) {
        if (i) out += ',';
        if (cls.empty())
          out += "null";
        else
          AFTK_TRY(has_null ? object_or_null(cls, {}, out) : object(cls, {}, out));
      }
    } else {
      for (std::uint32_t i = 0; i < length; ++i) {
        if (i) out += ',';
        AFTK_TRY(class_and_object(out));
      }
    }
    out += ']';
    return {};
  }

  Status map(const ContainerKind& kind, std::span<const std::string> generics, std::string& out) {
    const std::string key_cls = generics.size() > 0 ? generics[0] : std::string();
    const std::string val_cls = generics.size() > 1 ? generics[1] : std::string();
    AFTK_TRY_ASSIGN(std::uint32_t length, varint());
    if (length == 0) {
      out += "null";
      return {};
    }
    --length;
    if (kind.comparator_header) AFTK_TRY(comparator());
    if (length > b_.size() - pos_) return truncated();  // each entry takes two bytes at least
    out += '{';
    std::string key;
    for (std::uint32_t i = 0; i < length; ++i) {
      if (i) out += ',';
      key.clear();
      AFTK_TRY(entry_part(key_cls, kind.elements_can_be_null, key));
      if (!key.empty() && key[0] == '"')
        out += key;
      else
        json::append_string(out, key, json::Escape::kRawUnicode);
      out += ':';
      AFTK_TRY(entry_part(val_cls, kind.elements_can_be_null, out));
    }
    out += '}';
    return {};
  }

  Status entry_part(const std::string& cls, bool can_be_null, std::string& out) {
    if (cls.empty()) return class_and_object(out);
    return can_be_null ? object_or_null(cls, {}, out) : object(cls, {}, out);
  }

  // TreeMap and TreeSet write their comparator first; only the natural order (null) is read.
  Status comparator() {
    const std::size_t at = pos_;
    std::string ignored;
    std::string cls;
    AFTK_TRY(class_and_object(ignored, &cls));
    if (!cls.empty()) return unsupported(at, fmt::format("comparator {}", cls));
    return {};
  }

  Status fields(const KryoClassLayout& layout, std::string& out) {
    std::vector<std::size_t> order(layout.fields.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return layout.fields[a].name < layout.fields[b].name;
    });
    std::vector<std::string> values(layout.fields.size());
    for (std::size_t i : order) AFTK_TRY(field(layout.fields[i], values[i]));
    out += '{';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out += ',';
      json::append_string(out, layout.fields[i].name);
      out += ':';
      out += values[i];
    }
    out += '}';
    return {};
  }

  Status field(const KryoField& f, std::string& out) {
    switch (f.kind) {
      case KryoFieldKind::kInt:
        return int_value(out);
      case KryoFieldKind::kLong:
        return long_value(out);
      case KryoFieldKind::kShort:
        return body("java.lang.Short", {}, out);
      case KryoFieldKind::kByte:
        return body("java.lang.Byte", {}, out);
      case KryoFieldKind::kChar:
        return body("java.lang.Character", {}, out);
      case KryoFieldKind::kBoolean:
        return body("java.lang.Boolean", {}, out);
      case KryoFieldKind::kFloat:
        return body("java.lang.Float", {}, out);
      case KryoFieldKind::kDouble:
        return body("java.lang.Double", {}, out);
      case KryoFieldKind::kString:
        return object_or_null(std::string(kString), {}, out);
      case KryoFieldKind::kObject: {
        AFTK_TRY_ASSIGN(std::string cls, read_class());
        if (cls.empty()) {
          out += "null";
          return {};
        }
        return object(cls, f.type_args, out);
      }
    }
    return {};
  }

  Status int_value(std::string& out) {
    AFTK_TRY_ASSIGN(std::uint32_t v, varint());
    json::append_int(out, static_cast<std::int32_t>((v >> 1) ^ (0u - (v & 1))));
    return {};
  }

  Status long_value(std::string& out) {
    AFTK_TRY_ASSIGN(std::uint64_t v, varlong());
    json::append_int(out, static_cast<std::int64_t>((v >> 1) ^ (0ull - (v & 1))));
    return {};
  }

  Status fixed_signed(int n, std::string& out) {
    AFTK_TRY_ASSIGN(std::uint64_t v, fixed(n));
    const int shift = 64 - 8 * n;
    json::append_int(out, static_cast<std::int64_t>(v << shift) >> shift);
    return {};
  }

  Result<std::uint64_t> fixed(int n) {
    AFTK_TRY_ASSIGN(auto bytes, take(n));
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | bytes[i];
    return v;
  }

  Result<std::span<const std::uint8_t>> take(std::size_t n) {
    if (n > b_.size() - pos_) return truncated();
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  Result<std::uint8_t> byte() {
    if (pos_ >= b_.size()) return truncated();
    return b_[pos_++];
  }

  // Kryo's unsigned varint: 7 bits a byte, low first, at most 5 bytes.
  Result<std::uint32_t> varint() {
    std::uint32_t v = 0;
    for (int i = 0; i < 5; ++i) {
      AFTK_TRY_ASSIGN(std::uint8_t b, byte());
      v |= static_cast<std::uint32_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    return corrupt(pos_ - 5, "varint longer than 5 bytes");
  }

  // Kryo's varlong: 7 bits a byte for eight bytes, then a ninth byte of full 8 bits.
  Result<std::uint64_t> varlong() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      AFTK_TRY_ASSIGN(std::uint8_t b, byte());
      v |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    AFTK_TRY_ASSIGN(std::uint8_t last, byte());
    return v | (static_cast<std::uint64_t>(last) << 56);
  }

  // A varint whose first byte carries a flag in bit 7 and 6 value bits (bit 6: more follow).
  Result<std::pair<bool, std::uint32_t>> varint_flag() {
    AFTK_TRY_ASSIGN(std::uint8_t first, byte());
    const bool flag = (first & 0x80) != 0;
    std::uint32_t v = first & 0x3F;
    if (first & 0x40) {
      for (int i = 0; i < 5; ++i) {
        AFTK_TRY_ASSIGN(std::uint8_t b, byte());
        v |= static_cast<std::uint32_t>(b & 0x7F) << (6 + 7 * i);
        if ((b & 0x80) == 0) return std::pair{flag, v};
      }
      return corrupt(pos_, "flagged varint too long");
    }
    return std::pair{flag, v};
  }

  // Kryo's string: ASCII bytes ending in one with bit 7 set, or (bit 7 of the first byte set)
  // a flagged varint of char count + 1 (0 null, 1 empty) and that many chars, 1-3 bytes each.
  Result<std::optional<std::string>> string() {
    const std::size_t at = pos_;
    AFTK_TRY_ASSIGN(std::uint8_t first, byte());
    if ((first & 0x80) == 0) {
      std::string s(1, static_cast<char>(first));
      for (;;) {
        AFTK_TRY_ASSIGN(std::uint8_t b, byte());
        s += static_cast<char>(b & 0x7F);
        if (b & 0x80) return std::optional<std::string>(std::move(s));
      }
    }
    --pos_;
    AFTK_TRY_ASSIGN(auto fl, varint_flag());
    if (fl.second == 0) return std::optional<std::string>();
    const std::uint32_t count = fl.second - 1;
    if (count > b_.size() - pos_) return truncated();
    std::vector<std::uint16_t> units;
    units.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      AFTK_TRY_ASSIGN(std::uint8_t b, byte());
      switch (b >> 4) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
          units.push_back(b);
          break;
        case 12: case 13: {
          AFTK_TRY_ASSIGN(std::uint8_t b2, byte());
          units.push_back(static_cast<std::uint16_t>((b & 0x1F) << 6 | (b2 & 0x3F)));
          break;
        }
        case 14: {
          AFTK_TRY_ASSIGN(std::uint8_t b2, byte());
          AFTK_TRY_ASSIGN(std::uint8_t b3, byte());
          units.push_back(
              static_cast<std::uint16_t>((b & 0x0F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F)));
          break;
        }
        default:
          return corrupt(pos_ - 1, fmt::format("byte {:#04x} cannot start a char", b));
      }
    }
    std::string s;
    if (!utf16_to_utf8(s, units)) return unsupported(at, "string with an unpaired surrogate");
    return std::optional<std::string>(std::move(s));
  }

  // Offsets in messages count from the start of the caller's file or buffer (base_).
  Unexpected truncated() const {
    const std::size_t at = base_ + b_.size();
    return fail(Errc::kCorruptRecord, fmt::format("truncated Kryo data at byte {}", at),
                fmt::format("byte {}", at));
  }
  Unexpected corrupt(std::size_t at, std::string what) const {
    at += base_;
    return fail(Errc::kCorruptRecord, fmt::format("bad Kryo data at byte {}: {}", at, what),
                fmt::format("byte {}", at));
  }
  Unexpected unsupported(std::size_t at, std::string what) const {
    at += base_;
    return fail(Errc::kUnsupported, fmt::format("cannot read Kryo data at byte {}: {}", at, what),
                fmt::format("byte {}", at));
  }

  std::span<const std::uint8_t> b_;
  const KryoRegistry& registry_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::size_t expanded_ = 0;  // JSON bytes written again for back-references
  std::vector<std::string> names_;                // name id -> class name
  std::vector<std::optional<std::string>> refs_;  // reference id -> its JSON once read
};

KryoRegistry make_standard() {
  KryoRegistry r;
  r.add({std::string(kRecoveryMarkerClass),
         {{"schemaVersion", KryoFieldKind::kInt, {}},
          {"topic", KryoFieldKind::kString, {}},
          {"topicId", KryoFieldKind::kString, {}},
          {"offsets", KryoFieldKind::kObject, {std::string(kInteger), std::string(kLong)}}}});
  return r;
}

}  // namespace

bool append_utf16(std::string& out, std::span<const std::uint16_t> units) {
  return utf16_to_utf8(out, units);
}

const KryoRegistry& KryoRegistry::standard() {
  static const KryoRegistry r = make_standard();
  return r;
}

void KryoRegistry::add(KryoClassLayout layout) {
  std::string name = layout.name;
  layouts_.insert_or_assign(std::move(name), std::move(layout));
}

const KryoClassLayout* KryoRegistry::find(std::string_view name) const {
  auto it = layouts_.find(name);
  return it == layouts_.end() ? nullptr : &it->second;
}

Result<KryoValue> read_class_and_object(std::span<const std::uint8_t> bytes,
                                        const KryoRegistry& registry, std::size_t base_offset) {
  Reader r(bytes, registry, base_offset);
  KryoValue v;
  AFTK_TRY(r.class_and_object(v.json, &v.java_class));
  v.size = r.pos();
  return v;
}

KryoValue decode_payload(std::span<const std::uint8_t> bytes, const KryoRegistry& registry) {
  auto r = read_class_and_object(bytes, registry);
  if (r && r->size == bytes.size()) return std::move(r).value();
  KryoValue v;
  v.opaque = true;
  v.size = bytes.size();
  if (r) {
    v.java_class = r->java_class;
    v.reason = fmt::format("{} bytes left over after the object at byte {}",
                           bytes.size() - r->size, r->size);
    return v;
  }
  v.reason = r.error().message;
  Reader head(bytes, registry, 0);
  if (auto cls = head.read_class()) v.java_class = *cls;
  return v;
}

}  // namespace aftk::checkpoint
