// SPDX-License-Identifier: Apache-2.0
// Streaming event-log reader: constant memory, every upstream form, torn and corrupt lines
// reported.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aftk/eventlog/record.h"
#include "aftk/result.h"

namespace aftk::eventlog {

/// Something wrong in an input that did not stop the read.
struct Problem {
  enum class Kind { kTorn, kCorrupt };
  Kind kind = Kind::kCorrupt;
  std::string file;
  std::uint64_t line = 0;    // 1-based
  std::uint64_t offset = 0;  // byte offset of the record
  std::string message;

  /// "x.log:12: corrupt record: ..." / "x.log: torn last record at byte 4096 ...".
  std::string to_string() const;
};

struct ReadOptions {
  /// A corrupt record in the middle of a file ends the read with CORRUPT_RECORD instead of being
  /// reported and skipped. A torn last record never does: it is what a crashed writer leaves.
  bool strict = false;
  /// Literal byte strings of which a record must contain at least one to be decoded; records
  /// without any are skipped unread (and so not checked for corruption). Empty: decode all.
  /// Pretty-printed records are always decoded.
  std::vector<std::string> needles;
  /// Keep reading at the end of input: next() reports kIdle, and a file that was replaced or
  /// truncated is reopened from its start (like tail -F). A partial last line is held back.
  bool follow = false;
  /// Called for each problem as it is found (the reader keeps only the counts).
  std::function<void(const Problem&)> on_problem;
  /// Largest record accepted; a longer one is reported corrupt and skipped.
  std::size_t max_record_bytes = std::size_t{1} << 30;
};

class Reader {
 public:
  enum class Next { kRecord, kEnd, kIdle };

  /// Opens a file, "-" for stdin, or a .gz file (decompressed by zlib). Errors: IO;
  /// INTERRUPTED when a signal (handled without SA_RESTART) ends the wait for a FIFO's writer.
  static Result<std::unique_ptr<Reader>> open(const std::string& path, ReadOptions options = {});
  /// Reads from an already open descriptor (not closed by the reader); `name` is for messages.
  static std::unique_ptr<Reader> from_fd(int fd, std::string name, ReadOptions options = {});
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  /// Decodes the next record into `out`. kEnd at the end of input, kIdle only when following.
  /// Errors: IO; CORRUPT_RECORD (with file:line) for a corrupt record when strict; INTERRUPTED
  /// when a signal handled without SA_RESTART cuts a blocked read short.
  Result<Next> next(Record& out);

  const std::string& name() const;
  std::uint64_t corrupt_records() const;
  std::uint64_t torn_records() const;
  /// Bytes consumed so far (of the decompressed stream for .gz).
  std::uint64_t bytes_read() const;
  /// Records skipped unread by the needles.
  std::uint64_t skipped_records() const;

  class Impl;

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Reads a whole input, calling `fn` for each record; stops early when fn returns false.
/// Errors: as Reader::open and Reader::next.
Status read_all(const std::string& path, const ReadOptions& options,
                const std::function<bool(Record&)>& fn);

}  // namespace aftk::eventlog
