// SPDX-License-Identifier: Apache-2.0
// The queues feedback-bench compares, behind one small interface: add() says whether the queue
// was empty, drain() takes what is there, drain_to_sleep() returns 0 only when sleeping is safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "aftk/feedback/batch_feedback_queue.h"

#if __has_include(<concurrentqueue/concurrentqueue.h>)
#include <concurrentqueue/concurrentqueue.h>
#define AFTK_BENCH_HAVE_MOODYCAMEL 1
#endif
#if __has_include(<boost/lockfree/queue.hpp>) && __has_include(<boost/lockfree/spsc_queue.hpp>)
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#define AFTK_BENCH_HAVE_BOOST 1
#endif

namespace aftk::tools::feedback_bench {

struct NoHandle {};

/// Ours: per-producer rings, was-empty by an armed flag and asymmetric barriers.
template <class T>
class AftkPeer {
 public:
  static constexpr bool kMultiProducer = true;
  using Handle = NoHandle;
  Handle handle() { return {}; }
  bool add(Handle&, T&& v) { return q_.add_and_check_if_was_empty(std::move(v)); }
  template <class F>
  std::size_t drain(F& f) {
    return q_.poll(f);
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    return q_.drain_or_arm(f);
  }

 private:
  // Default options, as FeedbackChannel uses them: drain_or_arm() arms as soon as it finds
  // nothing, except after a stream of items, when it first waits QueueOptions::idle_wait (1 us).
  feedback::BatchFeedbackQueue<T> q_;
};

/// The upstream design (StateFun's and Flink Agents' MpscQueue): two growable arrays swapped under
/// a spin lock that yields while it waits; was-empty is "size after add == 1". Java's ArrayDeque
/// with 32 Ki initial capacity becomes a vector reserved to the same size.
template <class T>
class TwoDequeSpinPeer {
 public:
  static constexpr bool kMultiProducer = true;
  using Handle = NoHandle;
  TwoDequeSpinPeer() {
    active_.reserve(32 * 1024);
    standby_.reserve(32 * 1024);
  }
  Handle handle() { return {}; }
  bool add(Handle&, T&& v) {
    lock();
    active_.push_back(std::move(v));
    std::size_t size = active_.size();
    unlock();
    return size == 1;
  }
  template <class F>
  std::size_t drain(F& f) {
    lock();
    if (active_.empty()) {
      unlock();
      return 0;
    }
    std::swap(active_, standby_);
    unlock();
    for (auto& v : standby_) f(std::move(v));
    std::size_t n = standby_.size();
    standby_.clear();
    return n;
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    return drain(f);
  }

 private:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

  alignas(64) std::atomic<bool> locked_{false};
  std::vector<T> active_;
  std::vector<T> standby_;
};

/// The naive baseline: std::mutex around a std::deque, swapped out on drain.
template <class T>
class MutexDequePeer {
 public:
  static constexpr bool kMultiProducer = true;
  using Handle = NoHandle;
  Handle handle() { return {}; }
  bool add(Handle&, T&& v) {
    std::lock_guard<std::mutex> lock(mutex_);
    items_.push_back(std::move(v));
    return items_.size() == 1;
  }
  template <class F>
  std::size_t drain(F& f) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (items_.empty()) return 0;
      std::swap(items_, taken_);
    }
    for (auto& v : taken_) f(std::move(v));
    std::size_t n = taken_.size();
    taken_.clear();
    return n;
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    return drain(f);
  }

 private:
  std::mutex mutex_;
  std::deque<T> items_;
  std::deque<T> taken_;
};

// Queues with no notion of emptiness pay for it with a counter: add increments (was-empty when
// it was 0), drain subtracts what it took. This is the fence per push the issue talks about.
class EmptyCounter {
 public:
  bool added() { return count_.fetch_add(1, std::memory_order_acq_rel) == 0; }
  void taken(std::size_t n) {
    if (n != 0) count_.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_acq_rel);
  }
  bool empty() const { return count_.load(std::memory_order_acquire) <= 0; }

 private:
  alignas(64) std::atomic<std::int64_t> count_{0};
};

#ifdef AFTK_BENCH_HAVE_MOODYCAMEL
template <class T>
class MoodycamelPeer {
 public:
  static constexpr bool kMultiProducer = true;
  using Handle = moodycamel::ProducerToken;
  MoodycamelPeer() : q_(64 * 1024), consumer_(q_) {}
  Handle handle() { return Handle(q_); }
  bool add(Handle& h, T&& v) {
    q_.enqueue(h, std::move(v));
    return count_.added();
  }
  template <class F>
  std::size_t drain(F& f) {
    std::size_t total = 0;
    for (;;) {
      std::size_t n = q_.try_dequeue_bulk(consumer_, buffer_, kBulk);
      for (std::size_t i = 0; i < n; ++i) f(std::move(buffer_[i]));
      total += n;
      if (n < kBulk) break;
    }
    count_.taken(total);
    return total;
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    for (;;) {
      if (std::size_t n = drain(f)) return n;
      if (count_.empty()) return 0;
    }
  }

 private:
  static constexpr std::size_t kBulk = 256;
  moodycamel::ConcurrentQueue<T> q_;
  moodycamel::ConsumerToken consumer_;
  EmptyCounter count_;
  T buffer_[kBulk];
};
#endif

#ifdef AFTK_BENCH_HAVE_BOOST
template <class T>
class BoostQueuePeer {
 public:
  static constexpr bool kMultiProducer = true;
  using Handle = NoHandle;
  BoostQueuePeer() : q_(64 * 1024) {}
  Handle handle() { return {}; }
  bool add(Handle&, T&& v) {
    q_.push(v);
    return count_.added();
  }
  template <class F>
  std::size_t drain(F& f) {
    std::size_t n = q_.consume_all([&f](T v) { f(std::move(v)); });
    count_.taken(n);
    return n;
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    for (;;) {
      if (std::size_t n = drain(f)) return n;
      if (count_.empty()) return 0;
    }
  }

 private:
  boost::lockfree::queue<T> q_;
  EmptyCounter count_;
};

template <class T>
class BoostSpscPeer {
 public:
  static constexpr bool kMultiProducer = false;
  using Handle = NoHandle;
  BoostSpscPeer() : q_(64 * 1024) {}
  Handle handle() { return {}; }
  bool add(Handle&, T&& v) {
    while (!q_.push(v)) std::this_thread::yield();  // full: the only back-pressure it has
    return count_.added();
  }
  template <class F>
  std::size_t drain(F& f) {
    std::size_t n = q_.consume_all([&f](T v) { f(std::move(v)); });
    count_.taken(n);
    return n;
  }
  template <class F>
  std::size_t drain_to_sleep(F& f) {
    for (;;) {
      if (std::size_t n = drain(f)) return n;
      if (count_.empty()) return 0;
    }
  }

 private:
  boost::lockfree::spsc_queue<T> q_;
  EmptyCounter count_;
};
#endif

}  // namespace aftk::tools::feedback_bench
