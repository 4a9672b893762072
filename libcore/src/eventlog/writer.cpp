// SPDX-License-Identifier: Apache-2.0
// FileEventLogger's record layout, levels, truncation and file naming, for main and 0.3.x.
#include "aftk/eventlog/writer.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "aftk/eventlog/record.h"
#include "dom.h"

namespace aftk::eventlog {

using detail::Node;

std::string_view level_name(Level level) noexcept {
  switch (level) {
    case Level::kOff:
      return "OFF";
    case Level::kStandard:
      return "STANDARD";
    case Level::kVerbose:
      return "VERBOSE";
  }
  return "STANDARD";
}

Result<Level> parse_level(std::string_view text) {
  std::string up(text);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "OFF") return Level::kOff;
  if (up == "STANDARD") return Level::kStandard;
  if (up == "VERBOSE") return Level::kVerbose;
  return fail(
      Errc::kInvalidArgument,
      fmt::format("invalid event log level '{}': valid values are OFF, STANDARD, VERBOSE", text));
}

namespace {

// Integer.parseInt: optional sign, decimal digits, int range; anything else keeps the default.
int parse_int_or(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return fallback;
  long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return fallback;
    v = v * 10 + (s[i] - '0');
    if (v > 2147483648LL) return fallback;
  }
  if (s[0] == '-') v = -v;
  if (v > 2147483647LL || v < -2147483648LL) return fallback;
  return static_cast<int>(v);
}

}  // namespace

Result<WriterConfig> WriterConfig::from_agent_config(
    const std::map<std::string, std::string>& conf) {
  WriterConfig c;
  constexpr std::string_view kPrefix = "event-log.type.", kSuffix = ".level";
  for (const auto& [key, value] : conf) {
    if (key == "event-log.level") {
      AFTK_TRY_ASSIGN(c.level, parse_level(value));
    } else if (key == "event-log.standard.max-string-length") {
      c.max_string_length = parse_int_or(value, 2000);
    } else if (key == "event-log.standard.max-array-elements") {
      c.max_array_elements = parse_int_or(value, 20);
    } else if (key == "event-log.standard.max-depth") {
      c.max_depth = parse_int_or(value, 5);
    } else if (key == "prettyPrint") {
      c.pretty = value == "true" || value == "TRUE" || value == "True";
    } else if (key.size() > kPrefix.size() + kSuffix.size() && key.starts_with(kPrefix) &&
               key.ends_with(kSuffix)) {
      AFTK_TRY_ASSIGN(Level l, parse_level(value));
      c.type_levels[key.substr(kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size())] = l;
    }
  }
  return c;
}

Level WriterConfig::resolve(std::string_view type) const {
  if (type.empty()) return level;
  if (auto it = type_levels.find(type); it != type_levels.end()) return it->second;
  std::string_view cur = type;
  for (auto dot = cur.rfind('.'); dot != std::string_view::npos && dot > 0; dot = cur.rfind('.')) {
    cur = cur.substr(0, dot);
    if (auto it = type_levels.find(cur); it != type_levels.end()) return it->second;
  }
  return level;
}

namespace {

Result<Node> parse_object(std::string_view json, std::string_view what) {
  auto r = detail::parse(json.empty() ? std::string_view("{}") : json);
  if (!r) return fail(Errc::kInvalidArgument, fmt::format("{}: {}", what, r.error().message));
  if (r->kind != Node::Kind::kObject)
    return fail(Errc::kInvalidArgument, fmt::format("{} must be a JSON object", what));
  return std::move(r).value();
}

// String.valueOf(attribute) for the lifted lifecycle fields; null stays absent.
std::optional<std::string> lifecycle_text(const Node* n) {
  if (n == nullptr || n->kind == Node::Kind::kNull) return std::nullopt;
  if (n->kind == Node::Kind::kString || n->kind == Node::Kind::kNumber ||
      n->kind == Node::Kind::kBool)
    return n->text;
  std::string s;
  detail::write_compact(*n, s);
  return s;
}

void put_opt(Node& root, const char* key, const std::optional<std::string>& v) {
  if (v) root.members.emplace_back(key, Node::string(*v));
}

detail::Truncator truncator(const WriterConfig& c) {
  return detail::Truncator{c.max_string_length, c.max_array_elements, c.max_depth};
}

}  // namespace

Result<std::string> truncate_attributes(std::string_view attributes_json,
                                        const WriterConfig& config) {
  AFTK_TRY_ASSIGN(Node attrs, parse_object(attributes_json, "event attributes"));
  if (config.layout == WriterConfig::Layout::kNested031) {
    Node event = Node::object();
    event.members.emplace_back("attributes", std::move(attrs));
    truncator(config).truncate_event_031(event);
    attrs = std::move(event.members[0].value);
  } else {
    truncator(config).truncate_payload(attrs);
  }
  std::string out;
  detail::write_compact(attrs, out);
  return out;
}

Result<bool> format_record(const LogEvent& e, const WriterConfig& config, std::string& out) {
  const Level level = config.resolve(e.event_type);
  if (level == Level::kOff) return false;
  AFTK_TRY_ASSIGN(Node attrs, parse_object(e.attributes_json, "event attributes"));
  const std::string timestamp =
      e.timestamp.empty() ? format_instant(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count())
                          : e.timestamp;
  Node root = Node::object();
  root.members.emplace_back("timestamp", Node::string(timestamp));
  root.members.emplace_back("logLevel", Node::string(std::string(level_name(level))));

  if (config.layout == WriterConfig::Layout::kNested031) {
    root.members.emplace_back("eventType", Node::string(e.event_type));
    Node event = Node::object();
    event.members.emplace_back("eventType", Node::string(e.event_type));
    event.members.emplace_back("id", Node::string(e.event_id));
    event.members.emplace_back("attributes", std::move(attrs));
    event.members.emplace_back("type", Node::string(e.event_type));
    if (level == Level::kStandard) truncator(config).truncate_event_031(event);
    root.members.emplace_back("event", std::move(event));
  } else {
    if (e.trace) {
      const TraceContext& t = *e.trace;
      put_opt(root, "inputRunId", t.input_run_id);
      put_opt(root, "businessKey", t.business_key);
      put_opt(root, "agentName", t.agent_name);
      put_opt(root, "executionId", t.execution_id);
      put_opt(root, "parentExecutionId", t.parent_execution_id);
      put_opt(root, "entityType", t.entity_type);
      put_opt(root, "entityName", t.entity_name);
      if (!t.entity_metadata_json.empty()) {
        AFTK_TRY_ASSIGN(Node meta, parse_object(t.entity_metadata_json, "entity metadata"));
        if (!meta.members.empty()) root.members.emplace_back("entityMetadata", std::move(meta));
      }
    }
    root.members.emplace_back("eventId", Node::string(e.event_id));
    root.members.emplace_back("eventType", Node::string(e.event_type));
    put_opt(root, "upstreamEventId", e.upstream_event_id);
    put_opt(root, "upstreamActionName", e.upstream_action_name);
    if (is_lifecycle_type(e.event_type)) {
      put_opt(root, "status", lifecycle_text(attrs.find("status")));
      put_opt(root, "problemCategory", lifecycle_text(attrs.find("problemCategory")));
      attrs.remove("status");
      attrs.remove("problemCategory");
    }
    if (level == Level::kStandard) truncator(config).truncate_payload(attrs);
    root.members.emplace_back("eventAttributes", std::move(attrs));
  }
  if (config.pretty)
    detail::write_pretty(root, out);
  else
    detail::write_compact(root, out);
  out.push_back('\n');
  return true;
}

std::string log_file_name(std::string_view job_id, std::string_view task_name, int subtask) {
  std::string task(task_name);
  for (char& c : task)
    if (std::strchr("\\/:*?\"<>|", c) != nullptr && c != '\0') c = '_';
  return fmt::format("events-{}-{}-{}.log", job_id, task, subtask);
}

Result<EventLogWriter> EventLogWriter::open(const std::string& dir, std::string_view job_id,
                                            std::string_view task_name, int subtask,
                                            WriterConfig config) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return fail(Errc::kIo,
                fmt::format("cannot create event log directory '{}': {}", dir, ec.message()));
  return open_path(
      (std::filesystem::path(dir) / log_file_name(job_id, task_name, subtask)).string(),
      std::move(config));
}

Result<EventLogWriter> EventLogWriter::open_path(const std::string& path, WriterConfig config) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr)
    return fail(Errc::kIo,
                fmt::format("cannot open event log '{}': {}", path, std::strerror(errno)));
  return EventLogWriter(f, path, std::move(config));
}

EventLogWriter::EventLogWriter(EventLogWriter&& o) noexcept
    : file_(o.file_),
      path_(std::move(o.path_)),
      config_(std::move(o.config_)),
      buf_(std::move(o.buf_)) {
  o.file_ = nullptr;
}

EventLogWriter& EventLogWriter::operator=(EventLogWriter&& o) noexcept {
  if (this != &o) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = o.file_;
    o.file_ = nullptr;
    path_ = std::move(o.path_);
    config_ = std::move(o.config_);
    buf_ = std::move(o.buf_);
  }
  return *this;
}

EventLogWriter::~EventLogWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<bool> EventLogWriter::append(const LogEvent& event) {
  if (file_ == nullptr) return fail(Errc::kInvalidArgument, "event log writer is closed", path_);
  buf_.clear();
  AFTK_TRY_ASSIGN(bool written, format_record(event, config_, buf_));
  if (!written) return false;
  if (std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size() || std::fflush(file_) != 0)
    return fail(Errc::kIo,
                fmt::format("cannot write event log '{}': {}", path_, std::strerror(errno)));
  return true;
}

Status EventLogWriter::close() {
  if (file_ == nullptr) return {};
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0)
    return fail(Errc::kIo,
                fmt::format("cannot close event log '{}': {}", path_, std::strerror(errno)));
  return {};
}

}  // namespace aftk::eventlog
