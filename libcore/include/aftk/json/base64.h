// SPDX-License-Identifier: Apache-2.0
// Base64 as Jackson writes byte[] (standard alphabet, '=' padding, no line breaks).
#pragma once

#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::json {

/// Appends the padded standard base64 of `bytes` to `out`.
void base64_append(std::string& out, std::string_view bytes);
/// The padded standard base64 of `bytes`.
std::string base64_encode(std::string_view bytes);

struct Base64Problem {
  bool unpadded = false;  // the length was not a multiple of 4 (Jackson rejects this)
  /// The bits after the last whole byte are not all zero ("QR==" for "A"): Jackson decodes such
  /// text, dropping them, but writes the bytes back with zero bits ("QQ==").
  bool stray_bits = false;
};

/// Decodes standard base64 into `out` (appending). Strict: padding is required and only the
/// standard alphabet is accepted; non-zero bits after the last byte are dropped, as Jackson's
/// decoder drops them. Errors: INVALID_ARGUMENT naming the offending character.
Status base64_decode(std::string_view text, std::string& out);

/// Like base64_decode but also accepts missing padding, reporting it (and stray bits) in
/// `problem`.
Status base64_decode_lenient(std::string_view text, std::string& out, Base64Problem& problem);

/// Kafka's Uuid.toString form: URL-safe alphabet, no padding. Converts from either alphabet, with
/// or without padding, so topic ids from librdkafka ('+' '/') and Java ('-' '_') compare equal.
std::string normalize_topic_id(std::string_view id);

}  // namespace aftk::json
