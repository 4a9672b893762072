// SPDX-License-Identifier: Apache-2.0
// Reading a Flink checkpoint's _metadata and the recovery markers its operator state holds.
//
// The layout (Flink's MetadataV3 to V7 serializers; all numbers big-endian, strings Java's
// modified UTF-8 with a 2-byte length): magic 0x4960672d, version, checkpoint id, master
// states, then per operator [name, uid (v5+)], id (two longs), parallelism, max parallelism,
// the coordinator's stream handle, the subtask count (-1: fully finished) and per subtask its
// index (negative: finished, nothing follows) and state: managed and raw operator state (a
// count, then handles), managed and raw keyed state (one handle each), input and output
// channel state (counts), and from v7 a reference-checkpoint marker. v4+ append the
// checkpoint properties (Java serialization), which we do not need.
#include "aftk/checkpoint/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aftk/checkpoint/kryo.h"

namespace aftk::checkpoint {
namespace fs = std::filesystem;
namespace {

constexpr std::uint32_t kMagic = 0x4960672d;
constexpr std::uint32_t kMasterStateMagic = 0xc96b1696;

// Handle type bytes.
enum : int {
  kNullHandle = 0,
  kByteStreamHandle = 1,
  kFileHandle = 2,
  kKeyGroupsHandle = 3,
  kPartitionableOperatorHandle = 4,
  kIncrementalHandle = 5,
  kRelativeHandle = 6,
  kSavepointKeyGroupsHandle = 7,
  kChangelogHandle = 8,
  kChangelogByteIncrement = 9,
  kChangelogFileIncrement = 10,
  kIncrementalHandleV2 = 11,
  kKeyGroupsHandleV2 = 12,
  kChangelogFileIncrementV2 = 13,
  kChangelogHandleV2 = 14,
};

class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> b, const std::string& path) : b_(b), path_(path) {}

  std::size_t pos() const { return pos_; }

  Result<std::uint64_t> be(int n, std::string_view what) {
    if (static_cast<std::size_t>(n) > b_.size() - pos_) return truncated(what);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | b_[pos_++];
    return v;
  }
  Result<std::int32_t> i32(std::string_view what) {
    AFTK_TRY_ASSIGN(std::uint64_t v, be(4, what));
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  }
  Result<std::int64_t> i64(std::string_view what) {
    AFTK_TRY_ASSIGN(std::uint64_t v, be(8, what));
    return static_cast<std::int64_t>(v);
  }
  Result<int> u8(std::string_view what) {
    AFTK_TRY_ASSIGN(std::uint64_t v, be(1, what));
    return static_cast<int>(v);
  }
  Result<std::span<const std::uint8_t>> bytes(std::size_t n, std::string_view what) {
    if (n > b_.size() - pos_) return truncated(what);
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // DataOutput.writeUTF: a 2-byte length and modified UTF-8.
  Result<std::string> utf(std::string_view what) {
    const std::size_t at = pos_;
    AFTK_TRY_ASSIGN(std::uint64_t n, be(2, what));
    AFTK_TRY_ASSIGN(auto raw, bytes(n, what));
    std::vector<std::uint16_t> units;
    for (std::size_t i = 0; i < raw.size();) {
      const std::uint8_t c = raw[i];
      if (c < 0x80) {
        units.push_back(c);
        i += 1;
      } else if ((c & 0xE0) == 0xC0 && i + 1 < raw.size()) {
        units.push_back(static_cast<std::uint16_t>((c & 0x1F) << 6 | (raw[i + 1] & 0x3F)));
        i += 2;
      } else if ((c & 0xF0) == 0xE0 && i + 2 < raw.size()) {
        units.push_back(static_cast<std::uint16_t>((c & 0x0F) << 12 | (raw[i + 1] & 0x3F) << 6 |
                                                   (raw[i + 2] & 0x3F)));
        i += 3;
      } else {
        return corrupt(at, fmt::format("bad modified UTF-8 in {}", what));
      }
    }
    std::string out;
    if (!append_utf16(out, units)) return corrupt(at, fmt::format("bad string in {}", what));
    return out;
  }

  Unexpected truncated(std::string_view what) const {
    return fail(Errc::kCorruptRecord,
                fmt::format("cannot read '{}': truncated at byte {} (reading {})", path_,
                            b_.size(), what),
                fmt::format("{}:byte {}", path_, b_.size()));
  }
  Unexpected corrupt(std::size_t at, std::string_view what) const {
    return fail(Errc::kCorruptRecord, fmt::format("cannot read '{}': {} at byte {}", path_, what, at),
                fmt::format("{}:byte {}", path_, at));
  }
  Unexpected unsupported(std::size_t at, std::string_view what) const {
    return fail(Errc::kUnsupported, fmt::format("cannot read '{}': {} at byte {}", path_, what, at),
                fmt::format("{}:byte {}", path_, at));
  }

 private:
  std::span<const std::uint8_t> b_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

class MetadataParser {
 public:
  MetadataParser(std::span<const std::uint8_t> b, const std::string& path) : c_(b, path) {}

  Result<Metadata> parse(const std::string& path) {
    Metadata m;
    m.path = path;
    AFTK_TRY_ASSIGN(std::uint64_t magic, c_.be(4, "the magic number"));
    if (magic != kMagic)
      return c_.corrupt(0, fmt::format("magic number {:#010x} is not a Flink checkpoint's", magic));
    AFTK_TRY_ASSIGN(std::int32_t version, c_.i32("the version"));
    if (version < 3 || version > 7)
      return c_.unsupported(4, fmt::format("metadata version {} (3 to 7 are read)", version));
    version_ = m.version = version;
    AFTK_TRY_ASSIGN(m.checkpoint_id, c_.i64("the checkpoint id"));
    AFTK_TRY_ASSIGN(std::int32_t masters, c_.i32("the master state count"));
    if (masters < 0) return c_.corrupt(16, fmt::format("master state count {}", masters));
    for (std::int32_t i = 0; i < masters; ++i) {
      const std::size_t at = c_.pos();
      AFTK_TRY_ASSIGN(std::uint64_t mm, c_.be(4, "a master state"));
      if (mm != kMasterStateMagic) return c_.corrupt(at, "bad master state magic number");
      AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a master state"));
      if (n < 0) return c_.corrupt(at, "negative master state length");
      AFTK_TRY(c_.bytes(static_cast<std::size_t>(n), "a master state"));
    }
    const std::size_t count_at = c_.pos();
    AFTK_TRY_ASSIGN(std::int32_t ops, c_.i32("the operator count"));
    if (ops < 0) return c_.corrupt(count_at, fmt::format("operator count {}", ops));
    for (std::int32_t i = 0; i < ops; ++i) {
      AFTK_TRY_ASSIGN(OperatorState op, operator_state());
      m.operators.push_back(std::move(op));
    }
    m.operators_end = c_.pos();
    return m;
  }

 private:
  Result<OperatorState> operator_state() {
    OperatorState op;
    op.at = c_.pos();
    if (version_ >= 5) {
      AFTK_TRY_ASSIGN(op.name, c_.utf("an operator name"));
      AFTK_TRY_ASSIGN(op.uid, c_.utf("an operator uid"));
    }
    AFTK_TRY_ASSIGN(std::uint64_t hi, c_.be(8, "an operator id"));
    AFTK_TRY_ASSIGN(std::uint64_t lo, c_.be(8, "an operator id"));
    op.id_hex = fmt::format("{:016x}{:016x}", hi, lo);
    AFTK_TRY_ASSIGN(op.parallelism, c_.i32("a parallelism"));
    AFTK_TRY_ASSIGN(op.max_parallelism, c_.i32("a max parallelism"));
    AFTK_TRY(stream_handle("the coordinator state"));
    const std::size_t count_at = c_.pos();
    AFTK_TRY_ASSIGN(std::int32_t subtasks, c_.i32("the subtask count"));
    if (subtasks < 0) {
      op.fully_finished = true;
      return op;
    }
    if (subtasks > (1 << 16))
      return c_.corrupt(count_at, fmt::format("subtask count {}", subtasks));
    for (std::int32_t i = 0; i < subtasks; ++i) {
      SubtaskState st;
      AFTK_TRY_ASSIGN(std::int32_t index, c_.i32("a subtask index"));
      st.finished = index < 0;
      st.index = index < 0 ? -(index + 1) : index;
      if (!st.finished) AFTK_TRY(subtask_state(st));
      op.subtasks.push_back(std::move(st));
    }
    return op;
  }

  Status subtask_state(SubtaskState& st) {
    for (int raw = 0; raw < 2; ++raw) {
      const std::size_t at = c_.pos();
      AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("an operator state count"));
      if (n < 0 || n > 1024) return c_.corrupt(at, fmt::format("operator state count {}", n));
      for (std::int32_t i = 0; i < n; ++i) {
        AFTK_TRY_ASSIGN(OperatorStateHandle h, operator_state_handle());
        if (!raw && h.stream.kind != HandleKind::kNone)
          st.managed_operator_state.push_back(std::move(h));
      }
    }
    AFTK_TRY(keyed_handle(0));
    AFTK_TRY(keyed_handle(0));
    for (const char* what : {"input channel state", "output channel state"}) {
      const std::size_t at = c_.pos();
      AFTK_TRY_ASSIGN(std::int32_t n, c_.i32(what));
      if (n != 0)
        return c_.unsupported(at, fmt::format("{} (an unaligned checkpoint)", what));
    }
    if (version_ >= 7) {
      AFTK_TRY_ASSIGN(int has_ref, c_.u8("the reference checkpoint marker"));
      if (has_ref == 1) AFTK_TRY(c_.i64("the reference checkpoint id"));
    }
    return {};
  }

  Result<OperatorStateHandle> operator_state_handle() {
    OperatorStateHandle h;
    const std::size_t at = c_.pos();
    AFTK_TRY_ASSIGN(int type, c_.u8("an operator state handle"));
    if (type == kNullHandle) return h;
    if (type != kPartitionableOperatorHandle)
      return c_.unsupported(at, fmt::format("operator state handle type {}", type));
    AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("an operator state map"));
    if (n < 0) return c_.corrupt(at, "negative operator state map size");
    for (std::int32_t i = 0; i < n; ++i) {
      NamedOperatorState s;
      AFTK_TRY_ASSIGN(s.name, c_.utf("a state name"));
      const std::size_t mode_at = c_.pos();
      AFTK_TRY_ASSIGN(int mode, c_.u8("a distribution mode"));
      if (mode > 2) return c_.corrupt(mode_at, fmt::format("distribution mode {}", mode));
      s.mode = static_cast<DistributionMode>(mode);
      const std::size_t count_at = c_.pos();
      AFTK_TRY_ASSIGN(std::int32_t offsets, c_.i32("an offset count"));
      if (offsets < 0) return c_.corrupt(count_at, "negative offset count");
      for (std::int32_t j = 0; j < offsets; ++j) {
        AFTK_TRY_ASSIGN(std::int64_t o, c_.i64("a state offset"));
        s.offsets.push_back(o);
      }
      h.states.push_back(std::move(s));
    }
    AFTK_TRY_ASSIGN(h.stream, stream_handle("an operator state stream"));
    return h;
  }

  Result<StreamHandle> stream_handle(std::string_view what) {
    StreamHandle h;
    h.at = c_.pos();
    AFTK_TRY_ASSIGN(int type, c_.u8(what));
    switch (type) {
      case kNullHandle:
        return h;
      case kByteStreamHandle: {
        h.kind = HandleKind::kByteStream;
        AFTK_TRY_ASSIGN(h.path, c_.utf("a byte stream handle's name"));
        const std::size_t len_at = c_.pos();
        AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a byte stream handle's length"));
        if (n < 0) return c_.corrupt(len_at, "negative byte stream length");
        h.data_at = c_.pos();
        AFTK_TRY_ASSIGN(auto data, c_.bytes(static_cast<std::size_t>(n), what));
        h.data.assign(reinterpret_cast<const char*>(data.data()), data.size());
        h.size = data.size();
        return h;
      }
      case kFileHandle: {
        h.kind = HandleKind::kFile;
        AFTK_TRY_ASSIGN(std::int64_t size, c_.i64("a file handle's size"));
        h.size = static_cast<std::uint64_t>(size);
        AFTK_TRY_ASSIGN(h.path, c_.utf("a file handle's path"));
        return h;
      }
      case kRelativeHandle: {
        h.kind = HandleKind::kRelativeFile;
        AFTK_TRY_ASSIGN(h.path, c_.utf("a relative file handle's path"));
        AFTK_TRY_ASSIGN(std::int64_t size, c_.i64("a relative file handle's size"));
        h.size = static_cast<std::uint64_t>(size);
        return h;
      }
      case kKeyGroupsHandle: {  // a key-groups handle in a stream handle's place
        AFTK_TRY(key_group_offsets());
        AFTK_TRY_ASSIGN(StreamHandle inner, stream_handle(what));
        return inner;
      }
      default:
        return c_.unsupported(h.at, fmt::format("stream state handle type {} in {}", type, what));
    }
  }

  Status key_group_offsets() {
    AFTK_TRY(c_.i32("a key group range"));
    const std::size_t at = c_.pos();
    AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a key group count"));
    if (n < 0 || n > (1 << 16)) return c_.corrupt(at, fmt::format("key group count {}", n));
    AFTK_TRY(c_.bytes(static_cast<std::size_t>(n) * 8, "key group offsets"));
    return {};
  }

  Status handle_and_path_list() {
    const std::size_t at = c_.pos();
    AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a shared or private state list"));
    if (n < 0) return c_.corrupt(at, "negative state list size");
    for (std::int32_t i = 0; i < n; ++i) {
      AFTK_TRY(c_.utf("a local path"));
      AFTK_TRY(stream_handle("an incremental state file"));
    }
    return {};
  }

  // Keyed state is only skipped over: the markers are operator state.
  Status keyed_handle(int depth) {
    const std::size_t at = c_.pos();
    if (depth > 8) return c_.corrupt(at, "keyed state handles nested too deep");
    AFTK_TRY_ASSIGN(int type, c_.u8("a keyed state handle"));
    switch (type) {
      case kNullHandle:
        return {};
      case kKeyGroupsHandle:
      case kKeyGroupsHandleV2:
      case kSavepointKeyGroupsHandle:
        AFTK_TRY(key_group_offsets());
        AFTK_TRY(stream_handle("a keyed state stream"));
        if (type == kKeyGroupsHandleV2) AFTK_TRY(c_.utf("a state handle id"));
        return {};
      case kIncrementalHandle:
      case kIncrementalHandleV2:
        AFTK_TRY(c_.i64("an incremental handle's checkpoint id"));
        AFTK_TRY(c_.utf("a backend id"));
        AFTK_TRY(c_.i32("a key group range"));
        AFTK_TRY(c_.i32("a key group count"));
        if (type == kIncrementalHandleV2) AFTK_TRY(c_.i64("a checkpointed size"));
        AFTK_TRY(stream_handle("an incremental handle's meta data"));
        AFTK_TRY(handle_and_path_list());
        AFTK_TRY(handle_and_path_list());
        if (type == kIncrementalHandleV2) AFTK_TRY(c_.utf("a state handle id"));
        return {};
      case kChangelogHandle:
      case kChangelogHandleV2: {
        AFTK_TRY(c_.i32("a key group range"));
        AFTK_TRY(c_.i32("a key group count"));
        AFTK_TRY(c_.i64("a checkpointed size"));
        for (int part = 0; part < 2; ++part) {
          const std::size_t n_at = c_.pos();
          AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a changelog handle count"));
          if (n < 0) return c_.corrupt(n_at, "negative changelog handle count");
          for (std::int32_t i = 0; i < n; ++i) AFTK_TRY(keyed_handle(depth + 1));
        }
        AFTK_TRY(c_.i64("a materialization id"));
        if (type == kChangelogHandleV2) AFTK_TRY(c_.i64("a checkpoint id"));
        AFTK_TRY(c_.utf("a state handle id"));
        return {};
      }
      case kChangelogByteIncrement: {
        AFTK_TRY(c_.i32("a key group range"));
        AFTK_TRY(c_.i32("a key group count"));
        AFTK_TRY(c_.i64("a sequence number"));
        AFTK_TRY(c_.i64("a sequence number"));
        const std::size_t n_at = c_.pos();
        AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a change count"));
        if (n < 0) return c_.corrupt(n_at, "negative change count");
        for (std::int32_t i = 0; i < n; ++i) {
          AFTK_TRY(c_.i32("a change's key group"));
          const std::size_t len_at = c_.pos();
          AFTK_TRY_ASSIGN(std::int32_t len, c_.i32("a change's length"));
          if (len < 0) return c_.corrupt(len_at, "negative change length");
          AFTK_TRY(c_.bytes(static_cast<std::size_t>(len), "a change"));
        }
        AFTK_TRY(c_.utf("a state handle id"));
        return {};
      }
      case kChangelogFileIncrement:
      case kChangelogFileIncrementV2: {
        AFTK_TRY(c_.i32("a key group range"));
        AFTK_TRY(c_.i32("a key group count"));
        const std::size_t n_at = c_.pos();
        AFTK_TRY_ASSIGN(std::int32_t n, c_.i32("a changelog file count"));
        if (n < 0) return c_.corrupt(n_at, "negative changelog file count");
        for (std::int32_t i = 0; i < n; ++i) {
          AFTK_TRY(c_.i64("a changelog offset"));
          AFTK_TRY(stream_handle("a changelog file"));
        }
        AFTK_TRY(c_.i64("a state size"));
        AFTK_TRY(c_.i64("a checkpointed size"));
        AFTK_TRY(c_.utf("a state handle id"));
        if (type == kChangelogFileIncrementV2) AFTK_TRY(c_.utf("a storage identifier"));
        return {};
      }
      default:
        return c_.unsupported(at, fmt::format("keyed state handle type {}", type));
    }
  }

  Cursor c_;
  int version_ = 0;
};

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return fail(Errc::kIo, fmt::format("cannot open '{}'", p.string()), p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(Errc::kIo, fmt::format("cannot read '{}'", p.string()), p.string());
  return ss.str();
}

fs::path metadata_file(const std::string& dir_or_file) {
  fs::path p(dir_or_file);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return p / "_metadata";
  return p;
}

std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The file behind a handle. Relative handles must stay inside the directory; a full path that
// no longer exists (a checkpoint copied elsewhere) is looked for by its name in the directory.
Result<fs::path> state_file(const StreamHandle& h, const fs::path& dir, const std::string& meta) {
  std::error_code ec;
  if (h.kind == HandleKind::kRelativeFile) {
    const fs::path rel(h.path);
    bool escapes = rel.is_absolute() || rel.empty();
    for (const auto& part : rel)
      if (part == "..") escapes = true;
    if (escapes)
      return fail(Errc::kCorruptRecord,
                  fmt::format("'{}': relative state handle '{}' at byte {} leaves the directory",
                              meta, h.path, h.at),
                  fmt::format("{}:byte {}", meta, h.at));
    const fs::path p = dir / rel;
    if (!fs::is_regular_file(p, ec))
      return fail(Errc::kNotFound,
                  fmt::format("'{}': state file '{}' (handle at byte {}) is missing", meta,
                              p.string(), h.at),
                  fmt::format("{}:byte {}", meta, h.at));
    return p;
  }
  std::string path = h.path;
  if (path.rfind("file://", 0) == 0)
    path.erase(0, 7);
  else if (path.rfind("file:", 0) == 0)
    path.erase(0, 5);
  if (fs::is_regular_file(path, ec)) return fs::path(path);
  const fs::path beside = dir / fs::path(path).filename();
  if (!fs::path(path).filename().empty() && fs::is_regular_file(beside, ec)) return beside;
  return fail(Errc::kNotFound,
              fmt::format("'{}': state file '{}' (handle at byte {}) is missing, and no file of "
                          "that name is in '{}'",
                          meta, h.path, h.at, dir.string()),
              fmt::format("{}:byte {}", meta, h.at));
}

}  // namespace

bool OperatorState::holds_operator_state(std::string_view state) const {
  for (const auto& st : subtasks)
    for (const auto& h : st.managed_operator_state)
      for (const auto& s : h.states)
        if (s.name == state) return true;
  return false;
}

std::vector<actionstate::RecoveryMarker> CheckpointMarkers::markers() const {
  std::vector<actionstate::RecoveryMarker> out;
  out.reserve(elements.size());
  for (const auto& e : elements) out.push_back(e.marker);
  return out;
}

Result<Metadata> parse_metadata(std::span<const std::uint8_t> bytes, const std::string& path) {
  MetadataParser p(bytes, path);
  return p.parse(path);
}

bool is_checkpoint(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(metadata_file(path), ec) &&
         metadata_file(path).filename() == "_metadata";
}

Result<Metadata> read_metadata(const std::string& dir_or_file) {
  const fs::path file = metadata_file(dir_or_file);
  AFTK_TRY_ASSIGN(std::string bytes, read_file(file));
  return parse_metadata(as_bytes(bytes), file.string());
}

Result<CheckpointMarkers> read_recovery_markers(const std::string& dir_or_file,
                                                const OperatorSelector& selector) {
  const fs::path file = metadata_file(dir_or_file);
  const std::string meta = file.string();
  AFTK_TRY_ASSIGN(std::string bytes, read_file(file));
  AFTK_TRY_ASSIGN(Metadata m, parse_metadata(as_bytes(bytes), meta));

  const OperatorState* op = nullptr;
  if (!selector.uid.empty() || !selector.uid_hash.empty()) {
    std::string hash = selector.uid_hash;
    std::transform(hash.begin(), hash.end(), hash.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& o : m.operators)
      if ((!selector.uid.empty() && o.uid == selector.uid) ||
          (!hash.empty() && o.id_hex == hash))
        op = &o;
    const std::string which = selector.uid.empty() ? fmt::format("uid hash {}", hash)
                                                   : fmt::format("uid '{}'", selector.uid);
    if (!op)
      return fail(Errc::kNotFound,
                  fmt::format("'{}' has no operator with {} ({} operators)", meta, which,
                              m.operators.size()),
                  meta);
    if (!op->holds_operator_state(kRecoveryMarkerState))
      return fail(Errc::kNotFound,
                  fmt::format("'{}': operator {} ({}) holds no '{}' state", meta, op->id_hex,
                              which, kRecoveryMarkerState),
                  fmt::format("{}:byte {}", meta, op->at));
  } else {
    std::vector<const OperatorState*> found;
    for (const auto& o : m.operators)
      if (o.holds_operator_state(kRecoveryMarkerState)) found.push_back(&o);
    if (found.empty())
      return fail(Errc::kNotFound,
                  fmt::format("'{}': none of its {} operators holds the union list state '{}' "
                              "(not a checkpoint of a Flink Agents job?)",
                              meta, m.operators.size(), kRecoveryMarkerState),
                  meta);
    if (found.size() > 1) {
      std::string ids;
      for (const auto* o : found) ids += (ids.empty() ? "" : ", ") + o->id_hex;
      return fail(Errc::kConflict,
                  fmt::format("'{}': several operators hold '{}' ({}); choose one with "
                              "--operator-uid or --operator-uid-hash",
                              meta, kRecoveryMarkerState, ids),
                  meta);
    }
    op = found.front();
  }

  CheckpointMarkers out;
  out.metadata_path = meta;
  out.checkpoint_id = m.checkpoint_id;
  out.operator_id = op->id_hex;
  out.operator_name = op->name;
  std::vector<const SubtaskState*> subtasks;
  for (const auto& st : op->subtasks) subtasks.push_back(&st);
  std::stable_sort(subtasks.begin(), subtasks.end(),
                   [](const SubtaskState* a, const SubtaskState* b) { return a->index < b->index; });
  const fs::path dir = file.parent_path();
  for (const SubtaskState* st : subtasks) {
    for (const auto& h : st->managed_operator_state) {
      const NamedOperatorState* state = nullptr;
      for (const auto& s : h.states)
        if (s.name == kRecoveryMarkerState) state = &s;
      if (!state || state->offsets.empty()) continue;
      std::string file_bytes;
      std::span<const std::uint8_t> stream;
      std::string source = meta;
      std::uint64_t base = 0;
      if (h.stream.kind == HandleKind::kByteStream) {
        stream = as_bytes(h.stream.data);
        base = h.stream.data_at;
      } else {
        AFTK_TRY_ASSIGN(fs::path p, state_file(h.stream, dir, meta));
        AFTK_TRY_ASSIGN(file_bytes, read_file(p));
        stream = as_bytes(file_bytes);
        source = p.string();
      }
      std::vector<std::int64_t> offsets = state->offsets;
      std::sort(offsets.begin(), offsets.end());
      for (std::int64_t o : offsets) {
        const std::uint64_t at = base + static_cast<std::uint64_t>(o);
        if (o < 0 || static_cast<std::uint64_t>(o) >= stream.size())
          return fail(Errc::kCorruptRecord,
                      fmt::format("cannot read '{}': recovery marker of subtask {} at byte {} is "
                                  "past the end of the {}-byte state stream",
                                  source, st->index, at, stream.size()),
                      fmt::format("{}:byte {}", source, at));
        auto v = read_class_and_object(stream.subspan(static_cast<std::size_t>(o)),
                                       KryoRegistry::standard(), at);
        if (!v) {
          Error e = v.error();
          e.message = fmt::format("cannot read '{}': recovery marker of subtask {} at byte {}: {}",
                                  source, st->index, at, e.message);
          e.where = fmt::format("{}:{}", source, e.where);
          return fail(std::move(e));
        }
        const bool legacy = v->java_class == "java.util.HashMap";
        if (!legacy && v->java_class != kRecoveryMarkerClass)
          return fail(Errc::kUnsupported,
                      fmt::format("cannot read '{}': element of subtask {} at byte {} is a {}, "
                                  "not a recovery marker",
                                  source, st->index, at,
                                  v->java_class.empty() ? "null" : v->java_class),
                      fmt::format("{}:byte {}", source, at));
        auto marker = actionstate::parse_marker(v->json);
        if (!marker)
          return fail(Errc::kCorruptRecord,
                      fmt::format("cannot read '{}': recovery marker of subtask {} at byte {}: {}",
                                  source, st->index, at, marker.error().message),
                      fmt::format("{}:byte {}", source, at));
        out.elements.push_back({st->index, source, at, v->java_class, std::move(marker).value()});
      }
    }
  }
  return out;
}

}  // namespace aftk::checkpoint
