// SPDX-License-Identifier: Apache-2.0
// Base64 encoding and strict decoding for byte[] payloads.
#include "aftk/json/base64.h"

#include <array>

#include <fmt/format.h>

namespace aftk::json {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kDecode = make_decode_table();

Status decode_impl(std::string_view text, std::string& out, bool allow_unpadded, bool& unpadded,
                   bool& stray_bits) {
  size_t n = text.size();
  stray_bits = false;
  unpadded = n % 4 != 0;
  if (unpadded && !allow_unpadded)
    return fail(Errc::kInvalidArgument,
                fmt::format("base64 text of length {} is not padded to a multiple of 4", n));
  size_t pad = 0;
  while (n > 0 && text[n - 1] == '=' && pad < 2) {
    --n;
    ++pad;
  }
  if (n % 4 == 1)
    return fail(Errc::kInvalidArgument, fmt::format("base64 text of length {} is truncated", text.size()));
  const size_t start = out.size();
  out.resize(start + n / 4 * 3 + 2);
  char* o = out.data() + start;
  const auto* t = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  // Whole groups of four characters: three bytes each.
  for (; i + 4 <= n; i += 4) {
    const std::int32_t a = kDecode[t[i]], b = kDecode[t[i + 1]], c = kDecode[t[i + 2]], d = kDecode[t[i + 3]];
    if ((a | b | c | d) < 0) break;  // the slow loop below names the bad character
    const std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                            (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>((v >> 8) & 0xFF);
    *o++ = static_cast<char>(v & 0xFF);
  }
  out.resize(static_cast<size_t>(o - out.data()));
  std::uint32_t acc = 0;
  int bits = 0;
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const int v = kDecode[c];
    if (v < 0)
      return fail(Errc::kInvalidArgument,
                  c == '='
                      ? fmt::format("base64 padding '=' inside the text at position {}", i)
                      : fmt::format("invalid base64 character {:#04x} at position {}", c, i));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // 4 or 2 bits are left after a final group of two or three characters.
  stray_bits = (acc & ((1u << bits) - 1)) != 0;
  return {};
}

}  // namespace

void base64_append(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t start = out.size();
  out.resize(start + (n + 2) / 3 * 4);
  char* o = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = '=';
  }
}

std::string base64_encode(std::string_view bytes) {
  std::string s;
  base64_append(s, bytes);
  return s;
}

Status base64_decode(std::string_view text, std::string& out) {
  bool unpadded = false, stray_bits = false;
  return decode_impl(text, out, false, unpadded, stray_bits);
}

Status base64_decode_lenient(std::string_view text, std::string& out, Base64Problem& problem) {
  return decode_impl(text, out, true, problem.unpadded, problem.stray_bits);
}

std::string normalize_topic_id(std::string_view id) {
  std::string s(id);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (auto& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

}  // namespace aftk::json
