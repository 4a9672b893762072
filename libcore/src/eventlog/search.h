// SPDX-License-Identifier: Apache-2.0
// Substring search for the reader's prefilter: an AVX2 two-byte candidate scan when available.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace aftk::eventlog::detail {

/// A needle with two anchor positions holding bytes that are rare in JSON event logs, so the
/// vector scan proposes few candidates (the quotes a needle starts and ends with are everywhere).
struct Needle {
  std::string text;
  size_t a = 0, b = 0;
};

inline int byte_rank(unsigned char c) {
  if (c == '"' || c == ':' || c == ',' || c == ' ') return 10;
  if (c == '{' || c == '}' || c == '[' || c == ']') return 9;
  if (c == 'e' || c == 't' || c == 'a' || c == 'o' || c == 'i' || c == 'n' || c == 's' || c == 'r')
    return 8;
  if (c >= 'a' && c <= 'z') return 6;
  if (c == '-' || c == '_' || c == '.') return 6;
  if (c >= '0' && c <= '9') return 5;
  if (c >= 'A' && c <= 'Z') return 3;
  return 2;
}

inline Needle make_needle(std::string text) {
  Needle n;
  n.text = std::move(text);
  const size_t k = n.text.size();
  if (k < 2) return n;
  // The rarest byte, then the rarest byte as far from it as ties allow.
  size_t a = 0;
  for (size_t i = 1; i < k; ++i)
    if (byte_rank(static_cast<unsigned char>(n.text[i])) <
        byte_rank(static_cast<unsigned char>(n.text[a])))
      a = i;
  size_t b = a == 0 ? 1 : 0;
  for (size_t i = 0; i < k; ++i) {
    if (i == a) continue;
    const int ri = byte_rank(static_cast<unsigned char>(n.text[i]));
    const int rb = byte_rank(static_cast<unsigned char>(n.text[b]));
    const size_t di = i > a ? i - a : a - i, db = b > a ? b - a : a - b;
    if (ri < rb || (ri == rb && di > db)) b = i;
  }
  n.a = std::min(a, b);
  n.b = std::max(a, b);
  return n;
}

/// First occurrence of `needle` in [b, e), or nullptr. The needle must not be empty.
inline const char* find_bytes(const Needle& needle, const char* b, const char* e) {
  const std::string& t = needle.text;
  const size_t k = t.size();
  if (static_cast<size_t>(e - b) < k) return nullptr;
#if defined(__AVX2__)
  if (k >= 2) {
    const size_t ia = needle.a, ib = needle.b;
    const __m256i va = _mm256_set1_epi8(t[ia]);
    const __m256i vb = _mm256_set1_epi8(t[ib]);
    const char* p = b;
    const char* stop = e - k + 1;  // candidates start before stop
    for (; p + 32 <= stop; p += 32) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + ia));
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + ib));
      auto mask = static_cast<unsigned>(_mm256_movemask_epi8(
          _mm256_and_si256(_mm256_cmpeq_epi8(x, va), _mm256_cmpeq_epi8(y, vb))));
      while (mask != 0) {
        const int bit = __builtin_ctz(mask);
        if (std::memcmp(p + bit, t.data(), k) == 0) return p + bit;
        mask &= mask - 1;
      }
    }
    for (; p < stop; ++p)
      if (p[ia] == t[ia] && p[ib] == t[ib] && std::memcmp(p, t.data(), k) == 0) return p;
    return nullptr;
  }
#endif
  const void* r = ::memmem(b, static_cast<size_t>(e - b), t.data(), k);
  return static_cast<const char*>(r);
}

inline const char* find_bytes(std::string_view needle, const char* b, const char* e) {
  const void* r = ::memmem(b, static_cast<size_t>(e - b), needle.data(), needle.size());
  return static_cast<const char*>(r);
}

/// Scans [b, e) for the start of a pretty-printed record (a line that is just "{", i.e. the
/// bytes "\n{\n"), counting the newlines before it. Returns the position just after that first
/// '\n', or e; `newlines` gets the count of '\n' in [b, result). Reads up to 2 bytes past e.
inline const char* skip_lines(const char* b, const char* e, size_t& newlines) {
  size_t n = 0;
  const char* p = b;
#if defined(__AVX2__)
  const __m256i nl = _mm256_set1_epi8('\n');
  const __m256i br = _mm256_set1_epi8('{');
  for (; p + 32 <= e; p += 32) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
    const __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
    const __m256i m0 = _mm256_cmpeq_epi8(v0, nl);
    const auto nls = static_cast<unsigned>(_mm256_movemask_epi8(m0));
    const auto marks = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_and_si256(
        m0, _mm256_and_si256(_mm256_cmpeq_epi8(v1, br), _mm256_cmpeq_epi8(v2, nl)))));
    if (marks != 0) {
      const int bit = __builtin_ctz(marks);
      // Count the newlines up to and including the marker's first '\n'.
      const unsigned upto = bit == 31 ? 0xFFFFFFFFu : ((1u << (bit + 1)) - 1);
      newlines = n + static_cast<size_t>(__builtin_popcount(nls & upto));
      return p + bit + 1;
    }
    n += static_cast<size_t>(__builtin_popcount(nls));
  }
#endif
  for (; p < e; ++p) {
    if (*p == '\n') {
      ++n;
      if (p[1] == '{' && p[2] == '\n') {
        newlines = n;
        return p + 1;
      }
    }
  }
  newlines = n;
  return e;
}

/// Number of '\n' in [b, e).
inline size_t count_newlines(const char* b, const char* e) {
  size_t n = 0;
#if defined(__AVX2__)
  const __m256i nl = _mm256_set1_epi8('\n');
  for (; b + 32 <= e; b += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    n += static_cast<size_t>(
        __builtin_popcount(static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl)))));
  }
#endif
  for (; b < e; ++b) n += (*b == '\n');
  return n;
}

/// One pass over [b, e) (which must end just after a '\n') for the first line that either holds
/// `needle` or is just "{" (a pretty-printed record). Returns that line's start, or e when there
/// is none; `newlines` gets the number of '\n' in [b, result). The needle must be 2..48 bytes;
/// reads up to 48 bytes past e.
inline const char* next_candidate_line(const Needle& needle, const char* b, const char* e,
                                       size_t& newlines) {
  const std::string& t = needle.text;
  const size_t k = t.size();
  size_t n = 0;
  const char* p = b;
  // A line start (the first line, or just after a '\n') that opens a pretty record.
  if (e - b >= 2 && b[0] == '{' && b[1] == '\n') {
    newlines = 0;
    return b;
  }
  const char* hit = nullptr;  // a verified needle position
#if defined(__AVX2__)
  const __m256i nl = _mm256_set1_epi8('\n');
  const __m256i br = _mm256_set1_epi8('{');
  const __m256i va = _mm256_set1_epi8(t[needle.a]);
  const __m256i vb = _mm256_set1_epi8(t[needle.b]);
  for (; p + 32 <= e; p += 32) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i m0 = _mm256_cmpeq_epi8(v0, nl);
    const auto nls = static_cast<unsigned>(_mm256_movemask_epi8(m0));
    const auto marks = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_and_si256(
        m0,
        _mm256_and_si256(
            _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1)), br),
            _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)), nl)))));
    auto cand = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_and_si256(
        _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + needle.a)), va),
        _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + needle.b)),
                          vb))));
    int hit_bit = 32;
    while (cand != 0) {
      const int bit = __builtin_ctz(cand);
      if (p + bit + k <= e && std::memcmp(p + bit, t.data(), k) == 0) {
        hit_bit = bit;
        break;
      }
      cand &= cand - 1;
    }
    // A pretty record opening at '\n' bit q starts at q + 1; it wins when it is not after the hit.
    const int mark_bit = marks != 0 ? __builtin_ctz(marks) : 32;
    if (marks != 0 && mark_bit < hit_bit) {
      const unsigned upto = mark_bit == 31 ? 0xFFFFFFFFu : ((1u << (mark_bit + 1)) - 1);
      newlines = n + static_cast<size_t>(__builtin_popcount(nls & upto));
      return p + mark_bit + 1;
    }
    if (hit_bit < 32) {
      n += static_cast<size_t>(__builtin_popcount(nls & ((1u << hit_bit) - 1)));
      hit = p + hit_bit;
      break;
    }
    n += static_cast<size_t>(__builtin_popcount(nls));
  }
#endif
  if (hit == nullptr) {
    for (; p < e; ++p) {
      if (p + k <= e && p[0] == t[0] && std::memcmp(p, t.data(), k) == 0) {
        hit = p;
        break;
      }
      if (*p == '\n') {
        ++n;
        if (p + 1 < e && p[1] == '{' && p[2] == '\n') {
          newlines = n;
          return p + 1;
        }
      }
    }
  }
  if (hit == nullptr) {
    newlines = n;
    return e;
  }
  // Back up to the start of the hit's line (the newlines before it are already counted).
  const char* ls = hit;
  while (ls > b && ls[-1] != '\n') --ls;
  newlines = n;
  return ls;
}

}  // namespace aftk::eventlog::detail
