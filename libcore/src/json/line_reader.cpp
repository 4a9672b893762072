// SPDX-License-Identifier: Apache-2.0
// A block-buffered line reader that keeps simdjson's padding after every line.
#include "aftk/json/line_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace aftk::json {

namespace {
constexpr size_t kBlock = 1 << 20;
}

Result<LineReader> LineReader::open(const std::string& path) {
  LineReader r;
  r.path_ = path;
  if (path == "-") {
    r.file_ = stdin;
  } else {
    r.file_ = std::fopen(path.c_str(), "rb");  // blocks on a FIFO until a writer opens it
    if (!r.file_) {
      if (errno == EINTR)
        return fail(Errc::kInterrupted, fmt::format("interrupted while opening '{}'", path));
      return fail(Errc::kIo, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    }
    r.owns_ = true;
    struct stat st {};
    if (::fstat(fileno(r.file_), &st) == 0 && S_ISREG(st.st_mode)) r.size_ = static_cast<std::uint64_t>(st.st_size);
  }
  r.buf_.resize(kBlock + simdjson::SIMDJSON_PADDING);
  return r;
}

LineReader::LineReader(LineReader&& o) noexcept { *this = std::move(o); }

LineReader& LineReader::operator=(LineReader&& o) noexcept {
  if (this != &o) {
    if (owns_ && file_) std::fclose(file_);
    path_ = std::move(o.path_);
    file_ = o.file_;
    owns_ = o.owns_;
    eof_ = o.eof_;
    buf_ = std::move(o.buf_);
    pos_ = o.pos_;
    end_ = o.end_;
    file_offset_ = o.file_offset_;
    line_no_ = o.line_no_;
    size_ = o.size_;
    o.file_ = nullptr;
    o.owns_ = false;
  }
  return *this;
}

LineReader::~LineReader() {
  if (owns_ && file_) std::fclose(file_);
}

Status LineReader::seek(std::uint64_t offset, std::uint64_t lines_before) {
  if (::fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0)
    return fail(Errc::kIo, fmt::format("cannot seek in '{}': {}", path_, std::strerror(errno)));
  pos_ = end_ = 0;
  eof_ = false;
  file_offset_ = offset;
  line_no_ = lines_before;
  return {};
}

Result<bool> LineReader::next(Line& line) {
  while (true) {
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', end_ - pos_);
    if (nl) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start);
      line.text = std::string_view(start, len);
      line.number = ++line_no_;
      line.offset = position();
      line.terminated = true;
      pos_ += len + 1;
      return true;
    }
    if (eof_) {
      if (pos_ == end_) return false;
      line.text = std::string_view(start, end_ - pos_);
      line.number = ++line_no_;
      line.offset = position();
      line.terminated = false;
      pos_ = end_;
      return true;
    }
    // Move the partial line to the front; grow when one line fills the buffer.
    const size_t rest = end_ - pos_;
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, rest);
      pos_ = 0;
      end_ = rest;
    }
    const size_t cap = buf_.size() - simdjson::SIMDJSON_PADDING;
    if (end_ == cap) buf_.resize(cap * 2 + simdjson::SIMDJSON_PADDING);
    const size_t want = buf_.size() - simdjson::SIMDJSON_PADDING - end_;
    const size_t got = std::fread(buf_.data() + end_, 1, want, file_);
    if (got < want) {
      if (std::ferror(file_)) {
        // EINTR: a signal handler installed without SA_RESTART ran (cli's does), asking to stop.
        if (errno == EINTR)
          return fail(Errc::kInterrupted, fmt::format("interrupted while reading '{}'", path_));
        return fail(Errc::kIo, fmt::format("cannot read '{}': {}", path_, std::strerror(errno)));
      }
      eof_ = true;
    }
    end_ += got;
    file_offset_ += got;
    std::memset(buf_.data() + end_, 0, simdjson::SIMDJSON_PADDING);
  }
}

}  // namespace aftk::json
