// SPDX-License-Identifier: Apache-2.0
// Jackson-compatible string escaping and Java Double.toString formatting.
#include "aftk/json/writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "aftk/detail/json_scan.h"

namespace aftk::json {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

// 1: needs escaping in every mode; 2: a 4-byte UTF-8 lead (escaped only as surrogate pairs).
constexpr std::array<std::uint8_t, 256> make_class_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0xF0; c < 0x100; ++c) t[c] = 2;
  return t;
}
constexpr auto kClass = make_class_table();

void append_u_escape(std::string& out, unsigned unit) {
  char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 0xF], kHex[(unit >> 8) & 0xF],
                 kHex[(unit >> 4) & 0xF], kHex[unit & 0xF]};
  out.append(buf, 6);
}

// Writes the 4-byte UTF-8 sequence at `p` as an escaped surrogate pair, upper-case hex.
void append_surrogate_pair(std::string& out, const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  const std::uint32_t cp = (static_cast<std::uint32_t>(u[0] & 0x07) << 18) |
                           (static_cast<std::uint32_t>(u[1] & 0x3F) << 12) |
                           (static_cast<std::uint32_t>(u[2] & 0x3F) << 6) |
                           static_cast<std::uint32_t>(u[3] & 0x3F);
  const std::uint32_t v = cp - 0x10000;
  append_u_escape(out, 0xD800 + (v >> 10));
  append_u_escape(out, 0xDC00 + (v & 0x3FF));
}

}  // namespace

void append_string(std::string& out, std::string_view s, Escape mode) {
  const std::uint8_t stop_mask = mode == Escape::kSurrogatePairs ? 3 : 1;
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const auto* run = p;
    while (p < end && (kClass[*p] & stop_mask) == 0) ++p;
    if (p != run) out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (p >= end) break;
    const unsigned char c = *p;
    switch (c) {
      case '"': out.append("\\\""); ++p; continue;
      case '\\': out.append("\\\\"); ++p; continue;
      case '\b': out.append("\\b"); ++p; continue;
      case '\t': out.append("\\t"); ++p; continue;
      case '\n': out.append("\\n"); ++p; continue;
      case '\f': out.append("\\f"); ++p; continue;
      case '\r': out.append("\\r"); ++p; continue;
      default: break;
    }
    if (c < 0x20) {
      append_u_escape(out, c);
      ++p;
      continue;
    }
    // A 4-byte sequence: write it as a surrogate pair.
    if (end - p < 4) {  // Not valid UTF-8; keep the bytes rather than lose them.
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
      break;
    }
    append_surrogate_pair(out, reinterpret_cast<const char*>(p));
    p += 4;
  }
  out.push_back('"');
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_u_escape(const char* p, const char* end, unsigned& v) {
  if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return false;
  v = 0;
  for (int i = 2; i < 6; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<unsigned>(h);
  }
  return true;
}


bool is_upper_hex4(const char* p) {
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

}  // namespace

namespace detail {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t kept_escape_length(const char* p, const char* end, bool surrogates) {
  if (end - p < 2 || p[0] != '\\') return 0;
  switch (p[1]) {
    case '"': case '\\': case 'b': case 't': case 'n': case 'f': case 'r':
      return 2;
    case 'u':
      break;
    default:
      return 0;
  }
  unsigned v;
  if (!read_u_escape(p, end, v) || !is_upper_hex4(p + 2)) return 0;
  if (v < 0x20) {
    // Jackson uses the short form for these, so \u0008 and the like are rewritten.
    const bool short_form = v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r';
    return short_form ? 0 : 6;
  }
  if (surrogates && v >= 0xD800 && v < 0xE000) {
    unsigned lo;
    if (v < 0xDC00 && read_u_escape(p + 6, end, lo) && lo >= 0xDC00 && lo < 0xE000)
      return is_upper_hex4(p + 8) ? 12 : 0;
    return 6;  // a lone surrogate: Jackson writes it back with this escape
  }
  return 0;
}

}  // namespace detail

bool append_string_from_json(std::string& out, std::string_view raw, Escape mode) {
  const size_t mark = out.size();
  const bool surrogates = mode == Escape::kSurrogatePairs;
  out.push_back('"');
  const char* p = raw.data();
  const char* end = p + raw.size();
  const char* run = p;  // bytes from here to p are already in Jackson's form
  auto flush = [&] { out.append(run, static_cast<size_t>(p - run)); };
  auto give_up = [&] {
    out.resize(mark);
    return false;
  };
  while (p < end) {
    p = surrogates ? detail::find_special<false, true>(p, end) : detail::find_special<false, false>(p, end);
    if (p >= end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20) return give_up();
    if (c >= 0xF0) {  // a raw 4-byte sequence, escaped as a surrogate pair
      if (end - p < 4) return give_up();
      flush();
      append_surrogate_pair(out, p);
      p += 4;
      run = p;
      continue;
    }
    // A backslash escape: Jackson's own forms stay in the run.
    if (const size_t kept = detail::kept_escape_length(p, end, surrogates)) {
      p += kept;
      continue;
    }
    if (end - p < 2) return give_up();
    if (p[1] == '/') {
      flush();
      out.push_back('/');
      p += 2;
      run = p;
      continue;
    }
    unsigned v;
    if (p[1] != 'u' || !read_u_escape(p, end, v)) return give_up();
    unsigned lo;
    if (v >= 0xD800 && v < 0xDC00 && read_u_escape(p + 6, end, lo) && lo >= 0xDC00 && lo < 0xE000) {
      flush();
      if (surrogates) {
        append_u_escape(out, v);
        append_u_escape(out, lo);
      } else {
        detail::append_utf8(out, 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00));
      }
      p += 12;
      run = p;
      continue;
    }
    flush();
    p += 6;
    run = p;
    if (v >= 0xD800 && v < 0xE000) {
      // A lone surrogate, which UTF-8 cannot carry: Jackson keeps the char and writes this.
      append_u_escape(out, v);
      continue;
    }
    switch (v) {
      case '"': out.append("\\\""); continue;
      case '\\': out.append("\\\\"); continue;
      case '\b': out.append("\\b"); continue;
      case '\t': out.append("\\t"); continue;
      case '\n': out.append("\\n"); continue;
      case '\f': out.append("\\f"); continue;
      case '\r': out.append("\\r"); continue;
      default: break;
    }
    if (v < 0x20)
      append_u_escape(out, v);
    else
      detail::append_utf8(out, v);
  }
  p = end;
  flush();
  out.push_back('"');
  return true;
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

namespace {

// Decimal digits (no leading/trailing zeros) and the exponent of the first digit, so that the
// value is 0.d1d2d3... * 10^(exp10+1), i.e. d1.d2d3... * 10^exp10.
struct Decimal {
  char digits[32];
  int n = 0;
  int exp10 = 0;
};

// Parses std::to_chars scientific output "d.ddde+XX" / "de-XX" into a Decimal.
void parse_scientific(const char* s, const char* end, Decimal& d) {
  d.n = 0;
  const char* p = s;
  if (*p == '-') ++p;
  for (; p < end && *p != 'e'; ++p) {
    if (*p == '.') continue;
    d.digits[d.n++] = *p;
  }
  int e = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), end, e);
  d.exp10 = e;
  while (d.n > 1 && d.digits[d.n - 1] == '0') --d.n;
}

template <class F>
void append_java_floating(std::string& out, F v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (v == 0) {
    out.append(std::signbit(v) ? "-0.0" : "0.0");
    return;
  }
  char buf[64];
  Decimal d;
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  parse_scientific(buf, r.ptr, d);
  if (d.n == 1) {
    // Java requires at least two significant digits to choose from: of the 2-digit decimals
    // that round to v it takes the closest (so Double.MIN_VALUE is 4.9E-324, not 5.0E-324).
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, 1);
    parse_scientific(buf, r.ptr, d);
  }
  if (std::signbit(v)) out.push_back('-');
  const F a = std::fabs(v);
  if (a >= F(1e-3) && a < F(1e7)) {
    // Plain notation with at least one fraction digit.
    if (d.exp10 < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-d.exp10 - 1), '0');
      out.append(d.digits, static_cast<size_t>(d.n));
    } else {
      const int int_digits = d.exp10 + 1;
      if (d.n <= int_digits) {
        out.append(d.digits, static_cast<size_t>(d.n));
        out.append(static_cast<size_t>(int_digits - d.n), '0');
        out.append(".0");
      } else {
        out.append(d.digits, static_cast<size_t>(int_digits));
        out.push_back('.');
        out.append(d.digits + int_digits, static_cast<size_t>(d.n - int_digits));
      }
    }
    return;
  }
  out.push_back(d.digits[0]);
  out.push_back('.');
  if (d.n > 1)
    out.append(d.digits + 1, static_cast<size_t>(d.n - 1));
  else
    out.push_back('0');
  out.push_back('E');
  append_int(out, d.exp10);
}

}  // namespace

void append_java_double(std::string& out, double v) { append_java_floating(out, v); }

std::string java_double_to_string(double v) {
  std::string s;
  append_java_floating(s, v);
  return s;
}

std::string java_float_to_string(float v) {
  std::string s;
  append_java_floating(s, v);
  return s;
}

}  // namespace aftk::json
