// SPDX-License-Identifier: Apache-2.0
// Result<T>: the error-or-value type every fallible libcore call returns.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace aftk {

/// Stable error code names; they appear in --json output, so never rename one.
enum class Errc {
  kInvalidArgument,  // INVALID_ARGUMENT: the caller passed something malformed
  kCorruptRecord,    // CORRUPT_RECORD: stored data that does not decode
  kUnsupported,      // UNSUPPORTED: well-formed, but a format or version we do not handle
  kIo,               // IO: the operating system said no
  kKafka,            // KAFKA: librdkafka reported an error
  kTimeout,          // TIMEOUT: an operation did not finish in time
  kNotFound,         // NOT_FOUND: a named thing does not exist
  kConflict,         // CONFLICT: state disagrees with what the call requires
  kInterrupted,      // INTERRUPTED: a signal asked us to stop
  kInternal,         // INTERNAL: a bug in aftk
};

/// The stable upper-case name of a code, e.g. "CORRUPT_RECORD".
std::string_view errc_name(Errc code) noexcept;

struct Error {
  Errc code = Errc::kInternal;
  std::string message;  // fmt-shaped: "cannot read 'x': truncated record at byte 12"
  std::string where;    // "file.jsonl:12", "partition 3 offset 12", or empty
  bool retriable = false;  // the same call may succeed later (a leader moving, a timeout)
  // For errors librdkafka reported (KAFKA, TIMEOUT): its rd_kafka_resp_err_t code and that
  // code's name, e.g. 6 and "NOT_LEADER_FOR_PARTITION"; 0 and "" otherwise.
  int kafka_code = 0;
  std::string kafka_name = {};
  // librdkafka raised a fatal error (rd_kafka_fatal_error): the client instance that gave it
  // cannot go on, so retrying with it is pointless. Never set together with `retriable`.
  bool fatal = false;

  /// "message (at where)" or just "message", followed by " (fatal)" for a fatal error.
  std::string to_string() const;
};

/// Wraps an Error so it converts to any Result<T>.
struct Unexpected {
  Error error;
};

inline Unexpected fail(Errc code, std::string message, std::string where = {}) {
  return Unexpected{Error{code, std::move(message), std::move(where), false}};
}
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }

/// Thrown only by value() on an error Result: a programming error, like std::expected.
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const Error& e) : std::logic_error(e.to_string()), error_(e) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(const T& v) : v_(std::in_place_index<0>, v) {}
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}
  template <class U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, Result> &&
             !std::is_same_v<std::decay_t<U>, Unexpected> && !std::is_same_v<std::decay_t<U>, T>)
  Result(U&& v) : v_(std::in_place_index<0>, T(std::forward<U>(v))) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::move(std::get<0>(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::move(std::get<1>(v_)); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : T(std::forward<U>(fallback));
  }

  /// Calls f(value) when there is one; f returns another Result.
  template <class F>
  auto and_then(F&& f) & -> std::invoke_result_t<F, T&> {
    if (!has_value()) return Unexpected{error()};
    return std::forward<F>(f)(std::get<0>(v_));
  }
  template <class F>
  auto and_then(F&& f) && -> std::invoke_result_t<F, T&&> {
    if (!has_value()) return Unexpected{std::move(*this).error()};
    return std::forward<F>(f)(std::move(std::get<0>(v_)));
  }

 private:
  void check() const {
    if (!has_value()) throw BadResultAccess(std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Unexpected u) : error_(std::move(u.error)), failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  void value() const {
    if (failed_) throw BadResultAccess(error_);
  }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

  template <class F>
  auto and_then(F&& f) -> std::invoke_result_t<F> {
    if (failed_) return Unexpected{error_};
    return std::forward<F>(f)();
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace aftk

#define AFTK_CONCAT_INNER(a, b) a##b
#define AFTK_CONCAT(a, b) AFTK_CONCAT_INNER(a, b)

/// Evaluates a Result expression; on error returns the error from the enclosing function.
#define AFTK_TRY(expr)                                                            \
  do {                                                                            \
    auto&& aftk_try_r_ = (expr);                                                  \
    if (!aftk_try_r_.has_value()) return ::aftk::Unexpected{aftk_try_r_.error()}; \
  } while (0)

/// Declares `lhs` from a Result expression's value, or returns its error.
#define AFTK_TRY_ASSIGN(lhs, expr)                                                    \
  auto&& AFTK_CONCAT(aftk_try_v_, __LINE__) = (expr);                                 \
  if (!AFTK_CONCAT(aftk_try_v_, __LINE__).has_value())                                \
    return ::aftk::Unexpected{AFTK_CONCAT(aftk_try_v_, __LINE__).error()};            \
  lhs = std::move(AFTK_CONCAT(aftk_try_v_, __LINE__)).value()
