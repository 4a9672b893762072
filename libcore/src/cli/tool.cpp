// SPDX-License-Identifier: Apache-2.0
// Shared command-line plumbing: diagnostics, exit codes, output selection, tables, progress.
#include "aftk/cli/tool.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <openssl/crypto.h>

#include "aftk/json/writer.h"
#include "aftk_config.h"

namespace aftk::cli {

void tune_allocator() {
  // glibc maps allocations above a threshold (128 KiB, rising to 32 MiB with use) and gives
  // memory at the top of the heap back beyond another. A rebuild receives a multi-MiB fetch
  // answer many times a second; left to these defaults each answer was faulted in page by page
  // again, which measured at about a third of a rebuild's CPU time. Peak memory is unchanged.
  ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

Io process_io(std::string tool) {
  tune_allocator();
  Io io;
  io.tool = std::move(tool);
  io.exits_after = true;
  io.in_tty = ::isatty(STDIN_FILENO) == 1;
  io.out_tty = ::isatty(STDOUT_FILENO) == 1;
  io.err_tty = ::isatty(STDERR_FILENO) == 1;
  return io;
}

void error(const Io& io, std::string_view message) {
  fmt::print(io.err, "{}: error: {}\n", io.tool, message);
}
void warning(const Io& io, std::string_view message) {
  fmt::print(io.err, "{}: warning: {}\n", io.tool, message);
}
void note(const Io& io, std::string_view message) {
  if (!io.quiet) fmt::print(io.err, "{}: note: {}\n", io.tool, message);
}

bool confirm(const Io& io, std::string_view question) {
  fmt::print(io.err, "{}: {} [y/N] ", io.tool, question);
  std::fflush(io.err);
  char* line = nullptr;
  size_t cap = 0;
  const ssize_t n = ::getline(&line, &cap, io.in);
  std::string answer = n > 0 ? std::string(line, static_cast<size_t>(n)) : std::string();
  std::free(line);
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  return answer == "y" || answer == "Y" || answer == "yes";
}

int exit_code(const Error& e) {
  return e.code == Errc::kInterrupted ? kExitInterrupted : kExitFailure;
}

int report_error(const Io& io, const Error& e) {
  error(io, fmt::format("{} [{}]", e.to_string(), errc_name(e.code)));
  if (e.retriable) note(io, "the error may be transient: running the command again may succeed");
  return exit_code(e);
}

void add_output_options(CLI::App& app, OutputOptions& o) {
  app.add_flag("--json", o.json, "Write JSON Lines (one object per line); same as -o jsonl");
  app.add_option("-o,--output", o.output, "Output format")
      ->check(CLI::IsMember({"auto", "table", "json", "jsonl", "pretty"}))
      ->default_str("auto");
  app.add_option("--color", o.color, "Colour the table output")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->default_str("auto");
  app.add_flag("-q,--quiet", o.quiet, "No progress and no notes on stderr");
}

Format resolve_format(const OutputOptions& o, const Io& io) {
  if (o.json || o.output == "json" || o.output == "jsonl") return Format::kJsonl;
  if (o.output == "pretty") return Format::kPrettyJson;
  if (o.output == "table") return Format::kTable;
  return io.out_tty ? Format::kTable : Format::kJsonl;
}

bool resolve_color(const OutputOptions& o, const Io& io) {
  if (o.color == "always") return true;
  if (o.color == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return io.out_tty;
}

std::string version_text(std::string_view tool) {
  return fmt::format(
      "{} (aftk) {}\nsimdjson {}\nfmt {}\nCLI11 {}\nlibrdkafka {}\n{}\n", tool, AFTK_VERSION,
      AFTK_SIMDJSON_VERSION, AFTK_FMT_VERSION, AFTK_CLI11_VERSION, rd_kafka_version_str(),
      OpenSSL_version(OPENSSL_VERSION));
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, const Io& io) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print(io.out, "{}", app.help());
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    fmt::print(io.out, "{}", app.help("", CLI::AppFormatMode::All));
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    fmt::print(io.out, "{}", version_text(io.tool));
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    error(io, e.what());
    fmt::print(io.err, "Try '{} --help' for more information.\n", io.tool);
    return kExitUsage;
  }
  return std::nullopt;
}

int guarded(const Io& io, const std::function<int()>& body) {
  try {
    return body();
  } catch (const BadResultAccess& e) {
    return report_error(io, e.error());
  } catch (const std::bad_alloc&) {
    error(io, "out of memory");
    return kExitFailure;
  } catch (const std::exception& e) {
    error(io, e.what());
    return kExitFailure;
  }
}

int main(int argc, char** argv, std::string tool, ToolMain tool_main) {
  install_signal_handlers();
  Io io = process_io(std::move(tool));
  const int rc = guarded(io, [&] { return tool_main(argc, argv, io); });
  // A signal cuts reads and writes short, which a tool may report as a failure or as problems;
  // the signal is the cause. A usage error or a partly applied write says more, and is kept.
  if (interrupted() && (rc == kExitOk || rc == kExitFailure || rc == kExitProblems))
    return kExitInterrupted;
  return rc;
}

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int sig) {
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

void install_signal_handlers() {
  // Without SA_RESTART (which std::signal sets on glibc): a read blocked on a FIFO, a pipe or a
  // terminal returns EINTR, and the readers turn that into INTERRUPTED. With it, the read went
  // back to waiting and the first Ctrl-C seemed to be ignored.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() noexcept { return g_interrupted.load(std::memory_order_relaxed); }

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1B && i + 1 < s.size() && s[i + 1] == '[') {
      // A colour (CSI) sequence takes no room: ESC '[', parameters, one final byte @..~.
      i += 2;
      while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

void write_json(const Io& io, Format format, std::string_view json) {
  if (format == Format::kPrettyJson) {
    std::string text = json::pretty(json);
    text.push_back('\n');
    std::fwrite(text.data(), 1, text.size(), io.out);
    return;
  }
  std::fwrite(json.data(), 1, json.size(), io.out);
  std::fputc('\n', io.out);
}

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec == std::errc() && end == text.data() + text.size() && v >= 0) return {};
        const std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
        return fmt::format("expected a whole number, 0 or more, not '{}'", shown);
      },
      "INT>=0");
}

void Table::add_column(std::string header, Align align) {
  headers_.push_back(std::move(header));
  aligns_.push_back(align);
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::FILE* out, bool color) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = display_width(headers_[c]);
  for (const auto& r : rows_)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
  auto emit = [&](const std::vector<std::string>& cells, bool header) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = width[c] - display_width(cells[c]);
      const bool last = c + 1 == cells.size();
      if (aligns_[c] == Align::kRight) line.append(pad, ' ');
      line.append(cells[c]);
      if (aligns_[c] == Align::kLeft && !last) line.append(pad, ' ');
      if (!last) line.append("  ");
    }
    if (header && color)
      fmt::print(out, "\033[1m{}\033[0m\n", line);
    else
      fmt::print(out, "{}\n", line);
  };
  emit(headers_, true);
  for (const auto& r : rows_) emit(r, false);
}

namespace {
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Progress::Progress(const Io& io, std::string what)
    : io_(io), what_(std::move(what)), enabled_(io.err_tty && !io.quiet) {}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done, std::uint64_t total, std::string_view unit) {
  if (!enabled_) return;
  const auto t = now_ns();
  if (shown_ && t - last_ns_ < 100'000'000) return;
  last_ns_ = t;
  shown_ = true;
  if (total > 0)
    fmt::print(io_.err, "\r{}: {} {}/{} {} ({:.0f}%)\033[K", io_.tool, what_, done, total, unit,
               100.0 * static_cast<double>(done) / static_cast<double>(total));
  else
    fmt::print(io_.err, "\r{}: {} {} {}\033[K", io_.tool, what_, done, unit);
  std::fflush(io_.err);
}

void Progress::finish() {
  if (shown_) {
    fmt::print(io_.err, "\r\033[K");
    std::fflush(io_.err);
    shown_ = false;
  }
}

}  // namespace aftk::cli
