// SPDX-License-Identifier: Apache-2.0
// Cleanup plans: built from versioned markers, written as upstream writes them, parsed strictly.
#include "aftk/actionstate/cleanup_plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/actionstate/ids.h"
#include "aftk/detail/files.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::actionstate {

namespace od = simdjson::ondemand;

namespace {

Unexpected bad_plan(std::string why) {
  return fail(Errc::kInvalidArgument, "invalid cleanup plan: " + why);
}
Unexpected bad_record(std::string why) {
  return fail(Errc::kInvalidArgument, "invalid cleanup control record: " + why);
}

// Java's String.trim() drops every char up to U+0020 at both ends: blank means nothing else.
bool blank(std::string_view s) {
  for (unsigned char c : s)
    if (c > 0x20) return false;
  return true;
}

// The fields of plan.json in the order upstream writes them.
constexpr std::string_view kPlanFields[] = {"schemaVersion", "planId", "sourceRecoveryPoint",
                                            "topic", "topicId", "offsets"};

std::string field_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const auto& n : names) {
    if (out.size() > 1) out += ", ";
    out += n;
  }
  return out + "]";
}

// An integral JSON number (no fraction, no exponent) that fits an int64, as Jackson's
// isIntegralNumber() && canConvertToLong() accept it.
enum class IntRead { kOk, kNotIntegral, kTooLarge };
IntRead read_integral(od::value v, std::int64_t& out) {
  od::json_type t{};
  if (v.type().get(t) || t != od::json_type::number) return IntRead::kNotIntegral;
  std::string_view tok = v.raw_json_token();
  while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t' || tok.back() == '\n' ||
                          tok.back() == '\r'))
    tok.remove_suffix(1);
  if (tok.find_first_of(".eE") != std::string_view::npos) return IntRead::kNotIntegral;
  const auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  if (ec == std::errc::result_out_of_range) return IntRead::kTooLarge;
  if (ec != std::errc() || p != tok.data() + tok.size()) return IntRead::kNotIntegral;
  return IntRead::kOk;
}

// A decimal partition key as Integer.parseInt reads it and Integer.toString writes it back.
bool canonical_partition(std::string_view key, std::int64_t& p) {
  std::string_view digits = key;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 10) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  if (digits.size() > 1 && digits.front() == '0') return false;
  if (key == "-0") return false;
  const auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), p);
  return ec == std::errc() && p >= INT32_MIN && p <= INT32_MAX;
}

// Calls on_member(key, value) for each member of `obj`, refusing duplicate keys as Jackson's
// STRICT_DUPLICATE_DETECTION does. Errors: through `bad`, or on_member's.
template <class F>
Status for_each_member(od::object obj, Unexpected (*bad)(std::string), std::string_view in,
                       F&& on_member) {
  std::set<std::string, std::less<>> seen;
  for (auto fr : obj) {
    od::field fld;
    if (std::move(fr).get(fld)) return bad("malformed JSON");
    std::string_view key;
    if (fld.unescaped_key().get(key)) return bad("malformed JSON");
    if (!seen.emplace(key).second) return bad(fmt::format("duplicate key \"{}\"{}", key, in));
    AFTK_TRY(on_member(key, fld.value()));
  }
  return {};
}

// One field of a plan object as read, before the checks that need all of them.
struct PlanFields {
  std::vector<std::string> names;  // in document order
  std::optional<std::int64_t> schema;
  std::string schema_problem;
  std::optional<std::string> strings[4];  // planId, sourceRecoveryPoint, topic, topicId
  std::string string_problem[4];
  OffsetMap offsets;
  std::string offsets_problem;
};

int string_slot(std::string_view key) {
  if (key == "planId") return 0;
  if (key == "sourceRecoveryPoint") return 1;
  if (key == "topic") return 2;
  if (key == "topicId") return 3;
  return -1;
}

Status read_offsets(od::value v, PlanFields& f) {
  od::json_type t{};
  if (v.type().get(t)) return bad_plan("malformed JSON");
  if (t == od::json_type::null) {
    f.offsets_problem = "offsets is missing (null)";
    return {};
  }
  if (t != od::json_type::object) {
    f.offsets_problem = "offsets must be an object";
    return {};
  }
  od::object obj;
  if (v.get_object().get(obj)) return bad_plan("malformed JSON");
  const auto member = [&](std::string_view key, od::value v) -> Status {
    if (!f.offsets_problem.empty()) return {};
    std::int64_t off = 0;
    const IntRead r = read_integral(v, off);
    if (r != IntRead::kOk) {
      f.offsets_problem = fmt::format("the offset of partition {} must be an integer{}", key,
                                      r == IntRead::kTooLarge ? " that fits a long" : "");
      return {};
    }
    std::int64_t p = 0;
    if (!canonical_partition(key, p)) {
      f.offsets_problem = fmt::format("partition \"{}\" is not a canonical decimal int", key);
      return {};
    }
    f.offsets.emplace(static_cast<std::int32_t>(p), off);
    return {};
  };
  return for_each_member(obj, bad_plan, " in offsets", member);
}

// Reads the members of a plan object; errors here are malformed JSON and duplicate keys.
Status read_plan_fields(od::object obj, PlanFields& f) {
  return for_each_member(obj, bad_plan, "", [&](std::string_view key, od::value v) -> Status {
    f.names.emplace_back(key);
    if (key == "offsets") {
      AFTK_TRY(read_offsets(v, f));
    } else if (key == "schemaVersion") {
      od::json_type t{};
      if (v.type().get(t)) return bad_plan("malformed JSON");
      std::int64_t s = 0;
      if (t == od::json_type::null)
        f.schema_problem = "schemaVersion is missing (null)";
      else if (read_integral(v, s) != IntRead::kOk || s < INT32_MIN || s > INT32_MAX)
        f.schema_problem = "schemaVersion must be an integer";
      else
        f.schema = s;
    } else if (const int slot = string_slot(key); slot >= 0) {
      od::json_type t{};
      if (v.type().get(t)) return bad_plan("malformed JSON");
      std::string_view s;
      if (t == od::json_type::null)
        f.string_problem[slot] = fmt::format("{} is missing (null)", key);
      else if (t != od::json_type::string)
        f.string_problem[slot] = fmt::format("{} must be a string", key);
      else if (v.get_string().get(s))
        return bad_plan(fmt::format("{} is not a valid JSON string", key));
      else
        f.strings[slot] = std::string(s);
    }
    return {};
  });
}

// The checks upstream's fromJson makes once the members are read, in its order.
Result<CleanupPlan> plan_from_fields(PlanFields f) {
  std::vector<std::string> sorted = f.names;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> want(std::begin(kPlanFields), std::end(kPlanFields));
  std::vector<std::string> want_sorted = want;
  std::sort(want_sorted.begin(), want_sorted.end());
  if (sorted != want_sorted)
    return bad_plan(fmt::format("the fields must be exactly {}, not {}", field_list(want),
                                field_list(f.names)));
  if (!f.offsets_problem.empty()) return bad_plan(f.offsets_problem);
  if (!f.schema_problem.empty()) return bad_plan(f.schema_problem);
  for (int i = 0; i < 4; ++i)
    if (!f.string_problem[i].empty()) return bad_plan(f.string_problem[i]);
  CleanupPlan plan;
  plan.schema_version = static_cast<int>(*f.schema);
  plan.plan_id = std::move(*f.strings[0]);
  plan.source_recovery_point = std::move(*f.strings[1]);
  plan.topic = std::move(*f.strings[2]);
  plan.topic_id = std::move(*f.strings[3]);
  plan.offsets = std::move(f.offsets);
  AFTK_TRY(validate_plan(plan));
  return plan;
}

void append_offsets(std::string& out, const OffsetMap& offsets, bool pretty) {
  if (!pretty) {
    out.push_back('{');
    for (const auto& [p, o] : offsets) {
      if (out.back() != '{') out.push_back(',');
      fmt::format_to(std::back_inserter(out), "\"{}\":{}", p, o);
    }
    out.push_back('}');
    return;
  }
  // Jackson's DefaultPrettyPrinter: an empty object is "{ }"; a plan never has one.
  if (offsets.empty()) {
    out += "{ }";
    return;
  }
  out += "{\n";
  bool first = true;
  for (const auto& [p, o] : offsets) {
    if (!first) out += ",\n";
    first = false;
    fmt::format_to(std::back_inserter(out), "    \"{}\" : {}", p, o);
  }
  out += "\n  }";
}

std::string plan_json(const CleanupPlan& plan, bool pretty) {
  // Jackson writes to a String here (writeValueAsString), so characters outside the BMP stay
  // raw UTF-8 rather than becoming surrogate escapes.
  const auto mode = json::Escape::kRawUnicode;
  const char* sep = pretty ? ",\n  " : ",";
  const char* colon = pretty ? " : " : ":";
  std::string out = pretty ? "{\n  " : "{";
  fmt::format_to(std::back_inserter(out), "\"schemaVersion\"{}{}{}", colon, plan.schema_version,
                 sep);
  const std::pair<std::string_view, const std::string*> strings[] = {
      {"planId", &plan.plan_id},
      {"sourceRecoveryPoint", &plan.source_recovery_point},
      {"topic", &plan.topic},
      {"topicId", &plan.topic_id}};
  for (const auto& [name, value] : strings) {
    fmt::format_to(std::back_inserter(out), "\"{}\"{}", name, colon);
    json::append_string(out, *value, mode);
    out += sep;
  }
  fmt::format_to(std::back_inserter(out), "\"offsets\"{}", colon);
  append_offsets(out, plan.offsets, pretty);
  out += pretty ? "\n}" : "}";
  return out;
}

// One JSON document that must be a single object: opens it into `obj`. Errors: "malformed
// JSON" or "expected one JSON object", through `bad`.
struct ObjectDoc {
  od::parser parser;
  json::PaddedBuffer buf;
  od::document doc;
  od::object obj;

  Status open(std::string_view text, Unexpected (*bad)(std::string)) {
    if (parser.iterate(buf.wrap(text)).get(doc)) return bad("malformed JSON");
    od::json_type t{};
    if (doc.type().get(t)) return bad("malformed JSON");
    if (t != od::json_type::object) return bad("expected one JSON object");
    if (doc.get_object().get(obj)) return bad("malformed JSON");
    return {};
  }
  /// Whether anything but whitespace follows the object (call once it was read to its end).
  bool trailing() { return !doc.current_location().error(); }
};

}  // namespace

std::string cleanup_plan_id(std::string_view source_recovery_point, std::string_view topic,
                            std::string_view topic_id, const OffsetMap& offsets) {
  std::string canonical = fmt::format("1\n{}\n{}\n{}\n", source_recovery_point, topic, topic_id);
  for (const auto& [p, o] : offsets) fmt::format_to(std::back_inserter(canonical), "{}={}\n", p, o);
  return to_hex(sha256(canonical));
}

Status validate_plan(const CleanupPlan& plan) {
  if (plan.schema_version != 1)
    return bad_plan(fmt::format("unsupported schema {}, expected 1", plan.schema_version));
  if (blank(plan.source_recovery_point)) return bad_plan("sourceRecoveryPoint is blank");
  if (blank(plan.topic)) return bad_plan("topic is blank");
  if (blank(plan.topic_id)) return bad_plan("topicId is blank");
  if (plan.topic_id == kZeroTopicId)
    return bad_plan("topicId is Kafka's zero id: cleanup needs the id the broker gave the topic");
  if (plan.offsets.empty()) return bad_plan("offsets is empty");
  for (const auto& [p, o] : plan.offsets) {
    if (p < 0) return bad_plan(fmt::format("partition {} is negative", p));
    if (o < 0) return bad_plan(fmt::format("offset {} of partition {} is negative", o, p));
  }
  const std::string want =
      cleanup_plan_id(plan.source_recovery_point, plan.topic, plan.topic_id, plan.offsets);
  if (plan.plan_id != want)
    return bad_plan(fmt::format("planId {} does not match its contents (they give {})",
                                plan.plan_id, want));
  return {};
}

Result<CleanupPlan> plan_from_markers(std::span<const RecoveryMarker> markers,
                                      std::string source_recovery_point) {
  if (markers.empty())
    return fail(Errc::kInvalidArgument, "cannot plan a cleanup: there are no recovery markers");
  CleanupPlan plan;
  for (size_t i = 0; i < markers.size(); ++i) {
    const auto& m = markers[i];
    if (!m.versioned())
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot plan a cleanup: marker {} is a legacy {{partition: offset}} "
                              "map; checkpoint-aligned cleanup requires versioned Kafka recovery "
                              "markers (a legacy map names no physical topic, so it cannot "
                              "authorise deleting records)",
                              i));
    if (m.schema_version != 1)
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot plan a cleanup: marker {} has unsupported schema {}", i,
                              m.schema_version));
    if (i == 0) {
      plan.topic = m.topic;
      plan.topic_id = m.topic_id;
      plan.offsets = m.offsets;
      continue;
    }
    // Upstream compares the id text as it is: markers of one job all come from one client.
    if (m.topic != plan.topic || m.topic_id != plan.topic_id)
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot plan a cleanup: the markers name more than one physical "
                              "topic ('{}' id {} and '{}' id {} in marker {})",
                              plan.topic, plan.topic_id, m.topic, m.topic_id, i));
    bool same = m.offsets.size() == plan.offsets.size();
    for (auto it = m.offsets.begin(); same && it != m.offsets.end(); ++it)
      same = plan.offsets.count(it->first) == 1;
    if (!same)
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot plan a cleanup: marker {} covers other partitions than "
                              "marker 0",
                              i));
    for (const auto& [p, o] : m.offsets) plan.offsets[p] = std::min(plan.offsets[p], o);
  }
  plan.source_recovery_point = std::move(source_recovery_point);
  if (plan.topic_id == kZeroTopicId)
    return fail(Errc::kInvalidArgument,
                "cannot plan a cleanup: the markers hold Kafka's zero topic id "
                "(AAAAAAAAAAAAAAAAAAAAAA), not one a broker gave; cleanup needs the topic's "
                "real id");
  plan.plan_id =
      cleanup_plan_id(plan.source_recovery_point, plan.topic, plan.topic_id, plan.offsets);
  auto ok = validate_plan(plan);
  if (!ok) return fail(std::move(ok).error());
  return plan;
}

std::string to_plan_json(const CleanupPlan& plan) { return plan_json(plan, true) + "\n"; }

std::string to_compact_json(const CleanupPlan& plan) { return plan_json(plan, false); }

Result<CleanupPlan> parse_cleanup_plan(std::string_view text) {
  ObjectDoc d;
  AFTK_TRY(d.open(text, bad_plan));
  od::object& obj = d.obj;
  PlanFields f;
  AFTK_TRY(read_plan_fields(obj, f));
  if (d.trailing()) return bad_plan("content after the JSON object");
  return plan_from_fields(std::move(f));
}

Result<CleanupPlan> read_cleanup_plan_file(const std::string& path) {
  AFTK_TRY_ASSIGN(std::string text, detail::read_small_file(path, "cleanup plan"));
  auto r = parse_cleanup_plan(text);
  if (!r) {
    auto e = std::move(r).error();
    e.where = path;
    return fail(std::move(e));
  }
  return r;
}

Status write_cleanup_plan_file(const std::string& path, const CleanupPlan& plan) {
  const auto err = [&](std::string why) {
    return fail(Errc::kIo, fmt::format("cannot write cleanup plan '{}': {}", path, why), path);
  };
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return err("file exists (a plan is never overwritten)");
  const std::string text = to_plan_json(plan);
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  const std::string tmp =
      (dir / fmt::format(".{}.{:08x}.tmp", target.filename().string(), rd())).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return err(std::strerror(errno));
  if (!detail::write_all(fd, text)) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return err(std::strerror(e));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return err(std::strerror(e));
  }
  // link() fails when the name exists, so a file created meanwhile is never replaced; where
  // the file system has no hard links, renameat2's RENAME_NOREPLACE promises the same.
  int rc = ::link(tmp.c_str(), path.c_str());
  int e = rc == 0 ? 0 : errno;
  if (rc != 0 && (e == EPERM || e == EOPNOTSUPP || e == EMLINK)) {
    rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    e = rc == 0 ? 0 : errno;
  }
  ::unlink(tmp.c_str());
  if (rc != 0)
    return err(e == EEXIST ? "file exists (a plan is never overwritten)" : std::strerror(e));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

bool advances_or_equals(const OffsetMap& plan, const OffsetMap& boundary) {
  if (boundary.empty()) return true;
  if (plan.size() != boundary.size()) return false;
  for (const auto& [p, o] : plan) {
    const auto it = boundary.find(p);
    if (it == boundary.end() || o < it->second) return false;
  }
  return true;
}

std::string_view status_name(CleanupStatus status) {
  return status == CleanupStatus::kApplied ? "APPLIED" : "COMMITTED";
}

std::string control_record_value(const ControlRecord& record) {
  return fmt::format("{{\"schemaVersion\":1,\"status\":\"{}\",\"plan\":{}}}",
                     status_name(record.status), to_compact_json(record.plan));
}

Result<ControlRecord> parse_control_record(std::string_view value) {
  ObjectDoc d;
  AFTK_TRY(d.open(value, bad_record));
  od::object& obj = d.obj;
  std::vector<std::string> names;
  std::string problem;
  std::optional<CleanupStatus> status;
  std::optional<Result<CleanupPlan>> plan;
  AFTK_TRY(for_each_member(obj, bad_record, "", [&](std::string_view key, od::value v) -> Status {
    names.emplace_back(key);
    od::json_type vt{};
    if (v.type().get(vt)) return bad_record("malformed JSON");
    if (key == "schemaVersion") {
      std::int64_t s = 0;
      if (read_integral(v, s) != IntRead::kOk || s != 1)
        problem = problem.empty() ? "unsupported schemaVersion (expected 1)" : problem;
    } else if (key == "status") {
      std::string_view s;
      if (vt != od::json_type::string || v.get_string().get(s))
        problem = problem.empty() ? "status must be a string" : problem;
      else if (s == "COMMITTED")
        status = CleanupStatus::kCommitted;
      else if (s == "APPLIED")
        status = CleanupStatus::kApplied;
      else if (problem.empty())
        problem = fmt::format("unknown status \"{}\"", s);
    } else if (key == "plan") {
      od::object po;
      if (vt != od::json_type::object || v.get_object().get(po)) {
        if (problem.empty()) problem = "plan must be an object";
        return {};
      }
      PlanFields f;
      AFTK_TRY(read_plan_fields(po, f));
      plan = plan_from_fields(std::move(f));
    }
    return {};
  }));
  if (d.trailing()) return bad_record("content after the JSON object");
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != std::vector<std::string>{"plan", "schemaVersion", "status"})
    return bad_record(fmt::format("the fields must be exactly [schemaVersion, status, plan], "
                                  "not {}",
                                  field_list(names)));
  if (!problem.empty()) return bad_record(problem);
  if (!plan->has_value()) return fail(std::move(*plan).error());
  return ControlRecord{*status, std::move(**plan)};
}

const ControlRecord* ControlState::find(std::string_view plan_id) const {
  for (const auto& op : operations)
    if (op.plan.plan_id == plan_id) return &op;
  return nullptr;
}

OffsetMap ControlState::boundary() const {
  OffsetMap b;
  for (const auto& op : operations)
    for (const auto& [p, o] : op.plan.offsets) {
      auto [it, fresh] = b.emplace(p, o);
      if (!fresh) it->second = std::max(it->second, o);
    }
  return b;
}

Status fold_control_record(ControlState& state, const std::string* key, const std::string* value,
                           const std::string& where) {
  const auto conflict = [&](std::string why) { return fail(Errc::kConflict, why, where); };
  if (key == nullptr) return conflict("cleanup control record without a key (a plan id)");
  if (value == nullptr)
    return conflict(fmt::format("the cleanup control topic holds a tombstone for plan {}: "
                                "cleanup boundaries cannot be deleted",
                                *key));
  auto rec = parse_control_record(*value);
  if (!rec) {
    auto e = std::move(rec).error();
    e.where = where;
    return fail(std::move(e));
  }
  if (rec->plan.plan_id != *key)
    return conflict(fmt::format("cleanup control record key {} is not its plan's id {}", *key,
                                rec->plan.plan_id));
  for (auto& op : state.operations) {
    if (op.plan.plan_id != *key) continue;
    if (!(op.plan == rec->plan))
      return conflict(fmt::format("cleanup control record changed the plan of {}", *key));
    if (op.status == CleanupStatus::kApplied && rec->status != CleanupStatus::kApplied)
      return conflict(fmt::format("cleanup control record takes applied plan {} back to "
                                  "COMMITTED",
                                  *key));
    op.status = rec->status;
    return {};
  }
  state.operations.push_back(std::move(*rec));
  return {};
}

Status check_operations(const ControlState& state, std::string_view topic,
                        std::string_view topic_id, const OffsetMap& partitions) {
  for (const auto& op : state.operations) {
    if (op.plan.topic != topic || op.plan.topic_id != topic_id)
      return fail(Errc::kConflict,
                  fmt::format("the cleanup control topic holds plan {} for topic '{}' id {}, not "
                              "'{}' id {}: it must serve one action-state topic only",
                              op.plan.plan_id, op.plan.topic, op.plan.topic_id, topic, topic_id));
    bool same = op.plan.offsets.size() == partitions.size();
    for (auto it = partitions.begin(); same && it != partitions.end(); ++it)
      same = op.plan.offsets.count(it->first) == 1;
    if (!same)
      return fail(Errc::kConflict,
                  fmt::format("the cleanup control topic holds plan {} for another partition set "
                              "({} partitions, not {})",
                              op.plan.plan_id, op.plan.offsets.size(), partitions.size()));
  }
  const auto& ops = state.operations;
  for (size_t a = 0; a < ops.size(); ++a)
    for (size_t b = a + 1; b < ops.size(); ++b)
      if (!advances_or_equals(ops[a].plan.offsets, ops[b].plan.offsets) &&
          !advances_or_equals(ops[b].plan.offsets, ops[a].plan.offsets))
        return fail(Errc::kConflict,
                    fmt::format("the cleanup control topic holds incomparable boundaries {} and "
                                "{} (neither is at or past the other on every partition); it "
                                "needs repair by hand",
                                ops[a].plan.plan_id, ops[b].plan.plan_id));
  return {};
}

}  // namespace aftk::actionstate
