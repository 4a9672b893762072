// SPDX-License-Identifier: Apache-2.0
// Tests of the feedback module: the batch queue, the channel, the broker and their concurrency.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aftk/feedback/batch_feedback_queue.h"
#include "aftk/feedback/executor.h"
#include "aftk/feedback/feedback_channel.h"
#include "aftk/feedback/keys.h"
#include "aftk/feedback/parker.h"

using namespace aftk;
using namespace aftk::feedback;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

// Aborts the process with a message when a test outlives its budget: a deadlock or a lost wake-up
// then fails the run instead of hanging it.
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds budget)
      : what_(std::move(what)), thread_([this, budget] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!cv_.wait_for(lock, budget, [this] { return done_; })) {
            std::fprintf(stderr,
                         "watchdog: '%s' still running after %llds: deadlock or lost wake-up\n",
                         what_.c_str(), static_cast<long long>(budget.count()));
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Single-threaded tests can spin forever too (a drain that never sees the queue empty).
Watchdog g_whole_run("feedback_test", std::chrono::seconds(240));

struct Tagged {
  std::uint32_t producer;
  std::uint32_t seq;
};

// Counts live instances so tests can see that undrained items get destroyed.
struct Counted {
  static inline std::atomic<int> live{0};
  int value = 0;
  explicit Counted(int v) : value(v) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : value(o.value) { live.fetch_add(1); }
  Counted(const Counted&) = delete;
  ~Counted() { live.fetch_sub(1); }
};

struct StressResult {
  std::uint64_t received = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t wakes_claimed = 0;  // adds that reported was-empty
  std::uint64_t idle_periods = 0;   // drain_all calls that left the queue armed
  std::uint64_t lost_wakeups = 0;   // consumer slept with items ready and nobody claiming them
  std::uint64_t full_reports = 0;   // try_add said kFull
};

// P producers add tagged items; the consumer drains, sleeps when idle and is woken only by the
// add that reports was-empty.
StressResult run_stress(unsigned producers, std::uint32_t per_producer, QueueOptions options,
                        bool use_try_add, bool bursty) {
  BatchFeedbackQueue<Tagged> queue(options);
  Parker parker;
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> full{0};
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint32_t i = 0; i < per_producer; ++i) {
        // Bursty producers pause now and then, so the consumer keeps going to sleep and the
        // was-empty hand-over is exercised thousands of times, not once.
        if (bursty && i % 256 == 255) std::this_thread::sleep_for(20us);
        Tagged t{p, i};
        bool wake = false;
        if (use_try_add) {
          AddResult r;
          while ((r = queue.try_add(t)) == AddResult::kFull) {
            full.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::yield();
          }
          wake = r == AddResult::kAddedWasEmpty;
        } else {
          wake = queue.add_and_check_if_was_empty(t);
        }
        if (wake) {
          claimed.fetch_add(1, std::memory_order_relaxed);
          parker.unpark();
        }
      }
    });
  }

  StressResult res;
  const std::uint64_t total = std::uint64_t{producers} * per_producer;
  std::vector<std::int64_t> next(producers, 0);
  std::vector<std::uint8_t> seen(total, 0);
  auto sink = [&](Tagged&& t) {
    ++res.received;
    std::uint64_t index = std::uint64_t{t.producer} * per_producer + t.seq;
    if (t.producer >= producers || t.seq >= per_producer || seen[index]++ != 0) {
      ++res.duplicates;
      return;
    }
    if (t.seq != next[t.producer]) ++res.out_of_order;
    next[t.producer] = std::int64_t{t.seq} + 1;
  };
  while (res.received < total) {
    queue.drain_all(sink);
    ++res.idle_periods;
    if (res.received >= total) break;
    // An armed queue with items ready for seconds means an add saw "not empty" while the
    // consumer was going to sleep: a lost wake-up. (A producer stalls between its store and its
    // check for microseconds, not seconds.)
    if (!parker.park(3s)) {
      if (!queue.empty()) {
        ++res.lost_wakeups;
        break;
      }
    }
  }
  for (auto& t : threads) t.join();
  queue.drain_all(sink);  // leave nothing behind even after a failure, so threads can finish
  res.wakes_claimed = claimed.load();
  res.full_reports = full.load();
  return res;
}

void check_stress(unsigned producers, std::uint32_t per_producer, QueueOptions options,
                  bool use_try_add = false, bool bursty = false) {
  Watchdog dog("stress " + std::to_string(producers), 120s);
  StressResult r = run_stress(producers, per_producer, options, use_try_add, bursty);
  (void)bursty;  // how often the consumer slept depends on timing, so it is not asserted
  CHECK(r.lost_wakeups == 0);
  CHECK(r.received == std::uint64_t{producers} * per_producer);
  CHECK(r.duplicates == 0);
  CHECK(r.out_of_order == 0);
  // Each idle period lets exactly one add claim the wake: never more claims than idle periods
  // (the queue also starts armed, hence the +1).
  CHECK(r.wakes_claimed <= r.idle_periods + 1);
  CHECK(r.wakes_claimed >= 1);
}

std::uint32_t stress_items(unsigned producers) {
  std::uint32_t total = kTsan ? 400'000 : 1'200'000;
  return total / producers;
}

}  // namespace

TEST_CASE("BatchFeedbackQueue.reports was-empty on the first add after a drain") {
  BatchFeedbackQueue<int> q;
  CHECK(q.add_and_check_if_was_empty(1));
  CHECK_FALSE(q.add_and_check_if_was_empty(2));
  CHECK_FALSE(q.add_and_check_if_was_empty(3));
  std::vector<int> got;
  CHECK(q.drain_all([&](int&& v) { got.push_back(v); }) == 3);
  CHECK(got == std::vector<int>{1, 2, 3});
  CHECK(q.empty());
  CHECK(q.add_and_check_if_was_empty(4));
}

TEST_CASE("BatchFeedbackQueue.poll does not re-arm, arm does") {
  BatchFeedbackQueue<int> q;
  CHECK(q.add_and_check_if_was_empty(1));
  int sum = 0;
  CHECK(q.poll([&](int&& v) { sum += v; }) == 1);
  CHECK_FALSE(q.add_and_check_if_was_empty(2));  // consumer still awake
  CHECK_FALSE(q.arm());                          // an item is there: keep draining
  CHECK(q.poll([&](int&& v) { sum += v; }) == 1);
  CHECK(q.arm());
  CHECK(q.add_and_check_if_was_empty(3));
  CHECK(q.poll([&](int&& v) { sum += v; }) == 1);
  CHECK(sum == 6);
}

TEST_CASE("BatchFeedbackQueue.drain_or_arm returns 0 only once the queue is armed") {
  BatchFeedbackQueue<int> q({.idle_wait = 5us});
  CHECK(q.add_and_check_if_was_empty(1));
  int sum = 0;
  auto sink = [&](int&& v) { sum += v; };
  CHECK(q.drain_or_arm(sink) == 1);
  CHECK_FALSE(q.add_and_check_if_was_empty(2));  // not armed while items keep coming
  CHECK(q.drain_or_arm(sink) == 1);
  CHECK(q.drain_or_arm(sink) == 0);
  CHECK(q.add_and_check_if_was_empty(3));  // armed: this add must wake the consumer
  CHECK(q.drain_or_arm(sink) == 1);
  CHECK(sum == 6);
}

TEST_CASE("BatchFeedbackQueue.after a stream drain_or_arm waits for more, then still arms") {
  BatchFeedbackQueue<int> q({.idle_wait = 20ms});
  for (int i = 0; i < 100; ++i) (void)q.add_and_check_if_was_empty(i);
  std::vector<int> got;
  auto sink = [&](int&& v) { got.push_back(v); };
  CHECK(q.drain_or_arm(sink) == 100);
  std::atomic<bool> woke{false};
  std::thread late([&] { woke = q.add_and_check_if_was_empty(100); });
  std::size_t n = q.drain_or_arm(sink);  // caught up after a stream: waits before arming
  late.join();
  // Whenever the late add lands, its item is taken by this drain or its add must wake us.
  CHECK((n == 1) != woke.load());
  while (q.drain_or_arm(sink) != 0) {
  }
  CHECK(q.add_and_check_if_was_empty(101));
  CHECK(q.drain_or_arm(sink) == 1);
  REQUIRE(got.size() == 102);
  for (int i = 0; i < 102; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("BatchFeedbackQueue.poll honours its item limit and keeps the rest") {
  BatchFeedbackQueue<int> q({.segment_items = 16});
  for (int i = 0; i < 100; ++i) (void)q.add_and_check_if_was_empty(i);
  std::vector<int> got;
  CHECK(q.poll([&](int&& v) { got.push_back(v); }, 40) == 40);
  CHECK(q.drain_all([&](int&& v) { got.push_back(v); }) == 60);
  REQUIRE(got.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("BatchFeedbackQueue.reuses segments: no allocation per item once warm") {
  BatchFeedbackQueue<std::uint64_t> q({.segment_items = 64});
  std::uint64_t sum = 0;
  auto round = [&] {
    for (std::uint64_t i = 0; i < 1000; ++i) (void)q.add_and_check_if_was_empty(i);
    q.drain_all([&](std::uint64_t&& v) { sum += v; });
  };
  round();
  round();
  std::size_t warm = q.segments_allocated();
  for (int i = 0; i < 200; ++i) round();
  CHECK(q.segments_allocated() == warm);
  CHECK(warm <= 1000 / 64 + 3);
  CHECK(sum == 202u * (999u * 1000u / 2u));
}

TEST_CASE("BatchFeedbackQueue.moves and destroys non-trivial items, drained or not") {
  {
    BatchFeedbackQueue<std::unique_ptr<std::string>> q({.segment_items = 16});
    for (int i = 0; i < 50; ++i)
      (void)q.add_and_check_if_was_empty(std::make_unique<std::string>(std::to_string(i)));
    std::string all;
    q.drain_all([&](std::unique_ptr<std::string>&& s) { all += *s; });
    CHECK(all.size() == 90);
  }
  {
    BatchFeedbackQueue<Counted> q({.segment_items = 16});
    for (int i = 0; i < 40; ++i) (void)q.add_and_check_if_was_empty(Counted(i));
    int first = 0;
    CHECK(q.poll([&](Counted&& c) { first += c.value; }, 5) == 5);
    CHECK(first == 0 + 1 + 2 + 3 + 4);
    CHECK(Counted::live.load() == 35);
  }
  CHECK(Counted::live.load() == 0);
}

TEST_CASE("BatchFeedbackQueue.bounded mode reports back-pressure instead of growing") {
  BatchFeedbackQueue<int> q({.segment_items = 16, .max_pending_per_producer = 10});
  int v = 0;
  CHECK(q.try_add(v) == AddResult::kAddedWasEmpty);
  for (v = 1; v < 10; ++v) CHECK(q.try_add(v) == AddResult::kAdded);
  int extra = 99;
  CHECK(q.try_add(extra) == AddResult::kFull);
  CHECK(extra == 99);
  int n = 0;
  q.drain_all([&](int&&) { ++n; });
  CHECK(n == 10);
  CHECK(q.try_add(extra) == AddResult::kAddedWasEmpty);
}

TEST_CASE("BatchFeedbackQueue.a thread that ended leaves its ring to the next thread") {
  BatchFeedbackQueue<int> q;
  for (int round = 0; round < 5; ++round) {
    std::thread t([&] { (void)q.add_and_check_if_was_empty(round); });
    t.join();
  }
  std::vector<int> got;
  q.drain_all([&](int&& v) { got.push_back(v); });
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(q.producer_rings() == 1);
}

TEST_CASE("BatchFeedbackQueue.stress: tagged items, exact count, order, no lost wake-up") {
  for (unsigned producers : {1u, 2u, 8u}) {
    CAPTURE(producers);
    INFO("membarrier or fences, whichever the platform gives");
    check_stress(producers, stress_items(producers), {.segment_items = 256});
    check_stress(producers, stress_items(producers) / 4, {.segment_items = 256, .idle_wait = 0ns});
  }
}

TEST_CASE("BatchFeedbackQueue.stress with bursty producers: the consumer sleeps and wakes often") {
  for (unsigned producers : {1u, 2u, 8u}) {
    CAPTURE(producers);
    check_stress(producers, stress_items(producers) / 8, {.segment_items = 64}, false, true);
    check_stress(producers, stress_items(producers) / 8,
                 {.segment_items = 64, .force_fences = true, .idle_wait = 0ns}, false, true);
  }
}

TEST_CASE("BatchFeedbackQueue.stress with fences on both sides") {
  for (unsigned producers : {1u, 2u, 8u}) {
    CAPTURE(producers);
    check_stress(producers, stress_items(producers), {.segment_items = 64, .force_fences = true});
  }
}

TEST_CASE("BatchFeedbackQueue.stress bounded, back-pressure reported to the producers") {
  for (unsigned producers : {1u, 2u, 8u}) {
    CAPTURE(producers);
    check_stress(producers, stress_items(producers) / 4,
                 {.segment_items = 16, .max_pending_per_producer = 48}, true);
  }
}

TEST_CASE("FeedbackChannel.delivers items put before registration, even after close") {
  // Upstream FeedbackChannelTest: put, close, register; the consumer still receives "hello".
  FeedbackChannelBroker broker;
  SubtaskFeedbackKey key = FeedbackKey{"pipeline", 1}.with_subtask_index(0, 1);
  auto channel = broker.get_channel<std::string>(key);
  REQUIRE(channel.has_value());
  (*channel)->put("hello");
  (*channel)->close();
  CHECK(broker.size() == 0);
  std::vector<std::string> got;
  InlineExecutor inline_executor;
  CHECK((*channel)
            ->register_consumer([&](std::string&& s) { got.push_back(s); }, inline_executor)
            .has_value());
  CHECK(got == std::vector<std::string>{"hello"});
  (*channel)->put("again");
  CHECK(got == std::vector<std::string>{"hello", "again"});
}

TEST_CASE("FeedbackChannel.a second consumer is an error") {
  auto channel_ptr = FeedbackChannel<int>::create(FeedbackKey{"p", 3}.with_subtask_index(2, 0));
  FeedbackChannel<int>& channel = *channel_ptr;
  InlineExecutor ex;
  CHECK(channel.register_consumer([](int&&) {}, ex).has_value());
  Status second = channel.register_consumer([](int&&) {}, ex);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == Errc::kConflict);
  CHECK(second.error().message == "There can be only a single consumer in a FeedbackChannel.");
  CHECK(second.error().where == "p/2/3/0");
}

TEST_CASE("FeedbackChannel.a consumer that throws is recorded and delivery goes on") {
  auto channel_ptr = FeedbackChannel<int>::create(FeedbackKey{"p", 1}.with_subtask_index(0, 0));
  FeedbackChannel<int>& channel = *channel_ptr;
  InlineExecutor ex;
  std::vector<int> got;
  REQUIRE(channel
              .register_consumer(
                  [&](int&& v) {
                    if (v == 2) throw std::runtime_error("boom");
                    got.push_back(v);
                  },
                  ex)
              .has_value());
  for (int i = 1; i <= 3; ++i) channel.put(i);
  CHECK(got == std::vector<int>{1, 3});
  CHECK(channel.consumer_failure() != nullptr);
}

TEST_CASE("FeedbackChannelBroker.keys channels by pipeline, subtask, invocation and attempt") {
  FeedbackChannelBroker broker;
  FeedbackKey fk{"loop", 42};
  CHECK(fk.as_colocation_key() == "CO-LOCATION/loop/42");
  auto a = broker.get_channel<int>(fk.with_subtask_index(0, 0));
  auto b = broker.get_channel<int>(fk.with_subtask_index(0, 0));
  auto c = broker.get_channel<int>(fk.with_subtask_index(0, 1));
  auto d = broker.get_channel<int>(fk.with_subtask_index(1, 0));
  auto e = broker.get_channel<int>(FeedbackKey{"loop", 43}.with_subtask_index(0, 0));
  REQUIRE((a && b && c && d && e));
  CHECK(a->get() == b->get());
  CHECK(a->get() != c->get());
  CHECK(a->get() != d->get());
  CHECK(a->get() != e->get());
  CHECK(broker.size() == 4);
  auto wrong = broker.get_channel<std::string>(fk.with_subtask_index(0, 0));
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code == Errc::kConflict);
  (*a)->close();
  CHECK(broker.size() == 3);
  auto fresh = broker.get_channel<int>(fk.with_subtask_index(0, 0));
  REQUIRE(fresh.has_value());
  CHECK(fresh->get() != a->get());
  CHECK(&FeedbackChannelBroker::get() == &FeedbackChannelBroker::get());
}

TEST_CASE("FeedbackChannel.stress on a thread pool: exact count, order, drains never overlap") {
  for (unsigned producers : {1u, 2u, 8u}) {
    CAPTURE(producers);
    Watchdog dog("channel stress " + std::to_string(producers), 120s);
    const std::uint32_t per = stress_items(producers) / 2;
    const std::uint64_t total = std::uint64_t{producers} * per;
    // State the consumer touches; declared before the pool so the pool's threads are joined first.
    std::vector<std::int64_t> next(producers, 0);
    std::atomic<int> inside{0};
    std::atomic<std::uint64_t> overlaps{0};
    std::uint64_t received = 0, bad = 0;
    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool finished = false;
    ThreadPoolExecutor pool(2);
    auto channel = FeedbackChannel<Tagged>::create(
        FeedbackKey{"stress", 1}.with_subtask_index(0, 0), QueueOptions{.segment_items = 128});
    REQUIRE(channel
                ->register_consumer(
                    [&](Tagged&& t) {
                      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
                      if (t.producer >= producers || t.seq != next[t.producer]) ++bad;
                      if (t.producer < producers) next[t.producer] = std::int64_t{t.seq} + 1;
                      bool last = ++received == total;
                      inside.fetch_sub(1);
                      if (last) {
                        std::lock_guard<std::mutex> lock(done_mutex);
                        finished = true;
                        done_cv.notify_all();
                      }
                    },
                    pool)
                .has_value());
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        for (std::uint32_t i = 0; i < per; ++i) channel->put(Tagged{p, i});
      });
    }
    for (auto& t : threads) t.join();
    bool all_delivered = false;
    {
      std::unique_lock<std::mutex> lock(done_mutex);
      all_delivered = done_cv.wait_for(lock, 60s, [&] { return finished; });
    }
    CHECK(all_delivered);  // otherwise a put's wake was lost
    CHECK(overlaps.load() == 0);
    if (all_delivered) {
      CHECK(received == total);
      CHECK(bad == 0);
    }
    channel->close();
  }
}
