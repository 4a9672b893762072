// SPDX-License-Identifier: Apache-2.0
// Feedback keys: which channel a subtask's feedback travels on, as upstream names them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace aftk::feedback {

/// Identifies one subtask attempt's channel: equal on all four fields.
struct SubtaskFeedbackKey {
  std::string pipeline_name;
  std::int32_t subtask_index = 0;
  std::int64_t invocation_id = 0;
  std::int32_t attempt_id = 0;

  bool operator==(const SubtaskFeedbackKey&) const = default;
  /// "pipeline/subtask/invocation/attempt", for messages.
  std::string to_string() const;
};

struct SubtaskFeedbackKeyHash {
  std::size_t operator()(const SubtaskFeedbackKey& k) const noexcept;
};

/// A pipeline's feedback key before it is bound to a subtask.
struct FeedbackKey {
  std::string pipeline_name;
  std::int64_t invocation_id = 0;

  /// The key of subtask `subtask_index`, attempt `attempt_id`.
  SubtaskFeedbackKey with_subtask_index(std::int32_t subtask_index, std::int32_t attempt_id) const;
  /// "CO-LOCATION/<pipeline>/<invocationId>", the slot-sharing group upstream puts the head and
  /// tail of a feedback loop in.
  std::string as_colocation_key() const;
};

}  // namespace aftk::feedback
