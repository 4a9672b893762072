// SPDX-License-Identifier: Apache-2.0
// Flink checkpoint and savepoint directories: the _metadata file and the recovery markers in it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aftk/actionstate/marker.h"
#include "aftk/result.h"

namespace aftk::checkpoint {

/// Where a state stream's bytes are.
enum class HandleKind {
  kNone,
  kByteStream,    // inline in _metadata (below the inline threshold)
  kFile,          // a file named by its full path
  kRelativeFile,  // a file next to _metadata, named relative to the checkpoint directory
};

struct StreamHandle {
  HandleKind kind = HandleKind::kNone;
  std::string path;         // handle name (byte stream), file path, or relative path
  std::uint64_t size = 0;   // the state size Flink recorded
  std::string data;         // inline bytes (kByteStream)
  std::uint64_t at = 0;     // offset of the handle in _metadata
  std::uint64_t data_at = 0;  // offset of the inline bytes in _metadata
};

/// OperatorStateHandle.Mode, by ordinal.
enum class DistributionMode { kSplitDistribute = 0, kUnion = 1, kBroadcast = 2 };

/// One named operator state inside a subtask's operator-state stream.
struct NamedOperatorState {
  std::string name;
  DistributionMode mode = DistributionMode::kSplitDistribute;
  std::vector<std::int64_t> offsets;  // where each element starts in the stream
};

struct OperatorStateHandle {
  std::vector<NamedOperatorState> states;
  StreamHandle stream;
};

struct SubtaskState {
  int index = 0;
  bool finished = false;
  std::vector<OperatorStateHandle> managed_operator_state;
};

struct OperatorState {
  std::string name;    // empty before metadata version 5 or when Flink had none
  std::string uid;     // the user's uid, empty when none was set
  std::string id_hex;  // the operator id (the uid hash) as 32 lower-case hex digits
  int parallelism = 0;
  int max_parallelism = 0;
  bool fully_finished = false;
  std::vector<SubtaskState> subtasks;
  std::uint64_t at = 0;  // offset of the operator's entry in _metadata

  /// Whether some subtask holds managed operator state named `state`.
  bool holds_operator_state(std::string_view state) const;
};

struct Metadata {
  std::string path;  // the _metadata file read
  int version = 0;
  std::int64_t checkpoint_id = 0;
  std::vector<OperatorState> operators;
  std::uint64_t operators_end = 0;  // offset after the last operator (v4+: properties follow)
};

/// The _metadata file of a checkpoint or savepoint directory (or that file's own path).
/// Versions 3 to 7 (Flink 1.11 to 2.x). Errors: IO naming the file; CORRUPT_RECORD (bad magic
/// number, truncation) and UNSUPPORTED (an unknown version or handle type), naming the file
/// and byte offset.
Result<Metadata> read_metadata(const std::string& dir_or_file);

/// Parses _metadata bytes; `path` only names the file in errors. Errors as read_metadata.
Result<Metadata> parse_metadata(std::span<const std::uint8_t> bytes, const std::string& path);

/// Whether `path` is a directory holding a _metadata file, or a _metadata file.
bool is_checkpoint(const std::string& path);

/// Which operator holds the markers. Empty: the one operator holding the state.
struct OperatorSelector {
  std::string uid;       // the operator's uid as the job set it (metadata version 5+)
  std::string uid_hash;  // the operator id in hex, as Flink's --operator-uid-hash takes it
};

inline constexpr std::string_view kRecoveryMarkerState = "recoveryMarker";

/// One element of the recoveryMarker union list state, where it came from.
struct MarkerElement {
  int subtask = 0;
  std::string file;          // the file holding the stream (_metadata for inline streams)
  std::uint64_t offset = 0;  // the element's byte offset in that file
  std::string java_class;
  actionstate::RecoveryMarker marker;
};

struct CheckpointMarkers {
  std::string metadata_path;
  std::int64_t checkpoint_id = 0;
  std::string operator_id;  // hex
  std::string operator_name;
  /// Every element, in the order Flink restores the union: by subtask, then by offset.
  std::vector<MarkerElement> elements;

  std::vector<actionstate::RecoveryMarker> markers() const;
};

/// The recovery markers of a checkpoint or savepoint directory: the union list state
/// `recoveryMarker` of the action-execute operator, each element read with the Kryo reader (a
/// legacy HashMap<Integer, Long> or a KafkaActionStateRecoveryMarker). State files are looked
/// up inside the given directory, wherever the checkpoint was written. Errors: those of
/// read_metadata; NOT_FOUND when no operator (or not the selected one) holds the state, or a
/// state file is missing; CONFLICT when several operators hold it and no selector says which;
/// CORRUPT_RECORD or UNSUPPORTED for an element that is not a marker, naming file and offset.
Result<CheckpointMarkers> read_recovery_markers(const std::string& dir_or_file,
                                                const OperatorSelector& selector = {});

}  // namespace aftk::checkpoint
