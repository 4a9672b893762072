// SPDX-License-Identifier: Apache-2.0
// Jackson-form re-writing of JSON values, canonical JSON, UTF-16 ordering and hashing.
#include "aftk/detail/scratch.h"
#include "aftk/json/normalize.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "aftk/detail/json_scan.h"

namespace aftk::json {

using simdjson::error_code;
namespace od = simdjson::ondemand;

bool is_json_number(std::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == n;
}

namespace {

std::string_view trim_token(std::string_view t) {
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t'))
    t.remove_suffix(1);
  return t;
}

// The power of ten of the first significant digit of a valid JSON number (d.ddd x 10^result),
// saturated far beyond the double range; 0 for a number whose digits are all zero.
std::int64_t decimal_magnitude(std::string_view s) {
  size_t i = s[0] == '-' ? 1 : 0;
  std::int64_t mag = 0;
  bool found = false;
  std::int64_t int_digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (!found && s[i] != '0') {
      found = true;
      int_digits = 0;
    }
    if (found) ++int_digits;
  }
  if (found) mag = int_digits - 1;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      --int_digits;
      if (!found && s[i] != '0') {
        found = true;
        mag = int_digits;
      }
    }
  }
  if (!found) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    const bool negative = s[i] == '-';
    if (s[i] == '-' || s[i] == '+') ++i;
    std::int64_t e = 0;
    for (; i < s.size(); ++i) e = std::min<std::int64_t>(e * 10 + (s[i] - '0'), 1'000'000'000);
    mag += negative ? -e : e;
  }
  return mag;
}

// A double token as Jackson reads it: Double.parseDouble, which gives +-Infinity past the double
// range and +-0.0 below it where simdjson reports an error.
error_code parse_java_double(std::string_view raw, double& d) {
  const char* end = raw.data() + raw.size();
  const auto [ptr, ec] = std::from_chars(raw.data(), end, d);
  if (ec == std::errc() && ptr == end) return simdjson::SUCCESS;
  if (ec != std::errc::result_out_of_range) return simdjson::NUMBER_ERROR;
  const bool negative = raw[0] == '-';
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (decimal_magnitude(raw) > 0)
    d = negative ? -kInf : kInf;
  else
    d = negative ? -0.0 : 0.0;
  return simdjson::SUCCESS;
}

template <class V>
error_code append_number(V& v, std::string& out) {
  const std::string_view raw = trim_token(v.raw_json_token());
  if (!is_json_number(raw)) return simdjson::NUMBER_ERROR;
  if (raw.find_first_of(".eE") != std::string_view::npos) {
    double d;
    if (v.get_double().get(d)) {
      if (auto err = parse_java_double(raw, d)) return err;
    }
    // 1e400 is a Double to Jackson (Infinity, from Double.parseDouble), and Jackson writes a
    // non-finite double as a string (JsonWriteFeature.WRITE_NAN_AS_STRINGS, on by default):
    // {"a":1e400} is written back {"a":"Infinity"} whether read into a Map<String,Object> or a
    // JsonNode (checked with jackson-databind 2.18.2). The runtime stores what it writes.
    if (std::isinf(d)) {
      out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      return simdjson::SUCCESS;
    }
    append_java_double(out, d);
  } else if (raw == "-0") {
    out.push_back('0');
  } else {
    out.append(raw);
  }
  return simdjson::SUCCESS;
}

struct Member {
  std::string key;     // unescaped, for ordering; lone surrogates as 3-byte sequences
  std::string quoted;  // the key as written, in Jackson's form
  std::string value;
  std::size_t order;  // position in the input, so that equal keys keep their input order
};

// Appends the quoted Jackson form of a member's key.
error_code append_key(od::field& field, std::string& out, const NormalizeOptions& o) {
  // The raw key sits between quotes in the input; use it as is when it needs no rewriting.
  const char* raw_key = field.key().raw();
  const char* key_end = raw_key;
  while (*key_end != '"') key_end += *key_end == '\\' ? 2 : 1;  // skip escaped characters
  const std::string_view raw(raw_key, static_cast<size_t>(key_end - raw_key));
  if (append_string_from_json(out, raw, o.escape)) return simdjson::SUCCESS;
  std::string_view key;
  if (auto err = field.unescaped_key().get(key)) return err;
  append_string(out, key, o.escape);
  return simdjson::SUCCESS;
}

// The text of a quoted Jackson-form string, a lone surrogate written as its 3-byte sequence (not
// valid UTF-8, but compare_utf16 orders it as the UTF-16 unit it is): the sort key of a key that
// simdjson will not unescape.
std::string sort_key_of(std::string_view quoted) {
  std::string out;
  auto unit = [&](size_t at) {
    std::uint32_t u = 0;
    std::from_chars(quoted.data() + at, quoted.data() + at + 4, u, 16);
    return u;
  };
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] != '\\') {
      out.push_back(quoted[i]);
      continue;
    }
    const char c = quoted[++i];
    switch (c) {
      case 'b': out.push_back('\b'); continue;
      case 't': out.push_back('\t'); continue;
      case 'n': out.push_back('\n'); continue;
      case 'f': out.push_back('\f'); continue;
      case 'r': out.push_back('\r'); continue;
      case 'u': break;
      default: out.push_back(c); continue;
    }
    std::uint32_t u = unit(i + 1);
    i += 4;
    if (u >= 0xD800 && u < 0xDC00 && i + 6 < quoted.size() && quoted[i + 1] == '\\' &&
        quoted[i + 2] == 'u') {
      const std::uint32_t lo = unit(i + 3);
      if (lo >= 0xDC00 && lo < 0xE000) {
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      }
    }
    detail::append_utf8(out, u);
  }
  return out;
}

// `depth` is the depth of the container being written (the outermost of a document is 1).
error_code append_object(od::object obj, std::string& out, const NormalizeOptions& o, int depth);
error_code append_array(od::array arr, std::string& out, const NormalizeOptions& o, int depth);

// The recursion over nested containers goes append_any -> append_object/append_array ->
// append_any. Everything that is not on that path (scalars, the sorted-object path) lives in
// functions of its own that are never inlined, so each level of nesting costs only the small
// frames of the path: Jackson's 1000 levels then fit any thread's stack, even under
// AddressSanitizer, whose frames are several times larger.
template <class V>
[[gnu::noinline]] error_code append_scalar(V& v, od::json_type t, std::string& out,
                                           const NormalizeOptions& o) {
  error_code err;
  switch (t) {
    case od::json_type::string: {
      if constexpr (std::is_same_v<V, od::value>) {
        // Inside a document an unconsumed value is skipped by its parent; copy it as it is
        // when it is already in Jackson's form.
        const std::string_view raw = trim_token(v.raw_json_token());
        if (raw.size() >= 2 && raw.back() == '"' &&
            append_string_from_json(out, raw.substr(1, raw.size() - 2), o.escape))
          return simdjson::SUCCESS;
      }
      std::string_view s;
      if ((err = v.get_string().get(s))) return err;
      append_string(out, s, o.escape);
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      return append_number(v, out);
    case od::json_type::boolean: {
      bool b;
      if ((err = v.get_bool().get(b))) return err;
      out.append(b ? "true" : "false");
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      if ((err = v.is_null().get(is_null))) return err;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out.append("null");
      return simdjson::SUCCESS;
    }
    case od::json_type::object:
    case od::json_type::array:
      break;
  }
  return simdjson::INCORRECT_TYPE;
}

[[gnu::noinline]] error_code append_sorted_object(od::object& obj, std::string& out,
                                                  const NormalizeOptions& o, int depth);

// Works for both od::value and od::document (scalars at the top level). `outer` is the number of
// containers open around v.
template <class V>
error_code append_any(V& v, std::string& out, const NormalizeOptions& o, int outer) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  if (t == od::json_type::object) {
    if (outer >= kMaxNestingDepth) return simdjson::DEPTH_ERROR;
    od::object obj;
    if ((err = v.get_object().get(obj))) return err;
    return append_object(obj, out, o, outer + 1);
  }
  if (t == od::json_type::array) {
    if (outer >= kMaxNestingDepth) return simdjson::DEPTH_ERROR;
    od::array arr;
    if ((err = v.get_array().get(arr))) return err;
    return append_array(arr, out, o, outer + 1);
  }
  return append_scalar(v, t, out, o);
}

error_code append_object(od::object obj, std::string& out, const NormalizeOptions& o, int depth) {
  error_code err;
  if (!o.sort_keys) {
    out.push_back('{');
    bool first = true;
    for (auto field_result : obj) {
      od::field field;
      if ((err = std::move(field_result).get(field))) return err;
      if (!first) out.push_back(',');
      first = false;
      if ((err = append_key(field, out, o))) return err;
      out.push_back(':');
      od::value v = field.value();
      if ((err = append_any(v, out, o, depth))) return err;
    }
    out.push_back('}');
    return simdjson::SUCCESS;
  }
  return append_sorted_object(obj, out, o, depth);
}

error_code append_sorted_object(od::object& obj, std::string& out, const NormalizeOptions& o,
                                int depth) {
  error_code err;
  std::vector<Member> members;
  for (auto field_result : obj) {
    od::field field;
    if ((err = std::move(field_result).get(field))) return err;
    Member m{{}, {}, {}, members.size()};
    if ((err = append_key(field, m.quoted, o))) return err;
    std::string_view key;
    if (!field.unescaped_key().get(key))
      m.key.assign(key);
    else
      m.key = sort_key_of(m.quoted);  // a lone surrogate, which simdjson does not unescape
    od::value v = field.value();
    if ((err = append_any(v, m.value, o, depth))) return err;
    members.push_back(std::move(m));
  }
  // Equal keys stay in input order and the later one is kept below, as a map keeps the last
  // put. std::sort with the position as tie-break rather than std::stable_sort: libstdc++ 12's
  // stable_sort uses its own deprecated get_temporary_buffer, which clang 19 warns about.
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    const int c = compare_utf16(a.key, b.key);
    return c != 0 ? c < 0 : a.order < b.order;
  });
  out.push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i + 1 < members.size() && members[i].key == members[i + 1].key) continue;
    if (out.back() != '{') out.push_back(',');
    out.append(members[i].quoted);
    out.push_back(':');
    out.append(members[i].value);
  }
  out.push_back('}');
  return simdjson::SUCCESS;
}

error_code append_array(od::array arr, std::string& out, const NormalizeOptions& o, int depth) {
  out.push_back('[');
  bool first = true;
  for (auto elem_result : arr) {
    od::value v;
    auto err = std::move(elem_result).get(v);
    if (err) return err;
    if (!first) out.push_back(',');
    first = false;
    if ((err = append_any(v, out, o, depth))) return err;
  }
  out.push_back(']');
  return simdjson::SUCCESS;
}

}  // namespace

error_code append_normalized(od::value value, std::string& out, const NormalizeOptions& options) {
  return append_any(value, out, options, options.outer_depth);
}

error_code append_normalized(od::object object, std::string& out, const NormalizeOptions& options) {
  if (options.outer_depth >= kMaxNestingDepth) return simdjson::DEPTH_ERROR;
  return append_object(object, out, options, options.outer_depth + 1);
}

std::string_view error_text(error_code error) {
  static_assert(kMaxNestingDepth == 1000, "keep the message below in step");
  if (error == simdjson::DEPTH_ERROR)
    return "objects and arrays nested more than 1000 deep (Jackson's limit)";
  return simdjson::error_message(error);
}

Result<std::string> normalize(std::string_view text, const NormalizeOptions& options) {
  auto& scratch = aftk::detail::thread_scratch(aftk::detail::ParseSite::kNormalize);
  auto padded = scratch.buffer.wrap(text);
  od::document doc;
  auto err = scratch.parser.iterate(padded).get(doc);
  std::string out;
  if (!err) err = append_any(doc, out, options, options.outer_depth);
  if (!err && !doc.current_location().error()) err = simdjson::TRAILING_CONTENT;
  if (err) return fail(Errc::kCorruptRecord, fmt::format("invalid JSON: {}", error_text(err)));
  return out;
}

Result<std::string> canonical_json(std::string_view text) {
  return normalize(text, NormalizeOptions{Escape::kSurrogatePairs, true});
}

namespace {

// Decodes one code point from valid UTF-8; advances i.
std::uint32_t next_cp(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  std::uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
  for (int k = 1; k < len && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

}  // namespace

int compare_utf16(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  std::uint16_t pend_a = 0, pend_b = 0;  // low surrogates still to compare
  while (true) {
    std::uint32_t ua, ub;
    bool end_a = false, end_b = false;
    if (pend_a) {
      ua = pend_a;
      pend_a = 0;
    } else if (i < a.size()) {
      std::uint32_t cp = next_cp(a, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        ua = 0xD800 + (cp >> 10);
        pend_a = static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF));
      } else {
        ua = cp;
      }
    } else {
      end_a = true;
      ua = 0;
    }
    if (pend_b) {
      ub = pend_b;
      pend_b = 0;
    } else if (j < b.size()) {
      std::uint32_t cp = next_cp(b, j);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        ub = 0xD800 + (cp >> 10);
        pend_b = static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF));
      } else {
        ub = cp;
      }
    } else {
      end_b = true;
      ub = 0;
    }
    if (end_a || end_b) return end_a && end_b ? 0 : end_a ? -1 : 1;
    if (ua != ub) return ua < ub ? -1 : 1;
  }
}

std::int32_t java_string_hash(std::string_view s) {
  std::uint32_t h = 0;
  size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = next_cp(s, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      h = h * 31 + (0xD800 + (cp >> 10));
      h = h * 31 + (0xDC00 + (cp & 0x3FF));
    } else {
      h = h * 31 + cp;
    }
  }
  return static_cast<std::int32_t>(h);
}

simdjson::padded_string_view PaddedBuffer::wrap(std::string_view text) {
  const size_t need = text.size() + simdjson::SIMDJSON_PADDING;
  if (buf_.size() < need) buf_.resize(need + need / 4);
  if (!text.empty()) std::memcpy(buf_.data(), text.data(), text.size());
  std::memset(buf_.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(buf_.data(), text.size(), buf_.size());
}

}  // namespace aftk::json
