// SPDX-License-Identifier: Apache-2.0
// What every aftk command shares: exit codes, diagnostics, output format, colour, tables, --version.
#pragma once

#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "aftk/result.h"

namespace aftk::cli {

/// Exit codes, the same in every tool (see any man page, EXIT STATUS).
enum ExitCode : int {
  kExitOk = 0,           // success
  kExitFailure = 1,      // I/O, Kafka, unreadable input
  kExitUsage = 2,        // usage error
  kExitProblems = 3,     // ran to the end and found problems
  kExitPartial = 4,      // some writes applied, some not
  kExitInterrupted = 130 // SIGINT/SIGTERM
};

/// Where a tool writes; tests hand in memory streams.
struct Io {
  std::string tool;
  std::FILE* in = stdin;  // answers to confirmations
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  bool in_tty = false;
  bool out_tty = false;
  bool err_tty = false;
  bool quiet = false;
  /// The process ends when the tool returns (set by process_io, not for in-process callers
  /// such as tests): what is left in memory then can be left to the operating system.
  bool exits_after = false;
};

/// Io on the process's stdout and stderr, with TTY detection. Also calls tune_allocator().
Io process_io(std::string tool);

/// Process-wide malloc settings for tools that stream large buffers (librdkafka's fetch answers,
/// file chunks): such buffers are kept in the heap and reused instead of being mapped, faulted
/// in, zeroed and unmapped again for every one. Only for programs, never called by the library.
void tune_allocator();
/// The glibc mmap and trim thresholds tune_allocator() sets, in bytes.
inline constexpr int kMmapThreshold = 32 << 20;
inline constexpr int kTrimThreshold = 256 << 20;

/// "<tool>: error: message" on stderr.
void error(const Io& io, std::string_view message);
/// "<tool>: warning: message" on stderr.
void warning(const Io& io, std::string_view message);
/// "<tool>: note: message" on stderr, unless quiet.
void note(const Io& io, std::string_view message);

/// Asks "<tool>: question [y/N] " on stderr and reads one line of `io.in`: true for y, Y or yes.
/// Callers check first that a person can answer (in_tty and err_tty).
bool confirm(const Io& io, std::string_view question);

/// The exit code of a command that stops on `e`, decided from its fields, never from its text:
/// 130 for INTERRUPTED, else 1. A Kafka error is a failure (1) whether librdkafka called it
/// retriable (reported once aftk's own retries ran out) or fatal.
int exit_code(const Error& e);

/// Reports a libcore Error on stderr (with its code name, location and whether it is fatal),
/// adds a note when it is retriable (running again may succeed) and returns exit_code(e).
int report_error(const Io& io, const Error& e);

enum class Format { kTable, kJsonl, kPrettyJson };

/// Output flags every tool takes: --json, -o/--output, --color, -q.
struct OutputOptions {
  bool json = false;
  std::string output = "auto";  // auto|table|json|jsonl|pretty
  std::string color = "auto";   // auto|always|never
  bool quiet = false;
};

/// Adds --json, -o/--output, --color and -q/--quiet.
void add_output_options(CLI::App& app, OutputOptions& options);
/// Table on a TTY, JSON Lines otherwise, unless asked.
Format resolve_format(const OutputOptions& options, const Io& io);
/// Colour only on a TTY, never with NO_COLOR set, unless --color=always.
bool resolve_color(const OutputOptions& options, const Io& io);

/// Our version and the versions of the libraries linked in, one per line.
std::string version_text(std::string_view tool);

/// Parses argv into `app`. Returns nullopt to go on, or the exit code to return now (0 after
/// --help or --version, 2 on a usage error, with the message on stderr).
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, const Io& io);

/// Runs `body`, turning any exception that escapes into "<tool>: error: ..." and exit code 1.
int guarded(const Io& io, const std::function<int()>& body);

/// A tool's in-process entry point: argv in, exit code out, output on `io`.
using ToolMain = int (*)(int argc, const char* const* argv, Io& io);

/// The process's main for every tool: installs the signal handlers, builds the process Io, runs
/// `tool_main` and maps an exception that escapes it to an exit code. After SIGINT or SIGTERM
/// the exit code is 130, unless the tool returned 2 or 4.
int main(int argc, char** argv, std::string tool, ToolMain tool_main);

/// Installs SIGINT/SIGTERM handlers that set the interrupted flag (a second signal kills). They
/// do not restart system calls: a blocked read returns EINTR, which readers report as
/// INTERRUPTED, so one signal ends a tool waiting on a FIFO, a pipe or a terminal.
void install_signal_handlers();
/// True once SIGINT or SIGTERM arrived.
bool interrupted() noexcept;

/// A plain text table with aligned columns; widths count code points (display_width), not
/// bytes, so coloured cells line up.
class Table {
 public:
  enum class Align { kLeft, kRight };
  void add_column(std::string header, Align align = Align::kLeft);
  void add_row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  /// Writes header and rows; the header is bold when `color`.
  void print(std::FILE* out, bool color) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

/// Progress on stderr for long scans: only when stderr is a TTY and not quiet, at most 10/s.
class Progress {
 public:
  Progress(const Io& io, std::string what);
  ~Progress();
  /// Reports `done` of `total` (total 0 when unknown) units.
  void update(std::uint64_t done, std::uint64_t total, std::string_view unit = "records");
  void finish();

 private:
  const Io& io_;
  std::string what_;
  bool enabled_;
  bool shown_ = false;
  std::int64_t last_ns_ = 0;
};

/// Number of code points in UTF-8 text (terminal width approximation); colour escape
/// sequences (ESC '[' ... final byte) take no width.
size_t display_width(std::string_view utf8);

/// Writes one JSON value and a newline to io.out: as it is, or re-indented (json::pretty) for
/// Format::kPrettyJson.
void write_json(const Io& io, Format format, std::string_view json);

/// A check for an integer option that must be 0 or more, with a short message. (CLI11's
/// NonNegativeNumber names its upper bound, a 309-digit double.)
CLI::Validator non_negative();

}  // namespace aftk::cli
