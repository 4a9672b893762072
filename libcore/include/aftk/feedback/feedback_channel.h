// SPDX-License-Identifier: Apache-2.0
// FeedbackChannel and FeedbackChannelBroker: the single-consumer loop-back channel between the
// tail and the head of an iteration, and the process-wide registry that pairs them by key.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "aftk/feedback/batch_feedback_queue.h"
#include "aftk/feedback/executor.h"
#include "aftk/feedback/keys.h"
#include "aftk/result.h"

namespace aftk::feedback {

class FeedbackChannelBroker;
template <class T>
class FeedbackChannel;

/// What every channel offers the broker, whatever its element type.
class FeedbackChannelBase {
 public:
  virtual ~FeedbackChannelBase() = default;
  virtual std::type_index element_type() const = 0;
  const SubtaskFeedbackKey& key() const { return key_; }

 protected:
  FeedbackChannelBase(SubtaskFeedbackKey key, FeedbackChannelBroker* broker)
      : key_(std::move(key)), broker_(broker) {}
  void remove_from_broker();

  SubtaskFeedbackKey key_;
  FeedbackChannelBroker* broker_;  // may be null for a free-standing channel
};

/// Channels by subtask key, created on first use and removed on close. One per process via get();
/// tests make their own.
class FeedbackChannelBroker {
 public:
  /// The process-wide broker.
  static FeedbackChannelBroker& get();

  /// The channel for `key`, created if absent. Fails with CONFLICT when a channel of another
  /// element type already has this key.
  template <class T>
  Result<std::shared_ptr<FeedbackChannel<T>>> get_channel(const SubtaskFeedbackKey& key,
                                                          QueueOptions options = {});

  /// Forgets the channel for `key` (the channel itself lives on while anyone holds it).
  void remove_channel(const SubtaskFeedbackKey& key);
  /// Number of open channels.
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<SubtaskFeedbackKey, std::shared_ptr<FeedbackChannelBase>,
                     SubtaskFeedbackKeyHash>
      channels_;
};

/// One consumer, any number of producers. put() queues an item and, when the queue was empty and a
/// consumer is registered, schedules a drain on the consumer's executor. Drains never overlap, and
/// deliver each producer's items in the order it put them.
template <class T>
class FeedbackChannel final : public FeedbackChannelBase,
                              public std::enable_shared_from_this<FeedbackChannel<T>> {
 public:
  using Consumer = std::function<void(T&&)>;

  /// A channel outside any broker (a broker makes its own with get_channel()). Drain tasks keep
  /// the channel alive, hence the shared_ptr.
  static std::shared_ptr<FeedbackChannel> create(SubtaskFeedbackKey key,
                                                 QueueOptions options = {}) {
    return std::make_shared<FeedbackChannel>(Passkey{}, std::move(key), options, nullptr);
  }

 private:
  struct Passkey {};
  friend class FeedbackChannelBroker;

 public:
  FeedbackChannel(Passkey, SubtaskFeedbackKey key, QueueOptions options,
                  FeedbackChannelBroker* broker)
      : FeedbackChannelBase(std::move(key), broker), queue_(options) {}

  std::type_index element_type() const override { return typeid(T); }

  /// Queues `value`; schedules a drain when the queue was empty and a consumer is registered.
  void put(T value) {
    if (queue_.add_and_check_if_was_empty(std::move(value)) && registered()) schedule();
  }

  /// Registers the one consumer and schedules a first drain, so items put earlier are delivered.
  /// A second registration fails with CONFLICT.
  Status register_consumer(Consumer consumer, Executor& executor) {
    {
      std::lock_guard<std::mutex> lock(registration_mutex_);
      if (registration_) {
        return fail(Errc::kConflict, "There can be only a single consumer in a FeedbackChannel.",
                    key_.to_string());
      }
      registration_ = std::make_shared<Registration>(Registration{std::move(consumer), &executor});
    }
    schedule();
    return {};
  }

  /// Drops the consumer and removes the channel from its broker. Queued items stay: a consumer
  /// registered later still receives them.
  void close() {
    {
      std::lock_guard<std::mutex> lock(registration_mutex_);
      registration_.reset();
    }
    remove_from_broker();
  }

  /// The first exception a consumer threw, or null. Delivery goes on after one.
  std::exception_ptr consumer_failure() const {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    return failure_;
  }

  /// Items delivered so far (updated after each batch).
  std::uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  /// Drain tasks run so far.
  std::uint64_t drains() const { return drains_.load(std::memory_order_relaxed); }

  BatchFeedbackQueue<T>& queue() { return queue_; }

 private:
  struct Registration {
    Consumer consumer;
    Executor* executor;
  };

  // A drain task keeps polling this many items before it yields the executor thread.
  static constexpr std::size_t kBudget = 4096;

  std::shared_ptr<Registration> registration() const {
    std::lock_guard<std::mutex> lock(registration_mutex_);
    return registration_;
  }
  bool registered() const { return registration() != nullptr; }

  // No consumer: forget the requests. A registration that raced with us has seen a pending
  // request and not submitted, so ask again on its behalf.
  void stand_down() {
    pending_.store(0, std::memory_order_release);
    if (registered()) schedule();
  }

  // Requests a drain. Only the request that finds none pending submits a task, so drains never
  // run concurrently even on a multi-threaded executor.
  void schedule() {
    if (pending_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
    submit();
  }

  void submit() {
    auto reg = registration();
    if (!reg) {
      stand_down();  // closed: a later registration schedules again
      return;
    }
    reg->executor->execute([self = this->shared_from_this()] { self->run(); });
  }

  void run() {
    drains_.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t seen = pending_.load(std::memory_order_acquire);
    for (;;) {
      auto reg = registration();
      if (!reg) {
        stand_down();
        return;
      }
      std::size_t delivered = 0;
      bool idle = false;
      while (delivered < kBudget) {
        std::size_t n =
            queue_.drain_or_arm([&](T&& v) { deliver(*reg, std::move(v)); }, kBudget - delivered);
        if (n == 0) {
          idle = true;
          break;
        }
        delivered += n;
        delivered_.fetch_add(n, std::memory_order_relaxed);
      }
      if (!idle) {
        // Still busy: let other tasks run, then continue in a fresh task.
        reg->executor->execute([self = this->shared_from_this()] { self->run(); });
        return;
      }
      std::uint32_t before = pending_.fetch_sub(seen, std::memory_order_acq_rel);
      if (before == seen) return;
      seen = before - seen;
    }
  }

  void deliver(Registration& reg, T&& v) {
    try {
      reg.consumer(std::move(v));
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex_);
      if (!failure_) failure_ = std::current_exception();
    }
  }

  BatchFeedbackQueue<T> queue_;
  mutable std::mutex registration_mutex_;
  std::shared_ptr<Registration> registration_;
  alignas(detail::kCacheLine) std::atomic<std::uint32_t> pending_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> drains_{0};
  mutable std::mutex failure_mutex_;
  std::exception_ptr failure_;
};

template <class T>
Result<std::shared_ptr<FeedbackChannel<T>>> FeedbackChannelBroker::get_channel(
    const SubtaskFeedbackKey& key, QueueOptions options) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = channels_.find(key);
  if (it == channels_.end()) {
    auto channel = std::make_shared<FeedbackChannel<T>>(typename FeedbackChannel<T>::Passkey{}, key,
                                                        options, this);
    channels_.emplace(key, channel);
    return channel;
  }
  if (it->second->element_type() != std::type_index(typeid(T))) {
    return fail(Errc::kConflict, "feedback channel already exists with another element type",
                key.to_string());
  }
  return std::static_pointer_cast<FeedbackChannel<T>>(it->second);
}

}  // namespace aftk::feedback
