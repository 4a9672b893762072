// SPDX-License-Identifier: Apache-2.0
// The ActionState JSON form: byte-exact encoding and strict or lenient decoding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "aftk/actionstate/model.h"
#include "aftk/json/normalize.h"
#include "aftk/result.h"

namespace aftk::actionstate {

/// The value forms of upstream's version lines, oldest first: what each line's reader accepts
/// and its writer writes. A reader of one line rejects every field a later line added
/// (FAIL_ON_UNKNOWN_PROPERTIES), and one such record fails a whole restore.
enum class Profile {
  kV031,         // flink-agents 0.3.x
  kMain8ad3a32,  // main @ 8ad3a32: 0.3.1 plus the lineage fields on events, written when set
  kV04,          // the 0.4 line as merged by 2026-09: also "attachments" on every event and
                 // "objectCreation" on every memory update, always written
};
/// "0.3.1", "main-8ad3a32", "0.4".
std::string_view profile_name(Profile profile);
/// Reads a profile name: "0.3.1" (or "0.3"), "main-8ad3a32" (or "8ad3a32"), "0.4".
/// Errors: INVALID_ARGUMENT listing the names.
Result<Profile> parse_profile(std::string_view name);
/// The oldest profile whose reader takes `state` as it is: what a record's own bytes tell.
/// A value with none of the later fields reads as 0.3.1, which every later reader accepts too.
Profile detect_profile(const ActionState& state);

/// Appends the exact bytes ActionStateSerde (Jackson) writes for `state`, with the fields the
/// state was read with (re-encoding a record gives its own bytes back).
void encode(const ActionState& state, std::string& out);
/// Appends the bytes the writer of `profile` writes for `state`: 0.4 fields always present
/// (empty attachments, objectCreation false) for kV04, and never present before it. Errors:
/// INVALID_ARGUMENT naming the field when the state holds what that profile cannot carry
/// (lineage for 0.3.1; attachments that are not empty or an object creation before 0.4), so a
/// value its reader would reject is never written.
Status encode_as(const ActionState& state, Profile profile, std::string& out);
/// The exact bytes ActionStateSerde (Jackson) writes for `state`.
std::string encode(const ActionState& state);
/// Appends one Event in the action-state value form ("@class" first).
void encode_event(const Event& event, std::string& out);

enum class ReadMode {
  /// Accept exactly what the upstream reader accepts: unknown fields, a missing "@class", an
  /// empty "type", unpadded base64, a bad status, a memory value that is not a version-1
  /// envelope are errors.
  kStrict,
  /// Read whatever can be read; every deviation from the strict form is reported.
  kLenient,
};

struct DecodeOptions {
  ReadMode mode = ReadMode::kStrict;
  /// Reject "upstreamEventId"/"upstreamActionName" as the 0.3.1 reader does (the same as
  /// profile kV031 for those fields).
  bool reject_lineage_fields = false;
  /// Read values in the canonical form (compact, Jackson's field order and escaping: what the
  /// runtime and encode() write) in one pass over the bytes, and give everything else to the
  /// general simdjson reader. The result is the same either way; false, for tests and
  /// benchmarks, always takes the general reader.
  bool canonical_fast_path = true;
  /// Read as this version line's reader does: fields a later line added are unknown fields
  /// (strict: an error; lenient: a deviation). nullopt: take every line's fields.
  std::optional<Profile> profile = std::nullopt;
};

/// A deviation from the strict form that lenient mode read past.
struct Deviation {
  std::string path;  // e.g. "callResults[1].status"
  std::string message;
};

/// How many values each reader decoded (successfully or not).
struct DecodeStats {
  std::uint64_t canonical = 0;  // read by the one-pass canonical-form reader
  std::uint64_t general = 0;    // given to the general simdjson reader
};

/// Reusable decoder: keeps its parser and buffers, so decoding many values allocates little.
class Decoder {
 public:
  explicit Decoder(DecodeOptions options = {}) : options_(options) {}

  /// Decodes `json` into `out`, reusing out's storage. In lenient mode deviations are appended to
  /// `deviations` when given. Errors: CORRUPT_RECORD naming the JSON path and the reason.
  Status decode(std::string_view json, ActionState& out, std::vector<Deviation>* deviations = nullptr);
  /// The same without copying: `json` must have simdjson's padding readable after its end.
  Status decode_padded(simdjson::padded_string_view json, ActionState& out,
                       std::vector<Deviation>* deviations = nullptr);
  /// Decodes `json` into a new ActionState.
  Result<ActionState> decode(std::string_view json, std::vector<Deviation>* deviations = nullptr);

  const DecodeOptions& options() const { return options_; }
  void set_options(DecodeOptions options) { options_ = options; }
  const DecodeStats& stats() const { return stats_; }

 private:
  bool read_canonical(std::string_view json, ActionState& out);
  Status decode_general(simdjson::padded_string_view json, ActionState& out, std::vector<Deviation>* deviations);

  DecodeOptions options_;
  DecodeStats stats_;
  simdjson::ondemand::parser parser_;
  json::PaddedBuffer buffer_;
  std::vector<std::string> pool_;
  std::string scratch_;  // decoded base64 that is only checked, not kept
  // The JSON path of the member being decoded (field name, or array index when the name is
  // empty), kept between calls so that decoding does not allocate for it.
  std::vector<std::pair<std::string_view, std::size_t>> path_;
};

}  // namespace aftk::actionstate
