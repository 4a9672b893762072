// SPDX-License-Identifier: Apache-2.0
// The feedback channel broker.
#include "aftk/feedback/feedback_channel.h"

namespace aftk::feedback {

void FeedbackChannelBase::remove_from_broker() {
  if (broker_ != nullptr) broker_->remove_channel(key_);
}

FeedbackChannelBroker& FeedbackChannelBroker::get() {
  static FeedbackChannelBroker broker;
  return broker;
}

void FeedbackChannelBroker::remove_channel(const SubtaskFeedbackKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  channels_.erase(key);
}

std::size_t FeedbackChannelBroker::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return channels_.size();
}

}  // namespace aftk::feedback
