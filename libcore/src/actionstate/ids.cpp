// SPDX-License-Identifier: Apache-2.0
// Hashes and UUIDs behind action-state keys, matching the Java and Flink definitions.
#include "aftk/actionstate/ids.h"

#include <openssl/evp.h>

#include <array>

#include <fmt/format.h>

#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"

namespace aftk::actionstate {
namespace {

template <size_t N>
std::array<std::uint8_t, N> evp_digest(const EVP_MD* md, std::string_view bytes) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, md, nullptr);
  return out;
}

std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

}  // namespace

Md5 md5(std::string_view bytes) { return evp_digest<16>(EVP_md5(), bytes); }
Sha256 sha256(std::string_view bytes) { return evp_digest<32>(EVP_sha256(), bytes); }

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::string name_uuid_from_bytes(std::string_view bytes) {
  Md5 b = md5(bytes);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x30);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(b);
  std::string s;
  s.reserve(36);
  s.append(h, 0, 8).append(1, '-').append(h, 8, 4).append(1, '-').append(h, 12, 4);
  s.append(1, '-').append(h, 16, 4).append(1, '-').append(h, 20, 12);
  return s;
}

bool is_canonical_uuid(std::string_view s) {
  // Branch-free: every byte's class must equal the class its position expects (hex digit, or '-'
  // at 8, 13, 18 and 23). Keys and event ids are checked on every record a rebuild reads.
  static constexpr auto kClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = 1;
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<size_t>(c)] = 1;
    t['-'] = 2;
    return t;
  }();
  static constexpr auto kExpect = [] {
    std::array<std::uint8_t, 36> t{};
    for (size_t i = 0; i < 36; ++i) t[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? 2 : 1;
    return t;
  }();
  if (s.size() != 36) return false;
  unsigned bad = 0;
  for (size_t i = 0; i < 36; ++i) bad |= kClass[static_cast<unsigned char>(s[i])] ^ kExpect[i];
  return bad == 0;
}

std::int32_t flink_murmur_hash(std::int32_t code) {
  std::uint32_t c = static_cast<std::uint32_t>(code);
  c *= 0xcc9e2d51u;
  c = rotl(c, 15);
  c *= 0x1b873593u;
  c = rotl(c, 13);
  c = c * 5 + 0xe6546b64u;
  c ^= 4;
  c ^= c >> 16;
  c *= 0x85ebca6bu;
  c ^= c >> 13;
  c *= 0xc2b2ae35u;
  c ^= c >> 16;
  const auto s = static_cast<std::int32_t>(c);
  if (s >= 0) return s;
  if (s != INT32_MIN) return -s;
  return 0;
}

std::int32_t assign_to_key_group(std::int32_t key_hash, std::int32_t max_parallelism) {
  return flink_murmur_hash(key_hash) % max_parallelism;
}

std::int32_t java_long_hash(std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(u ^ (u >> 32)));
}

std::string flink_string_serializer_bytes(std::string_view utf8) {
  // Count UTF-16 units and collect them, then write length+1 and each unit in 7-bit groups.
  std::u16string units;
  units.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    int len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    std::uint32_t cp = len == 1 ? c : c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len && i + k < utf8.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    i += static_cast<size_t>(len);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      units.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      units.push_back(static_cast<char16_t>(cp));
    }
  }
  std::string out;
  auto put_varint = [&out](std::uint32_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  put_varint(static_cast<std::uint32_t>(units.size() + 1));
  for (char16_t u : units) put_varint(u);
  return out;
}

std::string flink_long_serializer_bytes(std::int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
  return out;
}

std::string business_key_id(std::string_view key_serializer_bytes) {
  const Sha256 d = sha256(key_serializer_bytes);
  return json::base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Result<std::string> event_uuid(std::string_view attributes_json) {
  AFTK_TRY_ASSIGN(std::string canonical, json::canonical_json(attributes_json));
  return name_uuid_from_bytes(canonical);
}

std::int32_t python_action_hash(const PythonActionId& a) {
  auto h = [](std::string_view s) { return static_cast<std::uint32_t>(json::java_string_hash(s)); };
  const std::uint32_t exec = (31u + h(a.module)) * 31u + h(a.qualname);
  std::uint32_t list = 1;
  for (const auto& t : a.triggers) list = 31u * list + h(t);
  const std::uint32_t r = ((31u + h(a.name)) * 31u + exec) * 31u + list;
  return static_cast<std::int32_t>(r);
}

std::string action_uuid_legacy(std::int32_t action_hash) {
  return name_uuid_from_bytes(std::to_string(action_hash));
}

std::string action_uuid_from_name(std::string_view action_name) {
  return name_uuid_from_bytes(action_name);
}

}  // namespace aftk::actionstate
