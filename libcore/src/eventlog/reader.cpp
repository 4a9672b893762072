// SPDX-License-Identifier: Apache-2.0
// The streaming reader: a bounded buffer of lines, pretty blocks, torn tails, prefilter, follow.
#include "aftk/eventlog/reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "decode.h"
#include "search.h"

namespace aftk::eventlog {

namespace od = simdjson::ondemand;

std::string Problem::to_string() const {
  if (kind == Kind::kTorn)
    return fmt::format("{}:{}: torn last record at byte {}: {}", file, line, offset, message);
  return fmt::format("{}:{}: corrupt record at byte {}: {}", file, line, offset, message);
}

class Reader::Impl {
 public:
  Impl(std::string name, std::string path, ReadOptions options)
      : name_(std::move(name)), path_(std::move(path)), opt_(std::move(options)) {
    buf_.resize(kInitial + simdjson::SIMDJSON_PADDING);
    hits_.assign(opt_.needles.size(), kUnknown);
    for (auto& n : opt_.needles) {
      if (n.empty()) use_needles_ = false;
      needles_.push_back(detail::make_needle(n));
    }
    use_needles_ = use_needles_ && !opt_.needles.empty();
    fused_ = use_needles_ && needles_.size() == 1 && needles_[0].text.size() >= 2 &&
             needles_[0].text.size() <= 48;
  }
  ~Impl() { close_source(); }

  Status open_source();
  void adopt_fd(int fd) {
    fd_ = fd;
    own_fd_ = false;
  }
  Result<Next> next(Record& out);

  std::string name_, path_;
  ReadOptions opt_;
  std::uint64_t corrupt_ = 0, torn_ = 0, skipped_ = 0;
  std::uint64_t base_offset_ = 0;  // stream offset of buf_[0]
  size_t pos_ = 0, end_ = 0;

 private:
  static constexpr size_t kInitial = size_t{1} << 20;
  static constexpr size_t kUnknown = static_cast<size_t>(-1);
  static constexpr size_t kNone = static_cast<size_t>(-2);

  size_t capacity() const { return buf_.size() - simdjson::SIMDJSON_PADDING; }
  void close_source() {
    if (gz_ != nullptr) gzclose(gz_);
    gz_ = nullptr;
    if (fd_ >= 0 && own_fd_) ::close(fd_);
    fd_ = -1;
  }
  Result<size_t> refill();
  Unexpected interrupted_read() const {
    return fail(Errc::kInterrupted, fmt::format("interrupted while reading '{}'", name_));
  }
  bool rotated();
  void reset_stream() {
    pos_ = end_ = 0;
    base_offset_ = 0;
    line_ = 1;
    eof_ = false;
    discarding_ = false;
    std::fill(hits_.begin(), hits_.end(), kUnknown);
  }
  Status problem(Problem::Kind kind, std::uint64_t line, std::uint64_t offset, std::string message);
  Result<bool> emit(const char* b, const char* e, std::uint64_t line, bool pretty, Record& out);
  size_t first_candidate(size_t from, size_t to);

  int fd_ = -1;
  bool own_fd_ = true;
  gzFile gz_ = nullptr;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  std::vector<char> buf_;
  std::uint64_t line_ = 1;  // line number at pos_
  bool eof_ = false;
  bool discarding_ = false;  // inside an over-long line being dropped
  bool use_needles_ = true;
  bool fused_ = false;  // one short needle: one pass finds it, pretty records and line counts
  std::vector<detail::Needle> needles_;
  std::vector<size_t> hits_;  // per needle: buffer position of its next occurrence, or kNone
  od::parser parser_;
};

Status Reader::Impl::open_source() {
  if (path_ == "-") {
    fd_ = STDIN_FILENO;
    own_fd_ = false;
    return {};
  }
  const bool gz = path_.size() > 3 && path_.compare(path_.size() - 3, 3, ".gz") == 0;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // a FIFO: waits for a writer
  if (fd < 0) {
    if (errno == EINTR)
      return fail(Errc::kInterrupted, fmt::format("interrupted while opening '{}'", path_));
    return fail(Errc::kIo,
                fmt::format("cannot open event log '{}': {}", path_, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return fail(Errc::kIo, fmt::format("cannot read event log '{}': is a directory", path_));
    }
    ino_ = st.st_ino;
    dev_ = st.st_dev;
  }
  if (gz) {
    gz_ = gzdopen(fd, "rb");
    if (gz_ == nullptr) {
      ::close(fd);
      return fail(Errc::kIo, fmt::format("cannot open gzip event log '{}'", path_));
    }
    gzbuffer(gz_, 1 << 17);
    opt_.follow = false;  // a growing gzip stream cannot be followed
  } else {
    fd_ = fd;
    own_fd_ = true;
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  return {};
}

bool Reader::Impl::rotated() {
  if (path_ == "-") return false;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return false;  // gone for now: keep waiting
  if (fd_ < 0 && gz_ == nullptr) return true;         // appeared since
  return st.st_ino != ino_ || st.st_dev != dev_ ||
         static_cast<std::uint64_t>(st.st_size) < base_offset_ + end_;
}

Result<size_t> Reader::Impl::refill() {
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    base_offset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
    std::fill(hits_.begin(), hits_.end(), kUnknown);
  }
  if (end_ == capacity()) {
    if (capacity() >= opt_.max_record_bytes) {
      // One line longer than the limit: report it and drop bytes until its end.
      if (!discarding_) {
        AFTK_TRY(problem(Problem::Kind::kCorrupt, line_, base_offset_,
                         fmt::format("record longer than {} bytes", opt_.max_record_bytes)));
      }
      discarding_ = true;
      base_offset_ += end_;
      end_ = 0;
    } else {
      buf_.resize(std::min(capacity() * 2, opt_.max_record_bytes) + simdjson::SIMDJSON_PADDING);
    }
  }
  if (fd_ < 0 && gz_ == nullptr) {
    eof_ = true;
    return size_t{0};
  }
  ssize_t n;
  const size_t room = capacity() - end_;
  if (gz_ != nullptr) {
    n = gzread(gz_, buf_.data() + end_, static_cast<unsigned>(std::min<size_t>(room, 1u << 30)));
    if (n < 0) {
      int zerr = 0;
      const char* msg = gzerror(gz_, &zerr);
      if (zerr == Z_ERRNO && errno == EINTR) return interrupted_read();
      return fail(Errc::kIo,
                  fmt::format("cannot read gzip event log '{}': {}", path_, msg ? msg : "error"));
    }
  } else {
    // EINTR: a signal handler installed without SA_RESTART ran (cli's does), asking to stop.
    n = ::read(fd_, buf_.data() + end_, room);
    if (n < 0 && errno == EINTR) return interrupted_read();
    if (n < 0)
      return fail(Errc::kIo,
                  fmt::format("cannot read event log '{}': {}", name_, std::strerror(errno)));
  }
  end_ += static_cast<size_t>(n);
  std::fill(hits_.begin(), hits_.end(), kUnknown);
  std::memset(buf_.data() + end_, ' ', simdjson::SIMDJSON_PADDING);
  if (n == 0) eof_ = true;
  return static_cast<size_t>(n);
}

Status Reader::Impl::problem(Problem::Kind kind, std::uint64_t line, std::uint64_t offset,
                             std::string message) {
  (kind == Problem::Kind::kTorn ? torn_ : corrupt_)++;
  Problem p{kind, name_, line, offset, std::move(message)};
  if (kind == Problem::Kind::kCorrupt && opt_.strict)
    return fail(Errc::kCorruptRecord,
                fmt::format("cannot read event log '{}': corrupt record at byte {}: {}", name_,
                            offset, p.message),
                fmt::format("{}:{}", name_, line));
  if (opt_.on_problem) opt_.on_problem(p);
  return {};
}

// Decodes [b, e) (which has readable padding after it). false: it was corrupt and skipped.
Result<bool> Reader::Impl::emit(const char* b, const char* e, std::uint64_t line, bool pretty,
                                Record& out) {
  const std::uint64_t offset = base_offset_ + static_cast<std::uint64_t>(b - buf_.data());
  // The byte after a complete record is its '\n', a safe end for simdjson's scan.
  auto st = detail::decode_padded(
      parser_,
      simdjson::padded_string_view(b, static_cast<size_t>(e - b),
                                   static_cast<size_t>(e - b) + simdjson::SIMDJSON_PADDING),
      out);
  if (!st) {
    AFTK_TRY(problem(Problem::Kind::kCorrupt, line, offset, st.error().message));
    return false;
  }
  out.pretty = pretty;
  out.raw.assign(b, e);
  out.line = line;
  out.offset = offset;
  return true;
}

size_t Reader::Impl::first_candidate(size_t from, size_t to) {
  size_t best = kNone;
  const char* base = buf_.data();
  for (size_t k = 0; k < hits_.size(); ++k) {
    if (hits_[k] == kUnknown || (hits_[k] != kNone && hits_[k] < from)) {
      const char* h = detail::find_bytes(needles_[k], base + from, base + to);
      hits_[k] = h ? static_cast<size_t>(h - base) : kNone;
    }
    if (hits_[k] != kNone && hits_[k] < best) best = hits_[k];
  }
  return best;
}

Result<Reader::Next> Reader::Impl::next(Record& out) {
  for (;;) {
    char* base = buf_.data();
    if (discarding_) {
      const char* nl = static_cast<const char*>(std::memchr(base + pos_, '\n', end_ - pos_));
      if (nl == nullptr) {
        pos_ = end_;
        if (eof_) return Next::kEnd;
        AFTK_TRY(refill());
        continue;
      }
      pos_ = static_cast<size_t>(nl - base) + 1;
      ++line_;
      discarding_ = false;
      continue;
    }
    // Prefilter: jump to the first line that can match, counting the lines passed over. A line
    // that is just "{" opens a pretty-printed record, which is always decoded.
    if (use_needles_ && pos_ < end_) {
      const char* last_nl = static_cast<const char*>(::memrchr(base + pos_, '\n', end_ - pos_));
      if (last_nl != nullptr) {
        const size_t region_end = static_cast<size_t>(last_nl - base) + 1;
        const bool pretty_here = base[pos_] == '{' && pos_ + 1 < end_ && base[pos_ + 1] == '\n';
        size_t start = region_end;
        bool stop = false;
        if (!pretty_here && fused_) {
          size_t n = 0;
          const char* ls =
              detail::next_candidate_line(needles_[0], base + pos_, base + region_end, n);
          line_ += n;
          skipped_ += n;
          pos_ = static_cast<size_t>(ls - base);
          if (pos_ == region_end) continue;  // all complete lines skipped; refill below
        } else if (!pretty_here) {
          const size_t hit = first_candidate(pos_, region_end);
          if (hit != kNone) {
            const char* ls = static_cast<const char*>(::memrchr(base + pos_, '\n', hit - pos_));
            start = ls ? static_cast<size_t>(ls - base) + 1 : pos_;
            stop = true;
          }
          size_t n = 0;
          const char* m = detail::skip_lines(base + pos_, base + start, n);
          if (m < base + start) {
            start = static_cast<size_t>(m - base);
            stop = true;
          }
          line_ += n;
          skipped_ += n;
          pos_ = start;
          if (!stop) continue;  // all complete lines skipped; refill below
        }
      }
    }
    const char* nl = pos_ < end_
                         ? static_cast<const char*>(std::memchr(base + pos_, '\n', end_ - pos_))
                         : nullptr;
    if (nl == nullptr) {
      if (!eof_) {
        AFTK_TRY(refill());
        continue;
      }
      if (opt_.follow) {
        if (rotated()) {
          close_source();
          reset_stream();
          auto st = open_source();
          if (!st) return Next::kIdle;  // gone again; keep waiting
          continue;
        }
        eof_ = false;  // try reading again next time
        return Next::kIdle;
      }
      // End of input. Whitespace only is fine; anything else is a torn record.
      const char* b = base + pos_;
      const char* e = base + end_;
      while (b < e && (*b == ' ' || *b == '\t' || *b == '\r')) ++b;
      if (b == e) {
        pos_ = end_;
        return Next::kEnd;
      }
      const std::uint64_t offset = base_offset_ + pos_;
      const size_t len = end_ - pos_;
      // A complete record may still lack its final newline; only undecodable bytes are torn.
      if (*b != '{' || (len == 1)) {
        // fallthrough to torn
      } else {
        auto st = detail::decode_padded(
            parser_,
            simdjson::padded_string_view(base + pos_, len, len + simdjson::SIMDJSON_PADDING), out);
        if (st) {
          out.pretty = false;
          out.raw.assign(base + pos_, len);
          out.line = line_;
          out.offset = offset;
          pos_ = end_;
          return Next::kRecord;
        }
      }
      AFTK_TRY(problem(
          Problem::Kind::kTorn, line_, offset,
          fmt::format("{} bytes without a final newline (a writer stopped mid-record)", len)));
      pos_ = end_;
      return Next::kEnd;
    }
    size_t line_end = static_cast<size_t>(nl - base);
    const char* b = base + pos_;
    const char* e = nl;
    if (e > b && e[-1] == '\r') --e;
    // A line that is just "{" opens a pretty-printed record, closed by a line that is just "}".
    if (e - b == 1 && *b == '{') {
      // Jackson indents every line inside; the first line that starts otherwise ends the
      // block. "}" closes it; anything else is where the record broke off (a writer stopped
      // mid-record, another then appended): report it and read on from that line.
      const char* close = nullptr;  // the '\n' before the closing '}'
      const char* broken = nullptr;
      size_t cr = 0;  // 1 when the '}' line ends "\r\n"
      for (const char* p = base + line_end; p + 1 < base + end_;) {
        const char c = p[1];
        if (c == ' ' || c == '\t') {
          p = static_cast<const char*>(std::memchr(p + 1, '\n', base + end_ - (p + 1)));
          if (p == nullptr) break;
          continue;
        }
        const char* after = p + 2;
        if (c == '}' && after < base + end_ && *after == '\r') ++after;
        if (c == '}' && after == base + end_) break;  // "}" or "}\r" so far: wait for more
        if (c == '}' && *after == '\n') {
          close = p;
          cr = static_cast<size_t>(after - (p + 2));
        } else {
          broken = p;
        }
        break;
      }
      if (broken != nullptr) {
        const size_t lines = detail::count_newlines(b, broken + 1);
        AFTK_TRY(problem(Problem::Kind::kCorrupt, line_, base_offset_ + pos_,
                         fmt::format("pretty-printed record broken off at line {} (no closing "
                                     "'}}' before it)",
                                     line_ + lines)));
        line_ += lines;
        pos_ = static_cast<size_t>(broken + 1 - base);
        continue;
      }
      if (close == nullptr) {
        if (!eof_) {
          AFTK_TRY(refill());
          continue;
        }
        const bool ends_closed =
            end_ - line_end >= 2 && base[end_ - 1] == '}' && base[end_ - 2] == '\n';
        if (!ends_closed) {
          if (opt_.follow) {
            eof_ = false;
            if (rotated()) {
              close_source();
              reset_stream();
              (void)open_source();
            }
            return Next::kIdle;
          }
          AFTK_TRY(
              problem(Problem::Kind::kTorn, line_, base_offset_ + pos_,
                      fmt::format("pretty-printed record of {} bytes is not closed", end_ - pos_)));
          pos_ = end_;
          return Next::kEnd;
        }
        close = base + end_ - 2;
      }
      const char* rec_end = close + 2;  // just after the closing '}'
      const std::uint64_t line = line_;
      const size_t lines = detail::count_newlines(b, rec_end);
      AFTK_TRY_ASSIGN(bool ok, emit(b, rec_end, line, true, out));
      line_ += lines + 1;
      pos_ = std::min(static_cast<size_t>(rec_end - base) + cr + 1, end_);
      if (ok) return Next::kRecord;
      continue;
    }
    const std::uint64_t line = line_++;
    pos_ = line_end + 1;
    const char* t = b;
    while (t < e && (*t == ' ' || *t == '\t')) ++t;
    if (t == e) continue;  // blank line
    AFTK_TRY_ASSIGN(bool ok, emit(b, e, line, false, out));
    if (ok) return Next::kRecord;
  }
}

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path, ReadOptions options) {
  if (path == "-") options.follow = false;  // a pipe at its end is finished, not waiting
  const bool follow = options.follow;
  auto impl =
      std::make_unique<Impl>(path == "-" ? std::string("<stdin>") : path, path, std::move(options));
  struct stat st_buf {};
  // tail -F waits for a file that does not exist yet.
  const bool wait_for_it =
      follow && path != "-" && ::stat(path.c_str(), &st_buf) != 0 && errno == ENOENT;
  if (!wait_for_it) AFTK_TRY(impl->open_source());
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

std::unique_ptr<Reader> Reader::from_fd(int fd, std::string name, ReadOptions options) {
  auto impl = std::make_unique<Impl>(name, name, std::move(options));
  impl->adopt_fd(fd);
  impl->opt_.follow = false;
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<Reader::Next> Reader::next(Record& out) { return impl_->next(out); }
const std::string& Reader::name() const { return impl_->name_; }
std::uint64_t Reader::corrupt_records() const { return impl_->corrupt_; }
std::uint64_t Reader::torn_records() const { return impl_->torn_; }
std::uint64_t Reader::bytes_read() const { return impl_->base_offset_ + impl_->pos_; }
std::uint64_t Reader::skipped_records() const { return impl_->skipped_; }

Status read_all(const std::string& path, const ReadOptions& options,
                const std::function<bool(Record&)>& fn) {
  ReadOptions o = options;
  o.follow = false;
  AFTK_TRY_ASSIGN(auto reader, Reader::open(path, std::move(o)));
  Record r;
  for (;;) {
    AFTK_TRY_ASSIGN(Reader::Next n, reader->next(r));
    if (n != Reader::Next::kRecord) return {};
    if (!fn(r)) return {};
  }
}

}  // namespace aftk::eventlog
