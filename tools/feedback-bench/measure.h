// SPDX-License-Identifier: Apache-2.0
// One repetition of each feedback-bench measurement, for any queue in peers.h.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "aftk/feedback/executor.h"
#include "aftk/feedback/feedback_channel.h"
#include "aftk/feedback/parker.h"
#include "peers.h"

namespace aftk::tools::feedback_bench {

/// Heap allocations made by the calling thread (counted by the bench's operator new).
std::uint64_t thread_allocations() noexcept;

/// Nanoseconds per TSC tick, calibrated once against steady_clock.
double ns_per_tick();

/// An item of `Bytes` bytes; the first word carries (producer << 40 | sequence).
template <std::size_t Bytes>
struct Payload {
  static_assert(Bytes % 8 == 0 && Bytes >= 8);
  std::uint64_t words[Bytes / 8];
};

inline constexpr std::uint64_t kStop = ~std::uint64_t{0};

struct ThroughputRun {
  double items_per_s = 0;
  double allocs_per_item = 0;
  double wakes_per_batch = 0;  // parking consumer only
};

struct LatencyRun {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
  double wakes_per_batch = 0;  // park loops only
  std::uint64_t timeouts = 0;  // parks that ended by timeout: a lost wake-up if not zero
};

inline void pin_to(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % std::max(1u, std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

inline void relax() { feedback::detail::cpu_relax(); }

inline LatencyRun percentiles(std::vector<double>& ns) {
  LatencyRun r;
  if (ns.empty()) return r;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    auto i = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1) + 0.5);
    return ns[std::min(i, ns.size() - 1)];
  };
  r.p50 = at(0.50);
  r.p99 = at(0.99);
  r.p999 = at(0.999);
  r.max = ns.back();
  return r;
}

// Spins a while, then yields, so a consumer sharing a core with producers does not starve them.
struct Backoff {
  unsigned misses = 0;
  void idle() {
    if (++misses < 64) {
      relax();
    } else {
      std::this_thread::yield();
    }
  }
  void hit() { misses = 0; }
};

// P producers add tagged items as fast as they can; one consumer drains. With `Park` the consumer
// sleeps when it finds nothing and the add that reports was-empty wakes it, as in the feedback
// loop; without, it spins.
template <class Peer, class T, bool Park>
ThroughputRun throughput_once(unsigned producers, std::uint64_t items, bool pin) {
  auto peer = std::make_unique<Peer>();
  const std::uint64_t per = std::max<std::uint64_t>(1, items / producers);
  const std::uint64_t total = per * producers;
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> claims{0};
  feedback::Parker parker;
  std::chrono::steady_clock::time_point end;
  std::vector<std::thread> threads;
  // Each thread loops on copies of what it needs and keeps its counters in locals until the end:
  // a per-item write to this frame would share a cache line with what the other threads read.
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p, q = peer.get(), per] {
      if (pin && producers == 1) pin_to(0);
      auto handle = q->handle();
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) relax();
      std::uint64_t before = thread_allocations();
      std::uint64_t my_claims = 0;
      for (std::uint64_t i = 0; i < per; ++i) {
        T v{};
        v.words[0] = (std::uint64_t{p} << 40) | i;
        if (q->add(handle, std::move(v)) && Park) {
          ++my_claims;
          parker.unpark();
        }
      }
      allocs.fetch_add(thread_allocations() - before);
      claims.fetch_add(my_claims);
    });
  }
  std::uint64_t checksum = 0, batches = 0;
  threads.emplace_back([&, q = peer.get(), total] {
    if (pin && producers == 1) pin_to(1);
    std::uint64_t got = 0, sum = 0, my_batches = 0;
    auto sink = [&](T&& v) {
      sum += v.words[0];
      ++got;
    };
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) relax();
    std::uint64_t before = thread_allocations();
    Backoff backoff;
    while (got < total) {
      if constexpr (Park) {
        if (q->drain_to_sleep(sink) == 0) {
          parker.park(std::chrono::milliseconds(200));
        } else {
          ++my_batches;
        }
      } else {
        if (q->drain(sink) == 0) {
          backoff.idle();
        } else {
          backoff.hit();
        }
      }
    }
    end = std::chrono::steady_clock::now();
    checksum = sum;
    batches = my_batches;
    allocs.fetch_add(thread_allocations() - before);
  });
  while (ready.load() != producers + 1) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(end - start).count();
  asm volatile("" : : "r"(checksum));
  ThroughputRun r;
  r.items_per_s = static_cast<double>(total) / secs;
  r.allocs_per_item = static_cast<double>(allocs.load()) / static_cast<double>(total);
  r.wakes_per_batch =
      batches == 0 ? 0 : static_cast<double>(claims.load()) / static_cast<double>(batches);
  return r;
}

// One item goes A -> B -> A; both sides spin on drain().
template <class Peer, class T>
LatencyRun rtt_spin_once(std::size_t samples, bool pin) {
  auto q1 = std::make_unique<Peer>();
  auto q2 = std::make_unique<Peer>();
  std::vector<double> ns;
  ns.reserve(samples);
  std::thread echo([&] {
    if (pin) pin_to(1);
    auto h2 = q2->handle();
    bool stop = false;
    auto sink = [&](T&& v) {
      if (v.words[0] == kStop) {
        stop = true;
      } else {
        (void)q2->add(h2, std::move(v));
      }
    };
    while (!stop) {
      if (q1->drain(sink) == 0) relax();
    }
  });
  std::thread ping([&] {
    if (pin) pin_to(0);
    auto h1 = q1->handle();
    const double scale = ns_per_tick();
    bool got = false;
    auto sink = [&](T&&) { got = true; };
    for (std::size_t i = 0; i < samples + samples / 10; ++i) {
      T v{};
      v.words[0] = i;
      got = false;
      std::uint64_t t0 = __rdtsc();
      (void)q1->add(h1, std::move(v));
      while (!got) {
        if (q2->drain(sink) == 0) relax();
      }
      std::uint64_t t1 = __rdtsc();
      if (i >= samples / 10)
        ns.push_back(static_cast<double>(t1 - t0) * scale);  // first 10%: warm-up
    }
    T stop{};
    stop.words[0] = kStop;
    (void)q1->add(h1, std::move(stop));
  });
  ping.join();
  echo.join();
  return percentiles(ns);
}

// The same loop, but a side with nothing to do sleeps on a futex and is woken only by the add
// that reports was-empty.
template <class Peer, class T>
LatencyRun rtt_park_once(std::size_t samples, bool pin) {
  auto q1 = std::make_unique<Peer>();
  auto q2 = std::make_unique<Peer>();
  feedback::Parker park_a, park_b;
  std::atomic<std::uint64_t> timeouts{0};
  std::uint64_t claims_a = 0, batches_b = 0;
  std::vector<double> ns;
  ns.reserve(samples);
  constexpr auto kPatience = std::chrono::milliseconds(200);
  std::thread echo([&] {
    if (pin) pin_to(1);
    auto h2 = q2->handle();
    bool stop = false;
    auto sink = [&](T&& v) {
      if (v.words[0] == kStop) {
        stop = true;
      } else if (q2->add(h2, std::move(v))) {
        park_a.unpark();
      }
    };
    std::uint64_t my_batches = 0;  // counted locally: see throughput_once
    while (!stop) {
      if (q1->drain_to_sleep(sink) == 0) {
        if (!park_b.park(kPatience)) timeouts.fetch_add(1);
      } else {
        ++my_batches;
      }
    }
    batches_b = my_batches;
  });
  std::thread ping([&] {
    if (pin) pin_to(0);
    auto h1 = q1->handle();
    const double scale = ns_per_tick();
    bool got = false;
    auto sink = [&](T&&) { got = true; };
    std::uint64_t my_claims = 0;
    for (std::size_t i = 0; i < samples + samples / 10; ++i) {
      T v{};
      v.words[0] = i;
      got = false;
      std::uint64_t t0 = __rdtsc();
      if (q1->add(h1, std::move(v))) {
        ++my_claims;
        park_b.unpark();
      }
      while (!got) {
        if (q2->drain_to_sleep(sink) == 0 && !got) {
          if (!park_a.park(kPatience)) timeouts.fetch_add(1);
        }
      }
      std::uint64_t t1 = __rdtsc();
      if (i >= samples / 10) ns.push_back(static_cast<double>(t1 - t0) * scale);
    }
    claims_a = my_claims;
    T stop{};
    stop.words[0] = kStop;
    if (q1->add(h1, std::move(stop))) park_b.unpark();
  });
  ping.join();
  echo.join();
  LatencyRun r = percentiles(ns);
  r.wakes_per_batch =
      batches_b == 0 ? 0 : static_cast<double>(claims_a) / static_cast<double>(batches_b);
  r.timeouts = timeouts.load();
  return r;
}

// Through FeedbackChannel: producers put(), the consumer runs on a one-thread pool.
template <class T>
ThroughputRun channel_throughput_once(unsigned producers, std::uint64_t items) {
  const std::uint64_t per = std::max<std::uint64_t>(1, items / producers);
  const std::uint64_t total = per * producers;
  // What the consumer writes per item lives on lines of its own (see throughput_once).
  struct alignas(64) ConsumerState {
    std::uint64_t got = 0, checksum = 0;
    std::chrono::steady_clock::time_point end;
    std::atomic<bool> done{false};
  };
  auto state = std::make_unique<ConsumerState>();
  feedback::ThreadPoolExecutor pool(1);
  auto channel = feedback::FeedbackChannel<T>::create(
      feedback::FeedbackKey{"bench", 1}.with_subtask_index(0, 0));
  (void)channel->register_consumer(
      [s = state.get(), total](T&& v) {
        s->checksum += v.words[0];
        if (++s->got == total) {
          s->end = std::chrono::steady_clock::now();
          s->done.store(true, std::memory_order_release);
        }
      },
      pool);
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> allocs{0};
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p, c = channel.get(), per] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) relax();
      std::uint64_t before = thread_allocations();
      for (std::uint64_t i = 0; i < per; ++i) {
        T v{};
        v.words[0] = (std::uint64_t{p} << 40) | i;
        c->put(std::move(v));
      }
      allocs.fetch_add(thread_allocations() - before);
    });
  }
  while (ready.load() != producers) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  while (!state->done.load(std::memory_order_acquire)) std::this_thread::yield();
  channel->close();
  double secs = std::chrono::duration<double>(state->end - start).count();
  asm volatile("" : : "r"(state->checksum));
  ThroughputRun r;
  r.items_per_s = static_cast<double>(total) / secs;
  r.allocs_per_item = static_cast<double>(allocs.load()) / static_cast<double>(total);
  r.wakes_per_batch = channel->drains() == 0 ? 0
                                             : static_cast<double>(pool.wakes()) /
                                                   static_cast<double>(channel->drains());
  return r;
}

// A puts into channel 1, whose consumer (on a pool thread) puts into channel 2, whose consumer
// runs inline and wakes A: two futex wakes per round trip, like the floor.
template <class T>
LatencyRun channel_park_once(std::size_t samples, bool pin) {
  feedback::Parker park_a;
  std::atomic<std::uint64_t> reply{kStop};
  feedback::InlineExecutor inline_executor;
  auto back = feedback::FeedbackChannel<T>::create(
      feedback::FeedbackKey{"bench", 2}.with_subtask_index(0, 0));
  (void)back->register_consumer(
      [&](T&& v) {
        reply.store(v.words[0], std::memory_order_release);
        park_a.unpark();
      },
      inline_executor);
  auto forth = feedback::FeedbackChannel<T>::create(
      feedback::FeedbackKey{"bench", 1}.with_subtask_index(0, 0));
  std::uint64_t timeouts = 0;
  std::vector<double> ns;
  ns.reserve(samples);
  {
    feedback::ThreadPoolExecutor pool(1);
    (void)forth->register_consumer([&](T&& v) { back->put(std::move(v)); }, pool);
    std::thread ping([&] {
      if (pin) pin_to(0);
      const double scale = ns_per_tick();
      for (std::size_t i = 0; i < samples + samples / 10; ++i) {
        T v{};
        v.words[0] = i;
        std::uint64_t t0 = __rdtsc();
        forth->put(std::move(v));
        while (reply.load(std::memory_order_acquire) != i) {
          if (!park_a.park(std::chrono::milliseconds(200))) ++timeouts;
        }
        std::uint64_t t1 = __rdtsc();
        if (i >= samples / 10) ns.push_back(static_cast<double>(t1 - t0) * scale);
      }
    });
    ping.join();
    forth->close();
    LatencyRun r = percentiles(ns);
    r.wakes_per_batch = forth->drains() == 0 ? 0
                                             : static_cast<double>(pool.wakes()) /
                                                   static_cast<double>(forth->drains());
    r.timeouts = timeouts;
    back->close();
    return r;
  }
}

// Two cores bounce one cache line: the least any cross-core hand-over can cost.
inline LatencyRun cacheline_once(std::size_t samples, bool pin) {
  alignas(64) static std::atomic<std::uint64_t> line{0};
  line.store(0);
  std::vector<double> ns;
  ns.reserve(samples);
  const std::uint64_t rounds = samples + samples / 10;
  std::thread echo([&] {
    if (pin) pin_to(1);
    for (std::uint64_t i = 0; i < rounds; ++i) {
      while (line.load(std::memory_order_acquire) != 2 * i + 1) relax();
      line.store(2 * i + 2, std::memory_order_release);
    }
  });
  std::thread ping([&] {
    if (pin) pin_to(0);
    const double scale = ns_per_tick();
    for (std::uint64_t i = 0; i < rounds; ++i) {
      std::uint64_t t0 = __rdtsc();
      line.store(2 * i + 1, std::memory_order_release);
      while (line.load(std::memory_order_acquire) != 2 * i + 2) relax();
      std::uint64_t t1 = __rdtsc();
      if (i >= samples / 10) ns.push_back(static_cast<double>(t1 - t0) * scale);
    }
  });
  ping.join();
  echo.join();
  return percentiles(ns);
}

// Two threads wake each other through the same Parker the park loops use: the floor under any
// sleeping hand-over.
inline LatencyRun futex_once(std::size_t samples, bool pin) {
  feedback::Parker park_a, park_b;
  std::atomic<std::uint64_t> ball{0};
  std::vector<double> ns;
  ns.reserve(samples);
  const std::uint64_t rounds = samples + samples / 10;
  std::thread echo([&] {
    if (pin) pin_to(1);
    for (std::uint64_t i = 0; i < rounds; ++i) {
      while (ball.load(std::memory_order_acquire) != 2 * i + 1) park_b.park();
      ball.store(2 * i + 2, std::memory_order_release);
      park_a.unpark();
    }
  });
  std::thread ping([&] {
    if (pin) pin_to(0);
    const double scale = ns_per_tick();
    for (std::uint64_t i = 0; i < rounds; ++i) {
      std::uint64_t t0 = __rdtsc();
      ball.store(2 * i + 1, std::memory_order_release);
      park_b.unpark();
      while (ball.load(std::memory_order_acquire) != 2 * i + 2) park_a.park();
      std::uint64_t t1 = __rdtsc();
      if (i >= samples / 10) ns.push_back(static_cast<double>(t1 - t0) * scale);
    }
  });
  ping.join();
  echo.join();
  return percentiles(ns);
}

}  // namespace aftk::tools::feedback_bench
