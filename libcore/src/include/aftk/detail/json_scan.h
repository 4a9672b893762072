// SPDX-License-Identifier: Apache-2.0
// Finding the next byte of a JSON string body that is not plain text: shared by json and
// actionstate, private to libcore (never installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace aftk::json::detail {

/// The first byte in [p, end) that is a control character (<= 0x1F) or '\\', or also '"' when
/// kQuote, or also a 4-byte UTF-8 lead (>= 0xF0) when kF0; `end` when there is none. Reads
/// nothing outside [p, end).
template <bool kQuote, bool kF0>
inline const char* find_special(const char* p, const char* end) {
#if defined(__AVX2__)
  const __m256i ctl = _mm256_set1_epi8(0x1F);
  const __m256i bs = _mm256_set1_epi8('\\');
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i f0 = _mm256_set1_epi8(static_cast<char>(0xF0));
  while (end - p >= 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    __m256i m = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_max_epu8(x, ctl), ctl), _mm256_cmpeq_epi8(x, bs));
    if constexpr (kQuote) m = _mm256_or_si256(m, _mm256_cmpeq_epi8(x, quote));
    if constexpr (kF0) m = _mm256_or_si256(m, _mm256_cmpeq_epi8(_mm256_min_epu8(x, f0), f0));
    const auto mask = static_cast<unsigned>(_mm256_movemask_epi8(m));
    if (mask) return p + __builtin_ctz(mask);
    p += 32;
  }
#endif
  // Eight bytes at a time: a lane is flagged when its byte has the property (the usual
  // has-zero-byte trick; a false flag only sends the bytes to the exact loop below).
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  while (end - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t bs = x ^ 0x5C5C5C5C5C5C5C5Cull;
    std::uint64_t bad = ((x - 0x2020202020202020ull) & ~x & kHigh) | ((bs - kOnes) & ~bs & kHigh);
    if constexpr (kQuote) {
      const std::uint64_t q = x ^ 0x2222222222222222ull;
      bad |= (q - kOnes) & ~q & kHigh;
    }
    if constexpr (kF0) {
      const std::uint64_t f = (x & 0xF0F0F0F0F0F0F0F0ull) ^ 0xF0F0F0F0F0F0F0F0ull;
      bad |= (f - kOnes) & ~f & kHigh;
    }
    if (bad) break;
    p += 8;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == '\\' || (kQuote && c == '"') || (kF0 && c >= 0xF0)) return p;
  }
  return end;
}

/// The length of the escape at `p` (a backslash) when Jackson writes that character with exactly
/// this escape, so that Jackson-form text keeps it unchanged: 2 for \" \\ \b \t \n \f \r, 6 for
/// another C0 control as \u00XX with upper-case hex, 12 for an upper-case surrogate pair and 6
/// for an upper-case lone surrogate when `surrogates` (Escape::kSurrogatePairs). 0 for any other
/// escape, which normalization rewrites or rejects.
std::size_t kept_escape_length(const char* p, const char* end, bool surrogates);

/// Appends the UTF-8 sequence of a code point, or of a lone surrogate as the 3-byte sequence
/// its value would have (not valid UTF-8: only for sort keys, which compare_utf16 orders).
void append_utf8(std::string& out, std::uint32_t cp);

}  // namespace aftk::json::detail
