// SPDX-License-Identifier: Apache-2.0
// Feedback key strings and hashing.
#include "aftk/feedback/keys.h"

#include <fmt/format.h>

#include <functional>

namespace aftk::feedback {

std::string SubtaskFeedbackKey::to_string() const {
  return fmt::format("{}/{}/{}/{}", pipeline_name, subtask_index, invocation_id, attempt_id);
}

std::size_t SubtaskFeedbackKeyHash::operator()(const SubtaskFeedbackKey& k) const noexcept {
  std::size_t h = std::hash<std::string>{}(k.pipeline_name);
  auto mix = [&h](std::uint64_t v) {
    h ^= std::hash<std::uint64_t>{}(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  };
  mix(static_cast<std::uint32_t>(k.subtask_index));
  mix(static_cast<std::uint64_t>(k.invocation_id));
  mix(static_cast<std::uint32_t>(k.attempt_id));
  return h;
}

SubtaskFeedbackKey FeedbackKey::with_subtask_index(std::int32_t subtask_index,
                                                   std::int32_t attempt_id) const {
  return SubtaskFeedbackKey{pipeline_name, subtask_index, invocation_id, attempt_id};
}

std::string FeedbackKey::as_colocation_key() const {
  return fmt::format("CO-LOCATION/{}/{}", pipeline_name, invocation_id);
}

}  // namespace aftk::feedback
