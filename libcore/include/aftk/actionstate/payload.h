// SPDX-License-Identifier: Apache-2.0
// Call-result payloads made readable: JSON, text, Java exceptions, Python pickles (read by a
// safe opcode reader that never constructs an object), Kryo envelopes, or plain bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::actionstate {

enum class PayloadKind { kJson, kText, kJavaException, kPickle, kKryo, kBytes };

/// "json", "text", "java-exception", "pickle", "kryo", "bytes": the names --json output uses.
std::string_view payload_kind_name(PayloadKind kind);

/// Bounds on what the pickle reader takes in and gives out (payloads may come from anyone).
struct PayloadLimits {
  std::size_t max_input = 64u << 20;   // bytes of pickle read at most
  std::size_t max_output = 64u << 20;  // bytes of JSON written at most (shared references grow)
  std::size_t max_memo = 1u << 20;     // memo entries
  int max_depth = 1000;                // nesting of the decoded value
  std::size_t max_int_digits = 4300;   // decimal digits of an integer (Python's own default)
};

/// What a payload holds.
struct DecodedPayload {
  PayloadKind kind = PayloadKind::kBytes;
  /// One compact JSON value: the JSON itself (json, java-exception), a string (text), the
  /// pickle's value (pickle), the base64 of the bytes (bytes); empty for kryo (opaque for now).
  std::string value;
  std::uint64_t size = 0;  // bytes of the payload (kryo: of the Kryo bytes in the envelope)
};

/// Tells what `bytes` (a resultPayload or exceptionPayload) hold and decodes them. A pickle
/// (PROTO 2 to 5 first) becomes JSON: None/bool/int/float/str as JSON, bytes as
/// {"bytes":BASE64}, tuples and lists as arrays, dicts with str keys as objects and others as
/// {"dict":[[k,v],...]}, sets as {"set":[...]} or {"frozenset":[...]}, and anything a real
/// unpickler would import or call as {"class":"module.name"} with its "args", "kwargs",
/// "state", "items" and "dictitems" when given. Errors: CORRUPT_RECORD for a pickle that is
/// malformed (naming the opcode and byte offset) or exceeds `limits`.
Result<DecodedPayload> decode_payload(std::string_view bytes, const PayloadLimits& limits = {});

/// Reads a pickle (protocols 2 to 5) by its opcodes into the JSON form above; nothing is
/// imported or executed. Errors: CORRUPT_RECORD as decode_payload.
Result<std::string> read_pickle(std::string_view bytes, const PayloadLimits& limits = {});

/// Appends {"kind":NAME,"value":VALUE}, or {"kind":"kryo","size":N} for an opaque Kryo value.
void append_payload_json(std::string& out, const DecodedPayload& payload);

}  // namespace aftk::actionstate
