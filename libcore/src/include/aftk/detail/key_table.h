// SPDX-License-Identifier: Apache-2.0
// KeyTable: a flat hash table from record-key text to a value, for the hot loop of a rebuild.
//
// A rebuild looks up every record's key once, and most lookups hit (a topic holds many versions
// of few keys). std::unordered_map costs several cache misses per lookup there (bucket array,
// node, the key's heap text, and the next node's key, whose hash it recomputes to find the end of
// the bucket). KeyTable keeps 32 bits of each key's hash beside the entry index in one flat slot
// array, so a lookup usually touches one slot, one entry and the key text it must compare anyway.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aftk::actionstate {

/// A fast 64-bit hash of a byte string (multiply-fold, 16 bytes per step). Not meant to resist
/// chosen collisions; KeyTable mixes a per-table seed in.
inline std::uint64_t key_hash(std::string_view s, std::uint64_t seed = 0) noexcept {
  constexpr std::uint64_t k0 = 0x9E3779B97F4A7C15ull, k1 = 0xBF58476D1CE4E5B9ull,
                          k2 = 0x94D049BB133111EBull;
  auto mix = [](std::uint64_t a, std::uint64_t b) {
    __extension__ using U128 = unsigned __int128;
    const U128 r = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  };
  auto load64 = [](const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto load32 = [](const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return static_cast<std::uint64_t>(v);
  };
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = mix(seed ^ k0 ^ n, k1);
  while (n > 16) {
    h = mix(load64(p) ^ k1, load64(p + 8) ^ h);
    p += 16;
    n -= 16;
  }
  std::uint64_t a = 0, b = 0;
  if (n >= 8) {
    a = load64(p);
    b = load64(p + n - 8);
  } else if (n >= 4) {
    a = load32(p);
    b = load32(p + n - 4);
  } else if (n > 0) {
    a = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
        (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
        static_cast<unsigned char>(p[n - 1]);
  }
  h = mix(a ^ k2 ^ n, b ^ h);
  return mix(h ^ k0, k2);
}

/// Open addressing with linear probing and backward-shift erase; load factor at most 1/2.
/// Entries live in a vector (pointers to values stay valid until the next insertion); erased
/// entries are reset, so their memory goes back, and their places are reused.
template <class V>
class KeyTable {
 public:
  explicit KeyTable(std::uint64_t seed = 0)
      : seed_(seed ^ reinterpret_cast<std::uintptr_t>(this)) {}

  /// The hash to pass to find/insert/erase for `key`.
  std::uint64_t hash(std::string_view key) const noexcept { return key_hash(key, seed_); }

  V* find(std::string_view key, std::uint64_t h) noexcept {
    if (slots_.empty()) return nullptr;
    const std::size_t i = probe(key, h);
    return slots_[i].index == kEmpty ? nullptr : &entries_[slots_[i].index].value;
  }

  /// Inserts a default value for `key` unless it is present. Returns the value and whether it
  /// was inserted.
  std::pair<V*, bool> try_emplace(std::string_view key, std::uint64_t h) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::size_t i = probe(key, h);
    if (slots_[i].index != kEmpty) return {&entries_[slots_[i].index].value, false};
    std::uint32_t e;
    if (!free_.empty()) {
      e = free_.back();
      free_.pop_back();
      entries_[e].key.assign(key);
    } else {
      e = static_cast<std::uint32_t>(entries_.size());
      entries_.push_back(Entry{std::string(key), V{}});
    }
    slots_[i] = Slot{static_cast<std::uint32_t>(h), e};
    ++size_;
    return {&entries_[e].value, true};
  }

  /// Removes `key`; false when it was not present.
  bool erase(std::string_view key, std::uint64_t h) {
    if (slots_.empty()) return false;
    std::size_t i = probe(key, h);
    if (slots_[i].index == kEmpty) return false;
    const std::uint32_t e = slots_[i].index;
    entries_[e] = Entry{};
    free_.push_back(e);
    --size_;
    // Backward shift: pull later members of the probe run into the hole so no lookup that
    // passes it stops early.
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = (i + 1) & mask; slots_[j].index != kEmpty; j = (j + 1) & mask) {
      const std::size_t home = slots_[j].tag & mask;
      const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    return true;
  }

  std::size_t size() const noexcept { return size_; }

  /// Calls f(const std::string& key, V& value) for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) {
    for (const Slot& s : slots_) {
      if (s.index != kEmpty) f(std::as_const(entries_[s.index].key), entries_[s.index].value);
    }
  }

  /// Hands every entry to f(std::string&& key, V&& value), in no particular order, and
  /// leaves the table empty with its storage given back: for moving the entries elsewhere
  /// without copying their keys, and without both copies' memory held at once afterwards.
  template <class F>
  void drain(F&& f) {
    for (const Slot& s : slots_) {
      if (s.index != kEmpty) f(std::move(entries_[s.index].key), std::move(entries_[s.index].value));
    }
    std::vector<Slot>().swap(slots_);
    std::vector<Entry>().swap(entries_);
    std::vector<std::uint32_t>().swap(free_);
    size_ = 0;
  }

 private:
  static constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();
  struct Slot {
    std::uint32_t tag = 0;  // low 32 bits of the hash; also gives the home slot
    std::uint32_t index = kEmpty;
  };
  struct Entry {
    std::string key;
    V value;
  };

  // The slot holding `key`, or the empty slot where it would go.
  std::size_t probe(std::string_view key, std::uint64_t h) const noexcept {
    const auto tag = static_cast<std::uint32_t>(h);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.index == kEmpty) return i;
      if (s.tag == tag && entries_[s.index].key == key) return i;
    }
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.index == kEmpty) continue;
      std::size_t i = s.tag & mask;
      while (slots_[i].index != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::uint64_t seed_;
  std::vector<Slot> slots_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> free_;
  std::size_t size_ = 0;
};

}  // namespace aftk::actionstate
