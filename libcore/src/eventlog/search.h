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

/// First occurrence of `needle` in [b, e), or nullptr. The needle must not be empty.
inline const char* find_bytes(std::string_view needle, const char* b, const char* e) {
  const size_t k = needle.size();
  if (static_cast<size_t>(e - b) < k) return nullptr;
#if defined(__AVX2__)
  if (k >= 2) {
    // Compare the needle's first and last bytes at 32 positions at once; check the survivors.
    const __m256i first = _mm256_set1_epi8(needle[0]);
    const __m256i last = _mm256_set1_epi8(needle[k - 1]);
    const char* p = b;
    const char* stop = e - k + 1;  // candidates start before stop
    for (; p + 32 <= stop; p += 32) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k - 1));
      auto mask = static_cast<unsigned>(
          _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(z, last))));
      while (mask != 0) {
        const int bit = __builtin_ctz(mask);
        if (std::memcmp(p + bit + 1, needle.data() + 1, k - 2) == 0) return p + bit;
        mask &= mask - 1;
      }
    }
    for (; p < stop; ++p)
      if (p[0] == needle[0] && p[k - 1] == needle[k - 1] && std::memcmp(p, needle.data(), k) == 0) return p;
    return nullptr;
  }
#endif
  const void* r = ::memmem(b, static_cast<size_t>(e - b), needle.data(), k);
  return static_cast<const char*>(r);
}

/// Number of '\n' in [b, e) (the compiler vectorises this loop).
inline size_t count_newlines(const char* b, const char* e) {
  size_t n = 0;
  for (; b < e; ++b) n += (*b == '\n');
  return n;
}

}  // namespace aftk::eventlog::detail
