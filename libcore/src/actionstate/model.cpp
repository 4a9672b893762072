// SPDX-License-Identifier: Apache-2.0
// ActionState and CallResult helpers.
#include "aftk/actionstate/model.h"

#include <fmt/format.h>

namespace aftk::actionstate {

std::string_view call_status_name(CallStatus s) {
  switch (s) {
    case CallStatus::kPending: return "PENDING";
    case CallStatus::kSucceeded: return "SUCCEEDED";
    case CallStatus::kFailed: return "FAILED";
  }
  return "PENDING";
}

CallResult CallResult::success(std::optional<std::string> function_id,
                               std::optional<std::string> args_digest,
                               std::optional<std::string> result) {
  return {std::move(function_id), std::move(args_digest), std::move(result), std::nullopt,
          CallStatus::kSucceeded};
}

CallResult CallResult::failure(std::optional<std::string> function_id,
                               std::optional<std::string> args_digest, std::string exception) {
  return {std::move(function_id), std::move(args_digest), std::nullopt, std::move(exception),
          CallStatus::kFailed};
}

CallResult CallResult::pending(std::optional<std::string> function_id,
                               std::optional<std::string> args_digest) {
  return {std::move(function_id), std::move(args_digest), std::nullopt, std::nullopt,
          CallStatus::kPending};
}

CallStatus CallResult::effective_status() const {
  if (status) return *status;
  return exception_payload ? CallStatus::kFailed : CallStatus::kSucceeded;
}

std::string CallResult::to_string() const {
  auto str = [](const std::optional<std::string>& s) {
    return s ? fmt::format("'{}'", *s) : std::string("null");
  };
  auto bytes = [](const std::optional<std::string>& b) {
    return b ? fmt::format("{} bytes", b->size()) : std::string("null");
  };
  return fmt::format(
      "CallResult{{functionId={}, argsDigest={}, resultPayload={}, exceptionPayload={}, status={}}}",
      str(function_id), str(args_digest), bytes(result_payload), bytes(exception_payload),
      call_status_name(effective_status()));
}

size_t ActionState::pending_calls() const {
  size_t n = 0;
  for (const auto& c : call_results) n += c.is_pending() ? 1 : 0;
  return n;
}

}  // namespace aftk::actionstate
