// SPDX-License-Identifier: Apache-2.0
// Streaming '\n'-separated lines from a file with simdjson padding, in bounded memory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aftk/result.h"

namespace aftk::json {

struct Line {
  std::string_view text;     // without the '\n'
  std::uint64_t number = 0;  // 1-based
  std::uint64_t offset = 0;  // byte offset of the line's first byte
  bool terminated = true;    // false for a last line with no '\n' (a torn append)
  // Padding simdjson may read past the line's end (always available in the reader's buffer).
  simdjson::padded_string_view padded() const {
    return simdjson::padded_string_view(text.data(), text.size(), text.size() + simdjson::SIMDJSON_PADDING);
  }
};

/// Reads lines split on '\n' only (JSON strings may hold raw U+2028/U+2029/U+0085).
class LineReader {
 public:
  /// Opens `path` ("-" is stdin). Errors: IO naming the path; INTERRUPTED when a signal
  /// handler without SA_RESTART cuts short the wait for a FIFO's writer.
  static Result<LineReader> open(const std::string& path);
  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  /// Fills `line` with the next line; returns false at end of input. Errors: IO; INTERRUPTED
  /// when a signal handler without SA_RESTART cuts a blocked read short (EINTR).
  Result<bool> next(Line& line);
  /// Goes on reading at byte `offset`, which must be where a line starts, counting the lines
  /// before it as `lines_before`. Errors: IO (e.g. stdin, which cannot seek).
  Status seek(std::uint64_t offset, std::uint64_t lines_before);
  /// Bytes consumed so far and the file size (0 when unknown, e.g. a pipe).
  std::uint64_t position() const { return file_offset_ - (end_ - pos_); }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  LineReader() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool owns_ = false;
  bool eof_ = false;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  std::uint64_t file_offset_ = 0;  // bytes read from the file so far
  std::uint64_t line_no_ = 0;
  std::uint64_t size_ = 0;
};

}  // namespace aftk::json
