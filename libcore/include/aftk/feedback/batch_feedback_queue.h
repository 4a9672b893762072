// SPDX-License-Identifier: Apache-2.0
// BatchFeedbackQueue: many producers, one consumer, lock-free, drained in batches, and cheap to
// ask "was it empty?" on every add.
//
// Design (why it is not the upstream two-deque queue):
// - Every producer thread gets its own single-producer ring: a chain of fixed-size segments, each
//   slot carrying a sequence number. An add writes the item and stores the slot's sequence with
//   release order: no lock, no read-modify-write, no per-item allocation. Segments the consumer
//   has emptied go back to their producer through a per-ring free list, so after warm-up no add
//   allocates.
// - "Was empty" means "the consumer has declared itself idle since the last add that woke it".
//   The consumer arms a flag before it sleeps; the first add that finds the flag set takes it
//   (one exchange) and is told to wake the consumer. Exactly one add wins per idle period, so there
//   is at most one wake per drained batch.
// - The store of the item and the load of the flag form a Dekker pair that needs store-load
//   ordering. Producers pay only a compiler barrier; the consumer, when it arms, issues
//   membarrier(2), which acts as a full fence in every running thread. Where membarrier is not
//   available (or under ThreadSanitizer) both sides use ordinary seq_cst fences.
// - A drain visits every ring and takes what is ready in sequence order, so each producer's items
//   come out in the order it added them. Items of different producers may interleave.
// - Arming is the expensive step (membarrier interrupts every CPU that runs a producer, and the
//   add that then finds the flag pays a futex wake), so a consumer that has just taken a stream
//   of items (kStreamingItems since it last armed) and caught up first waits a moment
//   (QueueOptions::idle_wait, 1 us: a yield of the CPU, then a spin) without reading producer
//   memory, then looks again. A streaming producer therefore meets neither the interrupt nor the
//   wake, and the consumer takes the next batch mostly as whole cache lines instead of chasing
//   the producer item by item. A consumer that has taken a single item (a round trip) still arms
//   at once, so a parked round trip is what it was.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "aftk/feedback/barrier.h"

namespace aftk::feedback {

/// What an add did.
enum class AddResult {
  kAdded,          // queued; the consumer is awake or already has a wake coming
  kAddedWasEmpty,  // queued, and this producer must wake the consumer
  kFull,           // bounded queue: this producer already has its maximum pending; not queued
};

struct QueueOptions {
  /// Items per segment (rounded up to whole cache-line groups, at least 16 groups).
  std::size_t segment_items = 1024;
  /// 0 for unbounded. Otherwise the most items one producer may have queued and not yet drained;
  /// try_add() reports kFull beyond it and add_and_check_if_was_empty() waits.
  std::size_t max_pending_per_producer = 0;
  /// Use fences on both sides even when membarrier(2) works (for tests and comparisons).
  bool force_fences = false;
  /// How long drain_or_arm() (and drain_all()) waits for more items before it arms, but only
  /// when it has just taken a stream of them (kStreamingItems or more since it last armed): a
  /// consumer that has taken a single item arms at once, like upstream. The wait touches no
  /// producer's memory; afterwards the consumer looks once more. 0 arms at once always.
  std::chrono::nanoseconds idle_wait{std::chrono::microseconds(1)};
};

/// Items a consumer must have taken since it last armed before drain_or_arm() waits
/// (QueueOptions::idle_wait) instead of arming at once.
inline constexpr std::size_t kStreamingItems = 16;

namespace detail {

inline constexpr std::size_t kCacheLine = 64;

/// What a thread's producer cache needs to know about a ring, whatever its element type.
struct RingBase {
  virtual ~RingBase() = default;
  std::atomic<bool> claimed{true};      // a live thread produces into this ring
  std::atomic<bool> queue_alive{true};  // the owning queue still exists
};

/// Each thread remembers which ring it owns in which queue. When the thread ends, its rings are
/// released so a later thread can take them over.
struct ProducerCache {
  struct Entry {
    std::uint64_t queue_id;
    std::shared_ptr<RingBase> ring;
  };
  std::vector<Entry> entries;

  ProducerCache() = default;
  ProducerCache(const ProducerCache&) = delete;
  ProducerCache& operator=(const ProducerCache&) = delete;
  ~ProducerCache() {
    for (auto& e : entries) e.ring->claimed.store(false, std::memory_order_release);
  }
};

inline ProducerCache& producer_cache() {
  thread_local ProducerCache cache;
  return cache;
}

/// The last ring this thread used, in a trivially destructible thread_local so the hot path needs
/// no initialisation guard. The owning references live in producer_cache().
struct LastRing {
  std::uint64_t queue_id = 0;
  RingBase* ring = nullptr;
};
inline thread_local LastRing t_last_ring;

inline std::uint64_t next_queue_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace detail

template <class T>
class BatchFeedbackQueue {
  static_assert(std::is_nothrow_move_constructible_v<T>, "items must be nothrow movable");
  static_assert(std::is_nothrow_destructible_v<T>);

 public:
  explicit BatchFeedbackQueue(QueueOptions options = {})
      : id_(detail::next_queue_id()),
        segment_items_(round_up(options.segment_items)),
        max_pending_(options.max_pending_per_producer == 0
                         ? std::numeric_limits<std::uint64_t>::max()
                         : options.max_pending_per_producer),
        asymmetric_(!options.force_fences && detail::asymmetric_barriers_available()),
        idle_wait_(options.idle_wait) {}

  BatchFeedbackQueue(const BatchFeedbackQueue&) = delete;
  BatchFeedbackQueue& operator=(const BatchFeedbackQueue&) = delete;

  /// Destroys items never drained. No producer may be adding while the queue is destroyed.
  ~BatchFeedbackQueue() {
    std::lock_guard<std::mutex> lock(rings_mutex_);
    for (auto& r : owned_rings_) {
      static_cast<Ring*>(r.get())->destroy_contents();
      r->queue_alive.store(false, std::memory_order_release);
    }
  }

  /// Adds `item` in the calling thread's ring. Returns true when the queue was empty before the
  /// add, i.e. the consumer is idle and this caller must wake it. Never fails; in bounded mode it
  /// waits (yielding) while this producer is at its limit.
  bool add_and_check_if_was_empty(T item) {
    Ring* ring = my_ring();
    if (!ring->can_push(max_pending_)) [[unlikely]]
      wait_for_room(ring);
    ring->push(std::move(item));
    return claim_wake();
  }

  /// Like add_and_check_if_was_empty() but reports back-pressure instead of waiting: on kFull
  /// `item` is left untouched.
  AddResult try_add(T& item) {
    Ring* ring = my_ring();
    if (!ring->can_push(max_pending_)) return AddResult::kFull;
    ring->push(std::move(item));
    return claim_wake() ? AddResult::kAddedWasEmpty : AddResult::kAdded;
  }

  /// Consumer only. Hands every item that is ready to `sink(T&&)`, producer by producer, each
  /// producer's items in the order it added them; stops after `max_items`. Does not change the
  /// idle state: use it to spin, then call arm() before sleeping. Returns the number delivered.
  template <class Sink>
  std::size_t poll(Sink&& sink, std::size_t max_items = std::numeric_limits<std::size_t>::max()) {
    std::size_t n = 0;
    for (Ring* r = rings_head_.load(std::memory_order_acquire); r != nullptr && n < max_items;
         r = r->next_ring) {
      n += r->consume(sink, max_items - n, bounded());
    }
    return n;
  }

  /// Consumer only, before it goes to sleep. Returns true when it may sleep: the queue was empty
  /// and the next add will report was-empty (or an add already did and a wake is on its way).
  /// Returns false when items arrived meanwhile; the consumer must poll again.
  bool arm() {
    armed_.store(true, std::memory_order_relaxed);
    heavy_barrier();
    if (!ready()) return true;
    // Items are there. If no producer has taken the flag yet, take it back and keep draining;
    // otherwise that producer is about to wake us and we may sleep.
    return !armed_.exchange(false, std::memory_order_acq_rel);
  }

  /// Consumer only, for a consumer that sleeps when idle: delivers what is ready and returns the
  /// count. When nothing is ready it arms, after a short wait (QueueOptions::idle_wait) if it has
  /// been taking a stream of items. Returns 0 only when the consumer may sleep (the next add
  /// reports was-empty).
  template <class Sink>
  std::size_t drain_or_arm(Sink&& sink,
                           std::size_t max_items = std::numeric_limits<std::size_t>::max()) {
    for (;;) {
      std::size_t n = poll(sink, max_items);
      if (n == 0 && streak_ >= kStreamingItems && idle_wait_.count() > 0) {
        // Producers are streaming and the consumer has caught up with them. Arming now would
        // cost a membarrier (an interrupt to every CPU running a producer) and, a few items
        // later, a futex wake paid by a producer; waiting lets a batch build up instead. The
        // wait reads nothing the producers write, so it does not slow them down either.
        idle_pause();
        n = poll(sink, max_items);
      }
      if (n != 0) {
        streak_ += n;
        return n;
      }
      if (arm()) {
        streak_ = 0;
        return 0;
      }
    }
  }

  /// Consumer only. The upstream drainAll(): delivers everything queued, and returns once the
  /// queue was seen empty and armed, so the next add reports was-empty. Returns the count.
  template <class Sink>
  std::size_t drain_all(Sink&& sink) {
    std::size_t total = 0;
    while (std::size_t n = drain_or_arm(sink)) total += n;
    return total;
  }

  /// Consumer only: true when no item is ready to be drained.
  bool empty() const { return !ready(); }

  /// True when add() pays only a compiler barrier (membarrier(2) in use).
  bool asymmetric() const noexcept { return asymmetric_; }

  /// Producer rings created so far (threads that ever added, minus those reused).
  std::size_t producer_rings() const {
    std::lock_guard<std::mutex> lock(rings_mutex_);
    return owned_rings_.size();
  }

  /// Segments allocated so far over all rings: flat once the queue is warm.
  std::size_t segments_allocated() const {
    std::size_t n = 0;
    for (Ring* r = rings_head_.load(std::memory_order_acquire); r != nullptr; r = r->next_ring) {
      n += r->allocated.load(std::memory_order_relaxed);
    }
    return n;
  }

 private:
  // Items travel in groups that share one cache line with their sequence word: 7 items of 8 bytes
  // to a line. The producer stores the group's sequence (position of its newest item + 1) after
  // each item, so a consumer learns of an item from the very line that carries it, and a line
  // crosses between cores once per group rather than once per item.
  static constexpr std::size_t kGroup =
      alignof(T) <= 8 && sizeof(T) <= 56 ? 56 / sizeof(T) : std::size_t{1};
  struct alignas(sizeof(std::uint64_t) + kGroup * sizeof(T) <= 64 ? 64
                                                                  : alignof(std::uint64_t)) Slot {
    std::atomic<std::uint64_t> seq{0};
    alignas(T) unsigned char storage[kGroup * sizeof(T)];
    T* item(std::size_t off) { return std::launder(reinterpret_cast<T*>(storage) + off); }
  };

  struct Segment {
    std::atomic<Segment*> next{nullptr};  // the producer links its next segment here
    Segment* free_next = nullptr;         // link in the ring's free list
    Slot* slots() {
      return reinterpret_cast<Slot*>(reinterpret_cast<unsigned char*>(this) + kHeader);
    }
    static constexpr std::size_t kHeader =
        (sizeof(std::atomic<Segment*>) + sizeof(Segment*) + alignof(Slot) - 1) / alignof(Slot) *
        alignof(Slot);
  };

  struct Ring final : detail::RingBase {
    explicit Ring(std::size_t segment_items)
        : segment_items_(segment_items), segment_groups_(segment_items / kGroup) {
      Segment* s = allocate();
      tail_seg = s;
      tail_group = s->slots();
      head_seg = s;
    }
    ~Ring() override {
      for (Segment* s : all_segments) free_segment(s);
    }

    // --- producer side (one thread at a time, handed over through `claimed`) ---
    alignas(detail::kCacheLine) Segment* tail_seg = nullptr;
    Slot* tail_group = nullptr;       // the group being filled
    std::size_t tail_off = 0;         // items already in it
    std::uint64_t tail_pos = 0;       // items ever pushed
    std::uint64_t seen_consumed = 0;  // cached copy of `consumed`
    Segment* spare = nullptr;         // segments taken back from the free list
    std::vector<Segment*> all_segments;
    std::atomic<std::size_t> allocated{0};
    Ring* next_ring = nullptr;  // immutable once the ring is published

    // --- consumer side ---
    alignas(detail::kCacheLine) Segment* head_seg = nullptr;
    std::size_t head_idx = 0;
    std::uint64_t head_pos = 0;

    // --- shared, written rarely ---
    alignas(detail::kCacheLine) std::atomic<std::uint64_t> consumed{0};  // bounded mode only
    alignas(detail::kCacheLine) std::atomic<Segment*> free_head{nullptr};
    const std::size_t segment_items_;  // a multiple of kGroup
    const std::size_t segment_groups_;
    static constexpr std::size_t kPrefetchAfter = 16;
    static constexpr std::size_t kPrefetchGroups = 16 * detail::kCacheLine / sizeof(Slot) + 1;

    bool can_push(std::uint64_t max_pending) {
      if (tail_pos - seen_consumed < max_pending) return true;
      seen_consumed = consumed.load(std::memory_order_acquire);
      return tail_pos - seen_consumed < max_pending;
    }

    void push(T&& item) {
      if (tail_off == kGroup) [[unlikely]]
        next_group();
      Slot* group = tail_group;
      ::new (static_cast<void*>(group->item(tail_off))) T(std::move(item));
      ++tail_off;
      group->seq.store(++tail_pos, std::memory_order_release);
    }

    void next_group() {
      tail_off = 0;
      if (++tail_group == tail_seg->slots() + segment_groups_) [[unlikely]]
        next_segment();
    }

    [[gnu::noinline]] void next_segment() {
      Segment* s = take_segment();
      s->next.store(nullptr, std::memory_order_relaxed);
      tail_seg->next.store(s, std::memory_order_release);
      tail_seg = s;
      tail_group = s->slots();
    }

    // Sink must not throw (FeedbackChannel catches for its consumer).
    template <class Sink>
    std::size_t consume(Sink& sink, std::size_t max_items, bool publish) {
      // Work on locals: the sink may write memory the compiler cannot prove is not ours.
      Segment* seg = head_seg;
      std::size_t idx = head_idx;
      std::uint64_t pos = head_pos;
      std::size_t n = 0;
      while (n < max_items) {
        if (idx == segment_items_) {
          Segment* next = seg->next.load(std::memory_order_acquire);
          if (next == nullptr) break;
          recycle(seg);
          seg = next;
          idx = 0;
        }
        Slot* groups = seg->slots();
        const std::size_t room = segment_items_ - idx;
        const std::size_t end = max_items - n >= room ? segment_items_ : idx + (max_items - n);
        const std::size_t first = idx;
        std::uint64_t ready_to = 0;  // items at positions below this are written
        std::size_t g = idx / kGroup;
        std::size_t off = idx % kGroup;
        for (; idx < end; ++idx) {
          if (pos >= ready_to) {
            // First item of a group (or of the batch): its line tells how far the group is.
            ready_to = groups[g].seq.load(std::memory_order_acquire);
            if (pos >= ready_to) break;
            // Deep in a backlog, fetch lines well ahead: they come from the producer's cache and
            // overlapping those transfers is what lets the consumer keep up. Early in a batch we
            // do not, so we never pull a line the producer is still writing.
            if (idx - first + n >= kPrefetchAfter && g + kPrefetchGroups < segment_groups_) {
              __builtin_prefetch(&groups[g + kPrefetchGroups], 0, 3);
            }
          }
          T* item = groups[g].item(off);
          sink(std::move(*item));
          item->~T();
          ++pos;
          if (++off == kGroup) {
            off = 0;
            ++g;
          }
        }
        n += idx - first;
        if (idx < end || idx < segment_items_) break;  // met an unwritten slot, or the limit
      }
      head_seg = seg;
      head_idx = idx;
      head_pos = pos;
      if (publish && n != 0) consumed.store(pos, std::memory_order_release);
      return n;
    }

    bool ready() const {
      Segment* seg = head_seg;
      std::size_t idx = head_idx;
      if (idx == segment_items_) {
        seg = seg->next.load(std::memory_order_acquire);
        if (seg == nullptr) return false;
        idx = 0;
      }
      return seg->slots()[idx / kGroup].seq.load(std::memory_order_acquire) > head_pos;
    }

    void recycle(Segment* s) {
      Segment* head = free_head.load(std::memory_order_relaxed);
      do {
        s->free_next = head;
      } while (!free_head.compare_exchange_weak(head, s, std::memory_order_release,
                                                std::memory_order_relaxed));
    }

    Segment* take_segment() {
      if (spare == nullptr) spare = free_head.exchange(nullptr, std::memory_order_acquire);
      if (spare != nullptr) {
        Segment* s = spare;
        spare = s->free_next;
        return s;
      }
      return allocate();
    }

    Segment* allocate() {
      std::size_t bytes = Segment::kHeader + segment_groups_ * sizeof(Slot);
      void* raw =
          ::operator new (bytes, std::align_val_t{std::max(alignof(Slot), detail::kCacheLine)});
      Segment* s = ::new (raw) Segment();
      Slot* slots = s->slots();
      for (std::size_t i = 0; i < segment_groups_; ++i)
        ::new (static_cast<void*>(&slots[i])) Slot();
      all_segments.push_back(s);
      allocated.fetch_add(1, std::memory_order_relaxed);
      return s;
    }

    void free_segment(Segment* s) {
      Slot* slots = s->slots();
      for (std::size_t i = 0; i < segment_groups_; ++i) slots[i].~Slot();
      s->~Segment();
      ::operator delete (static_cast<void*>(s),
                         std::align_val_t{std::max(alignof(Slot), detail::kCacheLine)});
    }

    // Quiescent: destroys undrained items so they do not outlive the queue.
    void destroy_contents() {
      while (true) {
        if (head_idx == segment_items_) {
          Segment* next = head_seg->next.load(std::memory_order_acquire);
          if (next == nullptr) break;
          head_seg = next;
          head_idx = 0;
        }
        Slot& group = head_seg->slots()[head_idx / kGroup];
        if (group.seq.load(std::memory_order_acquire) <= head_pos) break;
        group.item(head_idx % kGroup)->~T();
        ++head_idx;
        ++head_pos;
      }
    }
  };

  // Whole groups, at least 16 of them.
  static std::size_t round_up(std::size_t n) {
    std::size_t groups = std::max<std::size_t>(16, (n + kGroup - 1) / kGroup);
    return groups * kGroup;
  }

  bool bounded() const { return max_pending_ != std::numeric_limits<std::uint64_t>::max(); }

#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer models neither membarrier nor standalone fences. A read-modify-write of one
  // shared word on both sides gives the same store-load ordering in terms TSan follows: whichever
  // side's exchange comes second synchronizes with the other's, so it sees the other's store.
  void light_barrier() const { tsan_sync_.fetch_add(0, std::memory_order_acq_rel); }
  void heavy_barrier() const { tsan_sync_.fetch_add(0, std::memory_order_acq_rel); }
  mutable std::atomic<std::uint64_t> tsan_sync_{0};
#else
  void light_barrier() const {
    if (asymmetric_) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
  }

  void heavy_barrier() const {
    if (asymmetric_) {
      detail::heavy_barrier();
    } else {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
  }
#endif

  // The producer's half of the Dekker pair: its item is published, now look for the idle flag.
  bool claim_wake() {
    light_barrier();
    return armed_.load(std::memory_order_relaxed) &&
           armed_.exchange(false, std::memory_order_acq_rel);
  }

  bool ready() const {
    for (Ring* r = rings_head_.load(std::memory_order_acquire); r != nullptr; r = r->next_ring) {
      if (r->ready()) return true;
    }
    return false;
  }

  // Gives the CPU to a thread that shares it (with more threads than cores that is often a
  // producer), then spins out the rest of idle_wait. Neither reads producer memory.
  [[gnu::noinline]] void idle_pause() const {
    const auto deadline = std::chrono::steady_clock::now() + idle_wait_;
    std::this_thread::yield();
    while (std::chrono::steady_clock::now() < deadline) {
      for (int i = 0; i < 8; ++i) detail::cpu_relax();
    }
  }

  [[gnu::noinline]] void wait_for_room(Ring* ring) {
    while (!ring->can_push(max_pending_)) std::this_thread::yield();
  }

  Ring* my_ring() {
    if (detail::t_last_ring.queue_id == id_) [[likely]] {
      return static_cast<Ring*>(detail::t_last_ring.ring);
    }
    return my_ring_slow();
  }

  [[gnu::noinline]] Ring* my_ring_slow() {
    Ring* r = find_or_make_ring(detail::producer_cache());
    detail::t_last_ring = {id_, r};
    return r;
  }

  Ring* find_or_make_ring(detail::ProducerCache& cache) {
    // Forget rings of queues that are gone.
    std::erase_if(cache.entries, [](const detail::ProducerCache::Entry& e) {
      if (e.ring->queue_alive.load(std::memory_order_acquire)) return false;
      e.ring->claimed.store(false, std::memory_order_release);
      return true;
    });
    for (auto& e : cache.entries) {
      if (e.queue_id == id_) return static_cast<Ring*>(e.ring.get());
    }
    std::shared_ptr<detail::RingBase> ring;
    {
      std::lock_guard<std::mutex> lock(rings_mutex_);
      // Take over a ring whose thread has ended before making a new one.
      for (auto& r : owned_rings_) {
        bool unclaimed = false;
        if (r->claimed.compare_exchange_strong(unclaimed, true, std::memory_order_acquire)) {
          ring = r;
          break;
        }
      }
      if (!ring) {
        auto fresh = std::make_shared<Ring>(segment_items_);
        Ring* raw = fresh.get();
        raw->next_ring = rings_head_.load(std::memory_order_relaxed);
        ring = fresh;
        owned_rings_.push_back(ring);
        // Publishing is a seq_cst store, so it is ordered before this thread's first item.
        rings_head_.store(raw, std::memory_order_seq_cst);
      }
    }
    cache.entries.push_back({id_, ring});
    return static_cast<Ring*>(ring.get());
  }

  const std::uint64_t id_;
  const std::size_t segment_items_;
  const std::uint64_t max_pending_;
  const bool asymmetric_;
  const std::chrono::nanoseconds idle_wait_;
  // Consumer only, on a line of its own (producers read the fields above on every add): items
  // taken by drain_or_arm() since it last armed.
  alignas(detail::kCacheLine) std::size_t streak_ = 0;
  alignas(detail::kCacheLine) std::atomic<bool> armed_{true};  // empty queue: first add wakes
  alignas(detail::kCacheLine) std::atomic<Ring*> rings_head_{nullptr};
  mutable std::mutex rings_mutex_;
  std::vector<std::shared_ptr<detail::RingBase>> owned_rings_;
};

}  // namespace aftk::feedback
