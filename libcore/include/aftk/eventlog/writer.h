// SPDX-License-Identifier: Apache-2.0
// Writing event logs byte for byte as upstream's FileEventLogger does (0.4-SNAPSHOT and 0.3.x).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::eventlog {

/// event-log.level and event-log.type.<TYPE>.level values.
enum class Level { kOff, kStandard, kVerbose };

/// "OFF", "STANDARD", "VERBOSE".
std::string_view level_name(Level level) noexcept;
/// Case-insensitive, as EventLogLevel.fromString. Errors: INVALID_ARGUMENT.
Result<Level> parse_level(std::string_view text);

/// The execution trace context written before eventId when event-log.trace.enabled is on.
struct TraceContext {
  std::optional<std::string> input_run_id, business_key, agent_name, execution_id,
      parent_execution_id, entity_type, entity_name;
  std::string entity_metadata_json;  // a JSON object; empty or "{}" writes nothing
};

/// One event to log. JSON members keep the order they have in `attributes_json`.
struct LogEvent {
  std::string timestamp;  // Instant.toString form; empty means now
  std::string event_id;   // canonical UUID text
  std::string event_type;
  std::string attributes_json = "{}";  // a JSON object (numbers re-written as Jackson does)
  std::optional<std::string> upstream_event_id;
  std::optional<std::string> upstream_action_name;
  std::optional<TraceContext> trace;
};

struct WriterConfig {
  enum class Layout { kFlat, kNested031 };
  Layout layout = Layout::kFlat;  // kFlat: main@8ad3a32 (0.4-SNAPSHOT); kNested031: 0.3.x
  Level level = Level::kStandard;
  std::map<std::string, Level, std::less<>> type_levels;  // event-log.type.<TYPE>.level
  int max_string_length = 2000;  // event-log.standard.max-string-length (0 disables)
  int max_array_elements = 20;   // event-log.standard.max-array-elements (0 disables)
  int max_depth = 5;             // event-log.standard.max-depth (0 disables)
  bool pretty = false;           // prettyPrint

  /// From agent-config keys (event-log.level, event-log.type.X.level, event-log.standard.*,
  /// prettyPrint); integers that do not parse keep their default, as upstream does.
  /// Errors: INVALID_ARGUMENT for an unknown level name.
  static Result<WriterConfig> from_agent_config(const std::map<std::string, std::string>& conf);

  /// The level for a type: exact entry, then each dot-separated parent, then the root level.
  Level resolve(std::string_view event_type) const;
};

/// Appends the record upstream writes for `event` (with its '\n') to `out`. Returns false, with
/// nothing appended, when the type's level is OFF. Errors: INVALID_ARGUMENT when attributes or
/// entity metadata are not JSON objects.
Result<bool> format_record(const LogEvent& event, const WriterConfig& config, std::string& out);

/// The attributes after STANDARD truncation (compact JSON): what upstream keeps of them.
/// `nested031` applies 0.3.x's rule (depth counted from the event node). Errors: INVALID_ARGUMENT.
Result<std::string> truncate_attributes(std::string_view attributes_json,
                                        const WriterConfig& config);

/// events-{jobId}-{taskName}-{subtask}.log, with \ / : * ? " < > | in the task name made '_'.
std::string log_file_name(std::string_view job_id, std::string_view task_name, int subtask);

/// Appends records to one event-log file, flushing after each (the file is opened for append,
/// so a restarted writer continues the same file, as upstream does). For example:
///
///   auto w = EventLogWriter::open(dir, job_id, "action-execute-operator", 0);
///   if (!w) return fail(std::move(w).error());
///   LogEvent e;
///   e.event_id = id;
///   e.event_type = "_input_event";
///   e.attributes_json = R"({"input":"hello"})";
///   AFTK_TRY(w->append(e));
///
/// Lifecycle events (_execution_*_event) carry status/problemCategory in attributes_json; the
/// writer lifts them to the top as upstream does. Set `trace` for event-log.trace.enabled.
class EventLogWriter {
 public:
  /// Creates `dir` if missing and opens dir/log_file_name(...) for append. Errors: IO.
  static Result<EventLogWriter> open(const std::string& dir, std::string_view job_id,
                                     std::string_view task_name, int subtask,
                                     WriterConfig config = {});
  /// Opens an explicit path for append. Errors: IO.
  static Result<EventLogWriter> open_path(const std::string& path, WriterConfig config = {});

  EventLogWriter(EventLogWriter&& other) noexcept;
  EventLogWriter& operator=(EventLogWriter&& other) noexcept;
  ~EventLogWriter();

  /// Formats, writes and flushes one record (nothing for an OFF type). Returns whether a record
  /// was written. Errors: INVALID_ARGUMENT (bad attributes), IO.
  Result<bool> append(const LogEvent& event);
  /// Flushes and closes. Errors: IO.
  Status close();

  const std::string& path() const { return path_; }
  const WriterConfig& config() const { return config_; }

 private:
  EventLogWriter(std::FILE* f, std::string path, WriterConfig config)
      : file_(f), path_(std::move(path)), config_(std::move(config)) {}
  std::FILE* file_ = nullptr;
  std::string path_;
  WriterConfig config_;
  std::string buf_;
};

}  // namespace aftk::eventlog
