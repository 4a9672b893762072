// SPDX-License-Identifier: Apache-2.0
// The local topic-dump store: a JSON Lines file of Kafka-like records, the embedded default.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aftk/actionstate/store.h"
#include "aftk/json/line_reader.h"

namespace aftk::actionstate {

/// Appends one dump line, '\n' included:
/// {"partition":P,"offset":O,"timestamp":T,"key":"...","value":"<record value>"|null}
void append_dump_line(std::string& out, const TopicRecord& record);

/// Where read_dump starts: a byte offset at which a line begins, and the lines before it.
struct DumpStart {
  std::uint64_t offset = 0;
  std::uint64_t lines_before = 0;
};

/// Reads a dump file ("-" for stdin) record by record. A line that is not a dump record is
/// handed to `on_problem` as CORRUPT_RECORD with "file:line" and reading goes on; the sink's
/// error stops the read. Errors: IO.
Status read_dump(const std::string& path,
                 const std::function<Status(const TopicRecord&, const json::Line&)>& sink,
                 const std::function<void(const Error&)>& on_problem, DumpStart start = {});

struct FileStoreOptions {
  /// kafkaActionStateTopicNumPartitions' default. A record of a partition beyond it is
  /// unreadable input (a dump of a larger topic needs its count given).
  std::int32_t num_partitions = 64;
  std::string topic;                 // for versioned markers
  std::string topic_id;              // empty: legacy markers
  bool create = true;                // create the file if missing
  bool read_only = false;
};

/// A store whose topic is a dump file: appended on write, read as last value per key wins.
///
/// The file is read when first needed, not at open: a full load (load_all) reads it once,
/// indexing it on the way; anything that needs the offsets first (a rebuild from markers, a
/// write) indexes it in a pass of its own and then reads only from the earliest marker on.
/// "-", a FIFO or another pipe can be read once, by a full load only.
class FileStore : public LogStore {
 public:
  /// Opens (or creates) the dump. Errors: IO naming the path (missing, a directory, not
  /// writable), INVALID_ARGUMENT (a pipe opened for writing, a bad partition count).
  static Result<std::unique_ptr<FileStore>> open(const std::string& path, FileStoreOptions options = {});
  ~FileStore() override;

  /// Errors: IO; UNSUPPORTED for a pipe before its one full read.
  Result<LogOffsets> offsets() override;
  Status scan(std::span<const ScanRange> ranges, unsigned workers, ScanSink& sink) override;
  /// One pass that indexes the file and delivers every record, unless it is indexed already.
  Result<LogOffsets> scan_all(unsigned workers, ScanSink& sink) override;
  /// fflush and fsync. Errors: IO.
  Status flush() override;

  const std::string& path() const { return path_; }
  /// The unreadable lines of the whole file (reads it if it has not been read yet).
  const std::vector<Error>& problems();

  /// Where a scan from `from` starts reading: the line of the last indexed record at or before
  /// each partition's start offset, the earliest of them; the file's start when the offsets in
  /// it do not rise within each partition.
  DumpStart scan_start(const OffsetMap& from);

 protected:
  Result<RecordPosition> append(std::int32_t partition, std::string_view key,
                                const std::string* value) override;
  std::string topic() const override { return options_.topic; }
  std::string topic_id() const override { return options_.topic_id; }

 private:
  FileStore(std::string path, FileStoreOptions options);
  // Reads the file once to index it (a no-op once it is indexed).
  Status ensure_indexed();
  // Reads the file from `start`. Every record passes the checks every read makes (partition
  // within the store, offset in range and rising within its partition) or goes to
  // `on_problem`; when `indexing`, records are also indexed and problems kept in problems_.
  Status read(DumpStart start, bool indexing,
              const std::function<Status(const TopicRecord&)>& on_record,
              const std::function<void(Problem)>& on_problem);
  // Remembers where a record of `partition` lies in the file (every kIndexEvery-th one).
  void index(std::int32_t partition, std::int64_t offset, std::uint64_t byte, std::uint64_t lines_before);
  LogOffsets indexed_offsets() const;

  // A sparse index per partition: offset -> the byte where its line begins, so that a rebuild
  // from a recent marker reads the file from there rather than from the start.
  struct IndexEntry {
    std::int64_t offset;
    std::uint64_t byte;
    std::uint64_t lines_before;
  };
  static constexpr std::uint64_t kIndexEvery = 64;
  std::vector<std::vector<IndexEntry>> index_;
  std::vector<std::uint64_t> seen_;  // records per partition, to pick every kIndexEvery-th
  bool indexed_ = false;             // the file has been read through once
  bool pipe_ = false;                // a pipe or FIFO: one read only
  bool ordered_ = true;              // offsets rise within each partition (else read it all)
  std::uint64_t end_byte_ = 0;       // where the next appended line begins
  std::uint64_t end_lines_ = 0;      // lines before it
  bool end_torn_ = false;            // the file ends in a line without '\n': end it first
  std::string path_;
  FileStoreOptions options_;
  std::FILE* out_ = nullptr;
  std::vector<std::int64_t> begin_, end_;  // per partition; begin -1 until a record is seen
  std::vector<Error> problems_;
  std::string line_;
};

}  // namespace aftk::actionstate
