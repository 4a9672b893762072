// SPDX-License-Identifier: Apache-2.0
// The topic-dump file store and its line format.
#include "aftk/actionstate/file_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/json/writer.h"

namespace aftk::actionstate {

namespace od = simdjson::ondemand;

void append_dump_line(std::string& out, const TopicRecord& r) {
  fmt::format_to(std::back_inserter(out), "{{\"partition\":{},\"offset\":{},\"timestamp\":{},\"key\":",
                 r.partition, r.offset, r.timestamp);
  json::append_string(out, r.key, json::Escape::kRawUnicode);
  out.append(",\"value\":");
  if (r.value)
    json::append_string(out, *r.value, json::Escape::kRawUnicode);
  else
    out.append("null");
  out.append("}\n");
}

namespace {

// Parses one dump line; the views point into the parser's buffers.
std::string parse_line(od::parser& parser, const json::Line& line, TopicRecord& r) {
  od::document doc;
  if (auto e = parser.iterate(line.padded()).get(doc)) return simdjson::error_message(e);
  od::object obj;
  if (doc.get_object().get(obj)) return "not a JSON object";
  bool has_p = false, has_o = false, has_k = false, has_v = false;
  r.timestamp = -1;
  for (auto fr : obj) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return simdjson::error_message(e);
    std::string_view key;
    if (auto e = f.unescaped_key().get(key)) return simdjson::error_message(e);
    od::value v = f.value();
    if (key == "partition") {
      std::int64_t p;
      if (v.get_int64().get(p) || p < 0 || p > INT32_MAX) return "\"partition\" is not a non-negative int";
      r.partition = static_cast<std::int32_t>(p);
      has_p = true;
    } else if (key == "offset") {
      if (v.get_int64().get(r.offset) || r.offset < 0) return "\"offset\" is not a non-negative integer";
      has_o = true;
    } else if (key == "timestamp") {
      if (v.get_int64().get(r.timestamp)) return "\"timestamp\" is not an integer";
    } else if (key == "key") {
      std::string_view k;
      if (v.get_string().get(k)) return "\"key\" is not a string";
      r.key = k;
      has_k = true;
    } else if (key == "value") {
      bool null = false;
      if (!v.is_null().get(null) && null) {
        r.value.reset();
      } else {
        std::string_view s;
        if (v.get_string().get(s)) return "\"value\" is neither a string nor null";
        r.value = s;
      }
      has_v = true;
    }
    // Other fields (headers, metadata) are not part of the state; on-demand skips them.
  }
  if (!doc.current_location().error()) return "trailing content after the record";
  if (!has_p) return "missing \"partition\"";
  if (!has_o) return "missing \"offset\"";
  if (!has_k) return "missing \"key\"";
  if (!has_v) return "missing \"value\" (use null for a tombstone)";
  return {};
}

}  // namespace

Status read_dump(const std::string& path,
                 const std::function<Status(const TopicRecord&, const json::Line&)>& sink,
                 const std::function<void(const Error&)>& on_problem, DumpStart start) {
  AFTK_TRY_ASSIGN(auto reader, json::LineReader::open(path));
  if (start.offset > 0) AFTK_TRY(reader.seek(start.offset, start.lines_before));
  od::parser parser;
  json::Line line;
  TopicRecord r;
  while (true) {
    AFTK_TRY_ASSIGN(const bool more, reader.next(line));
    if (!more) break;
    if (line.text.empty()) continue;
    const std::string why = parse_line(parser, line, r);
    if (!why.empty()) {
      on_problem(Error{Errc::kCorruptRecord,
                       fmt::format("{}{}", line.terminated ? "" : "torn last line: ", why),
                       fmt::format("{}:{}", path, line.number)});
      continue;
    }
    AFTK_TRY(sink(r, line));
  }
  return {};
}

FileStore::FileStore(std::string path, FileStoreOptions options)
    : LogStore(options.num_partitions), path_(std::move(path)), options_(std::move(options)) {}

FileStore::~FileStore() {
  if (out_) std::fclose(out_);
}

Result<std::unique_ptr<FileStore>> FileStore::open(const std::string& path, FileStoreOptions options) {
  if (options.num_partitions <= 0)
    return fail(Errc::kInvalidArgument, fmt::format("invalid partition count {}", options.num_partitions));
  struct stat st {};
  const bool is_stdin = path == "-";
  const bool exists = is_stdin || ::stat(path.c_str(), &st) == 0;
  if (!exists && (!options.create || options.read_only))
    return fail(Errc::kIo, fmt::format("cannot open '{}': {}", path, std::strerror(ENOENT)));
  if (exists && !is_stdin && S_ISDIR(st.st_mode))
    return fail(Errc::kIo, fmt::format("cannot open '{}': it is a directory, not a topic dump", path));
  const bool pipe = is_stdin || (exists && !S_ISREG(st.st_mode));
  if (pipe && !options.read_only)
    return fail(Errc::kInvalidArgument,
                fmt::format("cannot write to store '{}': it is not a regular file", path));
  std::unique_ptr<FileStore> s(new FileStore(path, options));
  s->pipe_ = pipe;
  s->begin_.assign(static_cast<size_t>(options.num_partitions), -1);
  s->end_.assign(static_cast<size_t>(options.num_partitions), 0);
  if (!exists) s->indexed_ = true;  // a new store: nothing to read
  if (pipe) return s;
  if (!options.read_only) {
    s->out_ = std::fopen(path.c_str(), "ab");
    if (!s->out_)
      return fail(Errc::kIo, fmt::format("cannot open store '{}' for appending: {}", path,
                                         std::strerror(errno)));
  }
  struct stat now {};
  if (exists && ::stat(path.c_str(), &now) == 0) s->end_byte_ = static_cast<std::uint64_t>(now.st_size);
  if (s->out_ && s->end_byte_ > 0) {
    // A crash mid-append leaves a last line without its '\n' (reported as torn). The first
    // append ends it, so the new record starts a line of its own instead of joining the torn
    // one and becoming unreadable with it. Opening alone never writes.
    std::FILE* in = std::fopen(path.c_str(), "rb");
    int last = EOF;
    if (in && ::fseeko(in, static_cast<off_t>(s->end_byte_ - 1), SEEK_SET) == 0) last = std::fgetc(in);
    if (in) std::fclose(in);
    s->end_torn_ = last != '\n';
  }
  return s;
}

Status FileStore::read(DumpStart start, bool indexing,
                       const std::function<Status(const TopicRecord&)>& on_record,
                       const std::function<void(Problem)>& on_problem) {
  AFTK_TRY_ASSIGN(auto reader, json::LineReader::open(path_));
  if (start.offset > 0) AFTK_TRY(reader.seek(start.offset, start.lines_before));
  od::parser parser;
  json::Line line;
  TopicRecord r;
  // The last offset seen per partition in this read, to find offsets that do not rise.
  std::vector<std::int64_t> last(static_cast<size_t>(num_partitions_), -1);
  const auto bad = [&](std::string message, const TopicRecord* rec) {
    Error e{Errc::kCorruptRecord, std::move(message), fmt::format("{}:{}", path_, line.number)};
    if (indexing) problems_.push_back(e);
    Problem p{std::move(e), -1, -1, line.number, {}};
    if (rec != nullptr) {
      p.partition = rec->partition;
      p.offset = rec->offset;
      p.key = std::string(rec->key);
    }
    on_problem(std::move(p));
  };
  std::uint64_t lines = start.lines_before;
  while (true) {
    AFTK_TRY_ASSIGN(const bool more, reader.next(line));
    if (!more) break;
    lines = line.number;
    if (line.text.empty()) continue;
    const std::string why = parse_line(parser, line, r);
    if (!why.empty()) {
      bad(fmt::format("{}{}", line.terminated ? "" : "torn last line: ", why), nullptr);
      continue;
    }
    r.line = line.number;
    if (r.partition >= num_partitions_) {
      bad(fmt::format("partition {} does not exist in a store of {} partitions (give the "
                      "topic's partition count with --partitions)",
                      r.partition, num_partitions_),
          &r);
      continue;
    }
    if (r.offset == std::numeric_limits<std::int64_t>::max()) {
      bad(fmt::format("offset {} is beyond the largest a partition can hold", r.offset), &r);
      continue;
    }
    auto& prev = last[static_cast<size_t>(r.partition)];
    if (prev >= 0 && r.offset <= prev) {
      // Kept (a later line is the later write), but the file is not a faithful topic copy.
      bad(fmt::format("offset {} of partition {} is not above the previous one ({})", r.offset,
                      r.partition, prev),
          &r);
      if (indexing) ordered_ = false;
    }
    prev = std::max(prev, r.offset);
    if (indexing) {
      auto& b = begin_[static_cast<size_t>(r.partition)];
      auto& e = end_[static_cast<size_t>(r.partition)];
      if (b < 0) b = r.offset;
      e = std::max(e, r.offset + 1);
      index(r.partition, r.offset, line.offset, line.number - 1);
    }
    AFTK_TRY(on_record(r));
  }
  if (indexing) {
    end_lines_ = lines;
    if (pipe_) end_byte_ = reader.position();
    indexed_ = true;
  }
  return {};
}

Status FileStore::ensure_indexed() {
  if (indexed_) return {};
  if (pipe_)
    return fail(Errc::kUnsupported,
                fmt::format("'{}' is a pipe, which can be read only once and only whole: a "
                            "rebuild from recovery markers or a write needs a dump file",
                            path_));
  return read({}, true, [](const TopicRecord&) -> Status { return {}; }, [](Problem) {});
}

const std::vector<Error>& FileStore::problems() {
  if (auto st = ensure_indexed(); !st && !pipe_) problems_.push_back(st.error());
  return problems_;
}

LogOffsets FileStore::indexed_offsets() const {
  LogOffsets o;
  for (size_t p = 0; p < begin_.size(); ++p) {
    o.begin[static_cast<std::int32_t>(p)] = begin_[p] < 0 ? end_[p] : begin_[p];
    o.end[static_cast<std::int32_t>(p)] = end_[p];
  }
  return o;
}

Result<LogOffsets> FileStore::offsets() {
  AFTK_TRY(ensure_indexed());
  return indexed_offsets();
}

Result<LogOffsets> FileStore::scan_all(unsigned workers, ScanSink& sink) {
  if (indexed_) return LogStore::scan_all(workers, sink);
  if (out_) std::fflush(out_);
  sink.expect(0);  // not known before the read
  AFTK_TRY(read(
      {}, true, [&](const TopicRecord& r) { return sink.record(0, r); },
      [&](Problem p) { sink.unreadable(0, std::move(p)); }));
  return indexed_offsets();
}

Status FileStore::flush() {
  if (!out_) return {};
  if (std::fflush(out_) != 0 || ::fsync(fileno(out_)) != 0)
    return fail(Errc::kIo, fmt::format("cannot flush store '{}': {}", path_, std::strerror(errno)));
  return {};
}

Result<RecordPosition> FileStore::append(std::int32_t partition, std::string_view key,
                                         const std::string* value) {
  if (!out_) return fail(Errc::kInvalidArgument, fmt::format("store '{}' is open read-only", path_));
  AFTK_TRY(ensure_indexed());  // the partition's end offset comes from the file
  if (partition < 0 || partition >= num_partitions_)
    return fail(Errc::kInvalidArgument, fmt::format("no partition {} in store '{}'", partition, path_));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::int64_t offset = end_[static_cast<size_t>(partition)];
  line_.clear();
  if (end_torn_) line_.push_back('\n');
  const size_t record_at = line_.size();
  append_dump_line(line_, TopicRecord{partition, offset, ms, key,
                                      value ? std::optional<std::string_view>(*value) : std::nullopt});
  if (std::fwrite(line_.data(), 1, line_.size(), out_) != line_.size() || std::fflush(out_) != 0)
    return fail(Errc::kIo, fmt::format("cannot append to store '{}': {}", path_, std::strerror(errno)));
  end_[static_cast<size_t>(partition)] = offset + 1;
  if (begin_[static_cast<size_t>(partition)] < 0) begin_[static_cast<size_t>(partition)] = offset;
  if (end_torn_) {
    end_torn_ = false;
    ++end_lines_;
  }
  index(partition, offset, end_byte_ + record_at, end_lines_);
  end_byte_ += line_.size();
  ++end_lines_;
  return RecordPosition{partition, offset, ms};
}

void FileStore::index(std::int32_t partition, std::int64_t offset, std::uint64_t byte,
                      std::uint64_t lines_before) {
  const auto p = static_cast<size_t>(partition);
  if (p >= index_.size()) {
    index_.resize(p + 1);
    seen_.resize(p + 1, 0);
  }
  if (seen_[p]++ % kIndexEvery == 0) index_[p].push_back({offset, byte, lines_before});
}

DumpStart FileStore::scan_start(const OffsetMap& from) {
  if (!ensure_indexed()) return {};
  // Records before a partition's start offset are filtered by scan() anyway; this only skips
  // lines that cannot hold a record at or after it.
  if (!ordered_) return {};
  std::optional<DumpStart> earliest;
  for (const auto& [p, f] : from) {
    if (p < 0 || static_cast<size_t>(p) >= index_.size() || index_[static_cast<size_t>(p)].empty()) continue;
    const auto& ix = index_[static_cast<size_t>(p)];
    auto it = std::upper_bound(ix.begin(), ix.end(), f,
                               [](std::int64_t v, const IndexEntry& e) { return v < e.offset; });
    const IndexEntry& e = it == ix.begin() ? ix.front() : *std::prev(it);
    if (!earliest || e.byte < earliest->offset) earliest = DumpStart{e.byte, e.lines_before};
  }
  // No record of those partitions yet: only lines appended from now on can hold one.
  return earliest ? *earliest : DumpStart{end_byte_, end_lines_};
}

Status FileStore::scan(std::span<const ScanRange> ranges, unsigned, ScanSink& sink) {
  AFTK_TRY(ensure_indexed());
  if (out_) std::fflush(out_);
  // [begin, end) per partition; an empty range for partitions not asked for.
  std::vector<std::pair<std::int64_t, std::int64_t>> want(static_cast<size_t>(num_partitions_), {0, 0});
  OffsetMap from;
  for (const ScanRange& r : ranges) {
    if (r.partition < 0 || r.partition >= num_partitions_ || r.end <= r.begin) continue;
    want[static_cast<size_t>(r.partition)] = {r.begin, r.end};
    from[r.partition] = r.begin;
  }
  if (from.empty()) return {};
  return read(
      scan_start(from), false,
      [&](const TopicRecord& r) -> Status {
        const auto [b, e] = want[static_cast<size_t>(r.partition)];
        if (r.offset < b || r.offset >= e) return {};
        return sink.record(0, r);
      },
      [&](Problem p) {
        // Only what lies in the ranges read counts; a line that is not a record at all is
        // reported wherever it is met.
        if (p.partition >= 0 && p.partition < num_partitions_) {
          const auto [b, e] = want[static_cast<size_t>(p.partition)];
          if (p.offset < b || p.offset >= e) return;
        }
        sink.unreadable(0, std::move(p));
      });
}

}  // namespace aftk::actionstate
