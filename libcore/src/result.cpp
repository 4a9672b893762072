// SPDX-License-Identifier: Apache-2.0
// Names and text of libcore errors.
#include "aftk/result.h"

namespace aftk {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::kInvalidArgument: return "INVALID_ARGUMENT";
    case Errc::kCorruptRecord: return "CORRUPT_RECORD";
    case Errc::kUnsupported: return "UNSUPPORTED";
    case Errc::kIo: return "IO";
    case Errc::kKafka: return "KAFKA";
    case Errc::kTimeout: return "TIMEOUT";
    case Errc::kNotFound: return "NOT_FOUND";
    case Errc::kConflict: return "CONFLICT";
    case Errc::kInterrupted: return "INTERRUPTED";
    case Errc::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

std::string Error::to_string() const {
  std::string out = message;
  if (!where.empty()) out += " (at " + where + ")";
  if (fatal) out += " (fatal)";
  return out;
}

}  // namespace aftk
