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
  std::int32_t num_partitions = 64;  // kafkaActionStateTopicNumPartitions' default
  std::string topic;                 // for versioned markers
  std::string topic_id;              // empty: legacy markers
  bool create = true;                // create the file if missing
  bool read_only = false;
};

/// A store whose topic is a dump file: appended on write, read as last value per key wins.
class FileStore : public LogStore {
 public:
  /// Opens (or creates) the dump and indexes its offsets. Lines that do not parse are kept in
  /// problems(); the file still opens. Errors: IO naming the path.
  static Result<std::unique_ptr<FileStore>> open(const std::string& path, FileStoreOptions options = {});
  ~FileStore() override;

  Result<OffsetMap> begin_offsets() override;
  Result<OffsetMap> end_offsets() override;
  /// fflush and fsync. Errors: IO.
  Status flush() override;

  const std::string& path() const { return path_; }
  /// Lines found unreadable when the file was opened.
  const std::vector<Error>& problems() const { return problems_; }

  /// Where a scan from `from` starts reading: the line of the last indexed record at or before
  /// each partition's start offset, the earliest of them; the file's start when the offsets in
  /// it do not rise within each partition.
  DumpStart scan_start(const OffsetMap& from) const;

 protected:
  Result<RecordPosition> append(std::int32_t partition, std::string_view key,
                                const std::string* value) override;
  Status scan(const OffsetMap& from, const OffsetMap& to,
              const std::function<Status(const TopicRecord&)>& sink) override;
  std::string topic() const override { return options_.topic; }
  std::string topic_id() const override { return options_.topic_id; }

 private:
  FileStore(std::string path, FileStoreOptions options);
  // Remembers where a record of `partition` lies in the file (every kIndexEvery-th one).
  void index(std::int32_t partition, std::int64_t offset, std::uint64_t byte, std::uint64_t lines_before);

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
  bool ordered_ = true;              // offsets rise within each partition (else read it all)
  std::uint64_t end_byte_ = 0;       // where the next appended line begins
  std::uint64_t end_lines_ = 0;      // lines before it
  bool end_torn_ = false;            // the file ends in a line without '\n': end it first
  std::string path_;
  FileStoreOptions options_;
  std::FILE* out_ = nullptr;
  std::vector<std::int64_t> begin_, end_;
  std::vector<Error> problems_;
  std::string line_;
};

}  // namespace aftk::actionstate
