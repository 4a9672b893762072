// SPDX-License-Identifier: Apache-2.0
// eventlog-dump: inputs, filters, output formats, --follow, --stats, --tree and --state-key;
// options -> configure -> build_config -> run (the read) -> report (what prints at the end).
#include "eventlog_dump.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "aftk/actionstate/ids.h"
#include "aftk/eventlog/analysis.h"
#include "aftk/eventlog/filter.h"
#include "aftk/eventlog/reader.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::tools::eventlog_dump {

namespace el = aftk::eventlog;
using cli::Format;

namespace {

constexpr const char* kDescription = R"(Read, filter, merge and summarise Flink Agents event logs.

Examples:
  eventlog-dump /tmp/flink-agents            every events-*/traces-*.log there, merged by time
  eventlog-dump --type _output_event --json events-*.log
  eventlog-dump --type 'my.*' --since -15m -f /tmp/flink-agents   (-f: --follow)
  eventlog-dump --key user-42 --status failed logs/     (keys need event-log.trace.enabled)
  eventlog-dump --field input~=timeout --field 'errorType=~Socket.*' events.log.gz
  eventlog-dump --fields timestamp,eventType,eventAttributes.input logs/
  eventlog-dump --raw --event-id 01af97ce-4f99-4587-81d9-aed46247aec1 logs/
  eventlog-dump --stats logs/             counts per type, key, level; torn and corrupt lines
  eventlog-dump --tree events.log         lineage from upstreamEventId/upstreamActionName
  eventlog-dump --state-key --type my_event events.log   action-state key of each event

Reads every upstream form: flat 0.4 records, 0.3.x nested and 0.2.x legacy records,
pretty-printed records and Trace Log (traces-*.log) records. Exit status 3 means the
input had torn or corrupt records (each is reported on stderr).
)";

struct Options {
  std::vector<std::string> inputs;
  std::vector<std::string> types, keys, event_ids, levels, statuses, predicates, fields;
  std::string since, until;
  cli::OutputOptions out;
  bool raw = false, follow = false, stats = false, tree = false, state_key = false, strict = false;
};

void configure(CLI::App& app, Options& o) {
  auto multi = [](CLI::Option* opt) {
    return opt->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->delimiter(',');
  };
  app.add_option("inputs", o.inputs,
                 "Event-log files, directories (their events-*/traces-*.log), '-' for stdin; .gz "
                 "is decompressed");
  multi(app.add_option("-t,--type", o.types,
                       "Event type, exact or glob ('my.*'); repeatable, comma-separated"));
  multi(app.add_option("-k,--key", o.keys, "Business key (present when trace fields were logged)"));
  multi(app.add_option("--event-id", o.event_ids, "Event id"));
  app.add_option("--since", o.since,
                 "Only records at or after: RFC 3339, a date, or relative (-15m, 2h, 1d)");
  app.add_option("--until", o.until, "Only records before: same forms as --since");
  multi(app.add_option("--level", o.levels, "Log level (STANDARD, VERBOSE; Trace Log detail)"));
  multi(app.add_option("--status", o.statuses,
                       "Lifecycle status (started, success, failed, reused)"));
  app.add_option(
         "--field", o.predicates,
         "Field predicate on a dotted path: path=value, path~=substring, path=~regex (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  multi(app.add_option("--fields", o.fields, "Output only these dotted paths (comma-separated)"));
  app.add_flag("--raw", o.raw, "Write each matching record's original bytes");
  app.add_flag("-f,--follow", o.follow,
               "Keep reading as the files grow; reopen a replaced file (like tail -F)");
  app.add_flag(
      "--stats", o.stats,
      "Print counts per type, key, level and status, the time span, torn and corrupt lines");
  app.add_flag("--tree", o.tree,
               "Print the lineage tree rebuilt from upstreamEventId/upstreamActionName");
  app.add_flag(
      "--state-key", o.state_key,
      "Print each event's UUID (from its attributes) and the action-state key pattern it maps to");
  app.add_flag("--strict", o.strict,
               "Stop at the first corrupt record instead of reporting and skipping it");
  cli::add_output_options(app, o.out);
}

// Buffered writes to io.out.
class Out {
 public:
  explicit Out(std::FILE* f) : f_(f) {}
  ~Out() { flush(); }
  std::string& buf() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= (1u << 16)) flush();
  }
  void flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), f_);
    buf_.clear();
    std::fflush(f_);
  }

 private:
  std::FILE* f_;
  std::string buf_;
};

const char* status_color(std::string_view s) {
  if (s == "failed") return "\033[31m";
  if (s == "success") return "\033[32m";
  if (s == "reused") return "\033[33m";
  return "\033[36m";
}

std::string short_id(std::string_view id) { return std::string(id.substr(0, 8)); }

std::string pad(std::string s, size_t width) {
  const size_t w = cli::display_width(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}

// Cuts UTF-8 text to at most `width` code points, marking the cut with '…'.
std::string clip(std::string_view s, size_t width) {
  size_t cps = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (cps == width - 1) {
        size_t rest = 0;
        for (size_t j = i; j < s.size(); ++j)
          rest += (static_cast<unsigned char>(s[j]) & 0xC0) != 0x80;
        if (rest > 1) return std::string(s.substr(0, i)) + "\xE2\x80\xA6";
        return std::string(s);
      }
      ++cps;
    }
  }
  return std::string(s);
}

class Dumper {
 public:
  Dumper(const Options& o, cli::Io& io, Format format, bool color)
      : o_(o), io_(io), format_(format), color_(color), out_(io.out) {
    for (const auto& f : o.fields) {
      std::vector<std::string> path;
      size_t start = 0;
      while (true) {
        size_t dot = f.find('.', start);
        path.push_back(f.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      field_paths_.push_back(std::move(path));
    }
  }

  void record(const el::Record& r) {
    if (o_.stats) {
      stats_.add(r);
      return;
    }
    if (o_.tree) {
      lineage_.add(r);
      return;
    }
    if (o_.state_key) {
      state_key(r);
      return;
    }
    std::string& b = out_.buf();
    if (o_.raw) {
      b.append(r.raw);
      b.push_back('\n');
    } else if (!o_.fields.empty()) {
      fields(r);
    } else if (format_ == Format::kJsonl || format_ == Format::kPrettyJson) {
      auto st = el::append_flat_json(r, b, format_ == Format::kPrettyJson);
      if (!st)
        cli::warning(io_, fmt::format("{}:{}: {}", source_name(r), r.line, st.error().message));
      b.push_back('\n');
    } else {
      table_row(r);
    }
    out_.maybe_flush();
  }

  void finish(std::uint64_t torn, std::uint64_t corrupt) {
    if (o_.stats) print_stats(torn, corrupt);
    if (o_.tree) print_tree();
    if (table_) {
      table_->print(io_.out == nullptr ? stdout : io_.out, color_);
      table_.reset();
    }
    if (o_.state_key && truncated_uuids_ > 0)
      cli::warning(
          io_,
          fmt::format("{} event(s) have truncated attributes: their event UUIDs cannot match the "
                      "state keys (log them at VERBOSE to get exact ones)",
                      truncated_uuids_));
    out_.flush();
  }

  void flush() { out_.flush(); }
  std::vector<std::string> names;

 private:
  // Ends the JSON value written into `b` from `start`: re-indented for -o pretty, then '\n'.
  void end_json(std::string& b, size_t start) const {
    if (format_ == Format::kPrettyJson) {
      std::string indented = json::pretty(std::string_view(b).substr(start));
      b.resize(start);
      b.append(indented);
    }
    b.push_back('\n');
  }

  std::string source_name(const el::Record& r) const {
    return r.source < names.size() ? names[r.source] : "?";
  }

  void fields(const el::Record& r) {
    std::string& b = out_.buf();
    if (format_ == Format::kTable) {
      if (!table_) {
        table_.emplace();
        for (const auto& f : o_.fields) table_->add_column(f);
      }
      std::vector<std::string> row;
      for (const auto& p : field_paths_)
        row.push_back(clip(el::field_text(r, p).value_or("-"), 60));
      table_->add_row(std::move(row));
      return;
    }
    const size_t json_start = b.size();
    json::Writer w(b);
    w.begin_object();
    for (size_t i = 0; i < field_paths_.size(); ++i)
      w.raw_field(o_.fields[i], el::field_json(r, field_paths_[i]).value_or("null"));
    w.end_object();
    end_json(b, json_start);
  }

  void table_row(const el::Record& r) {
    std::string& b = out_.buf();
    auto paint = [&](const char* code, std::string_view text) {
      if (color_) {
        b.append(code);
        b.append(text);
        b.append("\033[0m");
      } else {
        b.append(text);
      }
    };
    if (!header_done_) {
      header_done_ = true;
      const std::string h =
          pad("TIMESTAMP", 31) + pad("LEVEL", 9) + pad("TYPE", 29) + "EVENT     KEY / DETAILS";
      paint("\033[1m", h);
      b.push_back('\n');
    }
    b.append(pad(r.timestamp, 31));
    if (r.level == "VERBOSE")
      paint("\033[2m", pad(r.level, 9));
    else
      b.append(pad(r.level.empty() ? "-" : r.level, 9));
    paint("\033[1m", pad(clip(r.event_type, 28), 29));
    b.append(pad(short_id(r.event_id), 10));
    std::string details;
    if (r.business_key) details += *r.business_key + "  ";
    if (r.status) {
      b.append(details);
      details.clear();
      paint(status_color(*r.status), *r.status);
      b.append("  ");
    }
    if (r.problem_category) details += *r.problem_category + "  ";
    if (r.upstream_action_name) details += "<- " + *r.upstream_action_name + "  ";
    std::string attrs = r.attributes;
    if (r.pretty) {
      if (auto n = json::normalize(r.attributes, {json::Escape::kRawUnicode, false})) attrs = *n;
    }
    details += attrs;
    b.append(clip(details, 100));
    if (r.truncated()) paint("\033[35m", " [truncated]");
    if (r.type_quirk) paint("\033[33m", " [type field truncated by 0.3.1]");
    b.push_back('\n');
  }

  void state_key(const el::Record& r) {
    auto attrs = r.event_attributes();
    std::string uuid = "-";
    if (attrs) {
      if (auto u = actionstate::event_uuid(*attrs)) uuid = *u;
    }
    const bool truncated = r.truncated();
    if (truncated) ++truncated_uuids_;
    const std::string pattern =
        (r.business_key ? *r.business_key : std::string("*")) + "_*_" + uuid + "_*";
    if (format_ == Format::kTable) {
      if (!table_) {
        table_.emplace();
        for (const char* h : {"TIMESTAMP", "TYPE", "EVENT", "EVENT UUID", "STATE KEY PATTERN"})
          table_->add_column(h);
      }
      table_->add_row({r.timestamp, clip(r.event_type, 40), short_id(r.event_id),
                       uuid + (truncated ? " !" : ""), pattern});
      return;
    }
    std::string& b = out_.buf();
    const size_t json_start = b.size();
    json::Writer(b)
        .begin_object()
        .field("timestamp", r.timestamp)
        .field("eventId", r.event_id)
        .field("eventType", r.event_type)
        .field("businessKey", r.business_key)
        .field("eventUUID", uuid)
        .field("keyPattern", pattern)
        .field("attributesTruncated", truncated)
        .end_object();
    end_json(b, json_start);
  }

  static void json_counts(json::Writer& w, const char* name,
                          const std::map<std::string, std::uint64_t>& m) {
    w.key(name).begin_object();
    for (const auto& [k, v] : m) w.field(k, v);
    w.end_object();
  }

  void print_stats(std::uint64_t torn, std::uint64_t corrupt) {
    const el::Stats& s = stats_;
    std::string& b = out_.buf();
    if (format_ != Format::kTable) {
      const size_t json_start = b.size();
      json::Writer w(b);
      w.begin_object()
          .field("records", s.records)
          .field("truncated", s.truncated)
          .field("torn", torn)
          .field("corrupt", corrupt);
      w.key("first");
      if (s.first_ns)
        w.value(s.first_timestamp);
      else
        w.null();
      w.key("last");
      if (s.last_ns)
        w.value(s.last_timestamp);
      else
        w.null();
      w.field("spanSeconds",
              s.first_ns ? static_cast<double>(*s.last_ns - *s.first_ns) / 1e9 : 0.0);
      json_counts(w, "byType", s.by_type);
      json_counts(w, "byKey", s.by_key);
      json_counts(w, "byLevel", s.by_level);
      json_counts(w, "byStatus", s.by_status);
      json_counts(w, "byForm", s.by_form);
      w.end_object();
      end_json(b, json_start);
      return;
    }
    b.append(fmt::format("records    {}\ntruncated  {}\ntorn       {}\ncorrupt    {}\n", s.records,
                         s.truncated, torn, corrupt));
    if (s.first_ns)
      b.append(fmt::format("first      {}\nlast       {}\nspan       {:.3f} s\n", s.first_timestamp,
                           s.last_timestamp, static_cast<double>(*s.last_ns - *s.first_ns) / 1e9));
    out_.flush();
    auto section = [&](const char* title, const std::map<std::string, std::uint64_t>& m) {
      if (m.empty()) return;
      std::fputc('\n', io_.out);
      cli::Table t;
      t.add_column(title);
      t.add_column("RECORDS", cli::Table::Align::kRight);
      std::vector<std::pair<std::string, std::uint64_t>> rows(m.begin(), m.end());
      // Most records first, then by name (the map's order); not std::stable_sort, whose
      // libstdc++ 12 form clang 19 warns about (deprecated get_temporary_buffer).
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& c) {
        return a.second != c.second ? a.second > c.second : a.first < c.first;
      });
      for (const auto& [k, v] : rows) t.add_row({k, std::to_string(v)});
      t.print(io_.out, color_);
    };
    section("TYPE", s.by_type);
    section("KEY", s.by_key);
    section("LEVEL", s.by_level);
    section("STATUS", s.by_status);
    section("FORM", s.by_form);
  }

  void print_tree() {
    lineage_.link();
    std::string& b = out_.buf();
    struct Item {
      size_t node;
      std::string prefix;
      bool last;
      int depth;
    };
    std::vector<Item> stack;
    for (size_t i = lineage_.roots.size(); i-- > 0;)
      stack.push_back({lineage_.roots[i], "", true, 0});
    while (!stack.empty()) {
      Item it = std::move(stack.back());
      stack.pop_back();
      const el::TreeNode& n = lineage_.nodes[it.node];
      if (format_ != Format::kTable) {
        const size_t json_start = b.size();
        json::Writer(b)
            .begin_object()
            .field("depth", it.depth)
            .field("eventId", n.event_id)
            .field("eventType", n.event_type)
            .field("timestamp", n.timestamp)
            .field("upstreamEventId", n.upstream_event_id)
            .field("upstreamActionName", n.upstream_action_name)
            .field("children", n.children.size())
            .end_object();
        end_json(b, json_start);
      } else {
        std::string line;
        std::string child_prefix;
        if (it.depth == 0) {
          line = n.timestamp + "  ";
        } else {
          line = it.prefix + (it.last ? "\xE2\x94\x94\xE2\x94\x80 " : "\xE2\x94\x9C\xE2\x94\x80 ");
          if (n.upstream_action_name) line += *n.upstream_action_name + " \xE2\x86\x92 ";
        }
        child_prefix = it.depth == 0 ? "" : it.prefix + (it.last ? "   " : "\xE2\x94\x82  ");
        b.append(line);
        if (color_) b.append("\033[1m");
        b.append(n.event_type);
        if (color_) b.append("\033[0m");
        b.append("  ");
        b.append(short_id(n.event_id));
        if (it.depth == 0 && n.upstream_event_id)
          b.append(fmt::format("  (upstream {} not in input)", short_id(*n.upstream_event_id)));
        b.push_back('\n');
        it.prefix = child_prefix;
      }
      for (size_t c = n.children.size(); c-- > 0;)
        stack.push_back({n.children[c], it.prefix, c + 1 == n.children.size(), it.depth + 1});
      out_.maybe_flush();
    }
  }

  const Options& o_;
  cli::Io& io_;
  Format format_;
  bool color_;
  Out out_;
  std::vector<std::vector<std::string>> field_paths_;
  std::optional<cli::Table> table_;
  bool header_done_ = false;
  el::Stats stats_;
  el::Lineage lineage_;
  std::uint64_t truncated_uuids_ = 0;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<el::Filter> build_filter(const Options& o) {
  el::Filter f;
  f.types = o.types;
  f.keys = o.keys;
  f.event_ids = o.event_ids;
  f.levels = o.levels;
  f.statuses = o.statuses;
  const std::int64_t now = now_ns();
  if (!o.since.empty()) {
    AFTK_TRY_ASSIGN(f.since_ns, el::parse_time_bound(o.since, now));
  }
  if (!o.until.empty()) {
    AFTK_TRY_ASSIGN(f.until_ns, el::parse_time_bound(o.until, now));
  }
  for (const auto& p : o.predicates) {
    AFTK_TRY_ASSIGN(auto pred, el::FieldPredicate::parse(p));
    f.fields.push_back(std::move(pred));
  }
  return f;
}

Result<std::vector<std::string>> expand_inputs(const Options& o, const cli::Io& io,
                                               std::vector<std::string>& dirs) {
  std::vector<std::string> files;
  for (const auto& in : o.inputs) {
    std::error_code ec;
    if (in != "-" && std::filesystem::is_directory(in, ec)) {
      dirs.push_back(in);
      AFTK_TRY_ASSIGN(auto listed, el::list_log_files(in));
      if (listed.empty() && o.follow)
        cli::note(io, fmt::format("no event logs in '{}' yet; waiting for them", in));
      else if (listed.empty())
        cli::warning(io, fmt::format("no event logs (events-*.log, traces-*.log) in '{}'", in));
      files.insert(files.end(), listed.begin(), listed.end());
    } else {
      files.push_back(in);
    }
  }
  return files;
}

// What the run needs, checked: the filter built, directories expanded into their logs.
struct Config {
  Options options;
  el::Filter filter;
  std::vector<std::string> files;
  std::vector<std::string> dirs;  // directories given: --follow picks up new logs in them
  Format format = Format::kJsonl;
  bool color = false;
};

// Returns the exit code of a usage error (or of an unreadable directory), or nullopt with
// `config` filled.
std::optional<int> build_config(const Options& o, const cli::Io& io, Config& config) {
  const int modes =
      int(o.stats) + int(o.tree) + int(o.state_key) + int(o.raw) + int(!o.fields.empty());
  if (modes > 1) {
    cli::error(io, "--stats, --tree, --state-key, --raw and --fields cannot be combined");
    return cli::kExitUsage;
  }
  if (o.follow && (o.stats || o.tree)) {
    cli::error(io, "--follow cannot be combined with --stats or --tree (they print at the end)");
    return cli::kExitUsage;
  }
  if (o.inputs.empty()) {
    cli::error(io, "no input: give event-log files, directories, or '-' for stdin");
    std::fprintf(io.err, "Try '%s --help' for more information.\n", io.tool.c_str());
    return cli::kExitUsage;
  }
  auto filter = build_filter(o);
  if (!filter) {
    cli::error(io, filter.error().message);
    return cli::kExitUsage;
  }
  auto files = expand_inputs(o, io, config.dirs);
  if (!files) return cli::report_error(io, files.error());
  config.options = o;
  config.filter = std::move(*filter);
  config.files = std::move(*files);
  config.format = cli::resolve_format(o.out, io);
  config.color = cli::resolve_color(o.out, io);
  return std::nullopt;
}

// How the read ended.
struct Outcome {
  std::uint64_t problems = 0;  // torn and corrupt records reported on the way
  std::uint64_t torn = 0, corrupt = 0;
  bool interrupted = false;
};

Result<Outcome> run(const Config& config, cli::Io& io, Dumper& dumper) {
  const Options& o = config.options;
  const el::Filter& filter = config.filter;
  Outcome outcome;
  el::ReadOptions ro;
  ro.strict = o.strict;
  ro.follow = o.follow;
  ro.on_problem = [&](const el::Problem& p) {
    ++outcome.problems;
    cli::warning(io, p.to_string());
  };
  std::vector<std::unique_ptr<el::Reader>> readers;
  std::uint64_t total_bytes = 0;
  std::set<std::string> opened;
  auto add_reader = [&](const std::string& f) -> Status {
    ro.needles = filter.needles(el::needle_scope_for(f));
    AFTK_TRY_ASSIGN(auto r, el::Reader::open(f, ro));
    struct stat st {};
    if (f != "-" && ::stat(f.c_str(), &st) == 0)
      total_bytes += static_cast<std::uint64_t>(st.st_size);
    dumper.names.push_back(r->name());
    readers.push_back(std::move(r));
    opened.insert(f);
    return {};
  };
  for (const auto& f : config.files) AFTK_TRY(add_reader(f));
  // tail -F on a directory: logs created there after the start are read from their start.
  auto pick_up_new_logs = [&]() -> Status {
    for (const auto& dir : config.dirs) {
      auto listed = el::list_log_files(dir);
      if (!listed) continue;  // gone for now: keep waiting
      for (const auto& f : *listed)
        if (!opened.count(f)) AFTK_TRY(add_reader(f));
    }
    return {};
  };
  auto counts = [&](auto& list) {
    for (const auto& r : list) {
      outcome.torn += r->torn_records();
      outcome.corrupt += r->corrupt_records();
    }
  };
  // A record whose timestamp does not parse cannot be placed against --since/--until: it is
  // reported and counted (exit 3), not silently dropped.
  const bool bounded = filter.since_ns.has_value() || filter.until_ns.has_value();
  auto wanted = [&](const el::Record& r) {
    if (bounded && !r.time_ns) {
      ++outcome.problems;
      cli::warning(io, fmt::format("{}:{}: timestamp '{}' does not parse; --since and --until "
                                   "cannot place the record, so it is left out",
                                   dumper.names[r.source], r.line, r.timestamp));
      return false;
    }
    return filter.matches(r);
  };
  el::Record rec;
  std::uint64_t n = 0;
  if (o.follow) {
    for (;;) {
      bool any = false, all_ended = true;
      for (size_t i = 0; i < readers.size(); ++i) {
        for (;;) {
          AFTK_TRY_ASSIGN(auto next, readers[i]->next(rec));
          if (next != el::Reader::Next::kRecord) {
            if (next == el::Reader::Next::kIdle) all_ended = false;
            break;
          }
          any = true;
          rec.source = i;
          if (wanted(rec)) dumper.record(rec);
          if (cli::interrupted()) break;
        }
      }
      dumper.flush();
      if (cli::interrupted()) {
        outcome.interrupted = true;
        return outcome;
      }
      if (all_ended && config.dirs.empty()) break;
      if (!any) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        AFTK_TRY(pick_up_new_logs());
      }
    }
    counts(readers);
    return outcome;
  }
  el::MergedReader merged(std::move(readers));
  // Progress on a terminal only when it does not interleave with records on the same terminal.
  cli::Io progress_io = io;
  if (!o.stats && !o.tree && io.out_tty) progress_io.quiet = true;
  cli::Progress progress(progress_io, "reading");
  for (;;) {
    AFTK_TRY_ASSIGN(const bool more, merged.next(rec));
    if (!more) break;
    if (wanted(rec)) dumper.record(rec);
    if ((++n & 0xFFF) == 0) {
      if (cli::interrupted()) {
        outcome.interrupted = true;
        return outcome;
      }
      std::uint64_t read = 0;
      for (const auto& r : merged.readers()) read += r->bytes_read();
      progress.update(read, total_bytes, "bytes");
    }
  }
  progress.finish();
  counts(merged.readers());
  return outcome;
}

// Prints what is printed at the end (stats, tree, a table) and returns the exit code.
int report(Dumper& dumper, const Outcome& outcome, const cli::Io& io) {
  if (outcome.interrupted) return cli::kExitInterrupted;
  dumper.finish(outcome.torn, outcome.corrupt);
  if (std::ferror(io.out)) {
    cli::error(io, "cannot write output");
    return cli::kExitFailure;
  }
  return outcome.problems > 0 ? cli::kExitProblems : cli::kExitOk;
}

}  // namespace

int main(int argc, const char* const* argv, cli::Io& io) {
  return cli::guarded(io, [&] {
    Options o;
    CLI::App app(kDescription, "eventlog-dump");
    app.set_version_flag("--version", [] { return std::string(); });
    configure(app, o);
    if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
    io.quiet = o.out.quiet;
    Config config;
    if (auto rc = build_config(o, io, config)) return *rc;
    Dumper dumper(config.options, io, config.format, config.color);
    auto outcome = run(config, io, dumper);
    if (!outcome) return cli::report_error(io, outcome.error());
    return report(dumper, *outcome, io);
  });
}

}  // namespace aftk::tools::eventlog_dump
