// SPDX-License-Identifier: Apache-2.0
// Parsing, printing and merging recovery markers.
#include "aftk/actionstate/marker.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/actionstate/key.h"
#include "aftk/detail/files.h"
#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::actionstate {

namespace od = simdjson::ondemand;

namespace {

Unexpected bad(std::string why) { return fail(Errc::kInvalidArgument, "invalid recovery marker: " + why); }

Result<OffsetMap> parse_offsets(od::object obj) {
  OffsetMap m;
  for (auto fr : obj) {
    od::field f;
    if (std::move(fr).get(f)) return bad("malformed JSON");
    std::string_view key;
    if (f.unescaped_key().get(key)) return bad("malformed JSON");
    // "-0" is partition 0, as Integer.parseInt reads it. Unlike a record key, a marker names
    // partitions, not bytes: writing it back as "0" keeps its meaning, so it is normalized.
    std::int64_t p = 0;
    if (!is_canonical_seq(key, &p) || p > INT32_MAX)
      return bad(fmt::format("partition \"{}\" is not a canonical non-negative integer", key));
    std::int64_t off = 0;
    if (f.value().get_int64().get(off)) return bad(fmt::format("offset of partition {} is not an integer", key));
    if (off < 0) return bad(fmt::format("offset {} of partition {} is negative", off, key));
    if (!m.emplace(static_cast<std::int32_t>(p), off).second) return bad(fmt::format("partition {} appears twice", key));
  }
  return m;
}

Result<RecoveryMarker> parse_object(od::object obj) {
  // Versioned if it has "schemaVersion"; otherwise every field is a partition.
  bool versioned = false;
  for (auto fr : obj) {
    od::field f;
    if (std::move(fr).get(f)) return bad("malformed JSON");
    std::string_view key;
    if (f.unescaped_key().get(key)) return bad("malformed JSON");
    if (key == "schemaVersion" || key == "topic" || key == "topicId" || key == "offsets") versioned = true;
  }
  bool reset_ok;
  if (obj.reset().get(reset_ok)) return bad("malformed JSON");
  if (!versioned) {
    AFTK_TRY_ASSIGN(OffsetMap offsets, parse_offsets(obj));
    return RecoveryMarker::legacy(std::move(offsets));
  }
  RecoveryMarker m;
  bool has_schema = false, has_offsets = false;
  for (auto fr : obj) {
    od::field f;
    if (std::move(fr).get(f)) return bad("malformed JSON");
    std::string_view key;
    if (f.unescaped_key().get(key)) return bad("malformed JSON");
    od::value v = f.value();
    if (key == "schemaVersion") {
      std::int64_t s = 0;
      if (v.get_int64().get(s)) return bad("schemaVersion is not an integer");
      if (s != 1) return fail(Errc::kUnsupported, fmt::format("unsupported recovery marker schema {}, expected 1", s));
      m.schema_version = 1;
      has_schema = true;
    } else if (key == "topic" || key == "topicId") {
      std::string_view s;
      if (v.get_string().get(s)) return bad(fmt::format("{} is not a string", key));
      (key == "topic" ? m.topic : m.topic_id).assign(s);
    } else if (key == "offsets") {
      od::object o;
      if (v.get_object().get(o)) return bad("offsets is not an object");
      AFTK_TRY_ASSIGN(m.offsets, parse_offsets(o));
      has_offsets = true;
    } else {
      return bad(fmt::format("unknown field \"{}\"", key));
    }
  }
  if (!has_schema) return bad("missing schemaVersion");
  if (m.topic.find_first_not_of(" \t") == std::string::npos) return bad("blank topic");
  if (m.topic_id.find_first_not_of(" \t") == std::string::npos) return bad("blank topicId");
  if (!has_offsets || m.offsets.empty()) return bad("empty offsets");
  return m;
}

}  // namespace

Result<std::vector<RecoveryMarker>> parse_markers(std::string_view json) {
  od::parser parser;
  json::PaddedBuffer buf;
  od::document doc;
  if (parser.iterate(buf.wrap(json)).get(doc)) return bad("malformed JSON");
  od::json_type t{};
  if (doc.type().get(t)) return bad("malformed JSON");
  std::vector<RecoveryMarker> out;
  if (t == od::json_type::array) {
    od::array arr;
    if (doc.get_array().get(arr)) return bad("malformed JSON");
    size_t i = 0;
    for (auto er : arr) {
      od::object o;
      if (std::move(er).get_object().get(o)) return bad(fmt::format("element {} is not an object", i));
      auto m = parse_object(o);
      if (!m) {
        auto e = m.error();
        e.message += fmt::format(" (array element {})", i);
        return fail(std::move(e));
      }
      out.push_back(std::move(*m));
      ++i;
    }
  } else {
    od::object o;
    if (doc.get_object().get(o)) return bad("expected an object or an array of objects");
    AFTK_TRY_ASSIGN(RecoveryMarker m, parse_object(o));
    out.push_back(std::move(m));
  }
  if (!doc.current_location().error()) return bad("trailing content");
  return out;
}

Result<RecoveryMarker> parse_marker(std::string_view json) {
  AFTK_TRY_ASSIGN(auto all, parse_markers(json));
  if (all.size() != 1) return bad(fmt::format("expected one marker, found {}", all.size()));
  return std::move(all[0]);
}

Result<std::vector<RecoveryMarker>> read_marker_file(const std::string& path) {
  AFTK_TRY_ASSIGN(const std::string text, detail::read_small_file(path, "marker file"));
  auto r = parse_markers(text);
  if (!r) {
    auto e = r.error();
    e.where = path;
    return fail(std::move(e));
  }
  return r;
}

std::string to_json(const RecoveryMarker& m) {
  std::string offsets = "{";
  for (const auto& [p, o] : m.offsets) {
    if (offsets.size() > 1) offsets.push_back(',');
    fmt::format_to(std::back_inserter(offsets), "\"{}\":{}", p, o);
  }
  offsets.push_back('}');
  if (!m.versioned()) return offsets;
  std::string out = fmt::format("{{\"schemaVersion\":{},\"topic\":", m.schema_version);
  json::append_string(out, m.topic);
  out.append(",\"topicId\":");
  json::append_string(out, m.topic_id);
  out.append(",\"offsets\":");
  out.append(offsets);
  out.push_back('}');
  return out;
}

Result<RecoveryMarker> merge_markers(std::span<const RecoveryMarker> markers) {
  if (markers.empty()) return RecoveryMarker{};
  RecoveryMarker merged = markers[0];
  for (size_t i = 1; i < markers.size(); ++i) {
    const auto& m = markers[i];
    if (m.versioned() != merged.versioned())
      return fail(Errc::kConflict, "legacy and versioned recovery markers cannot be mixed");
    if (m.versioned()) {
      if (m.schema_version != merged.schema_version)
        return fail(Errc::kConflict, "recovery markers of different schema versions");
      if (m.topic != merged.topic)
        return fail(Errc::kConflict, fmt::format("recovery markers name different topics: '{}' and '{}'", merged.topic, m.topic));
      if (json::normalize_topic_id(m.topic_id) != json::normalize_topic_id(merged.topic_id))
        return fail(Errc::kConflict, fmt::format("recovery markers name different topic ids: {} and {} (was the topic recreated?)", merged.topic_id, m.topic_id));
      bool same_set = m.offsets.size() == merged.offsets.size();
      for (auto it = m.offsets.begin(); same_set && it != m.offsets.end(); ++it)
        same_set = merged.offsets.count(it->first) == 1;
      if (!same_set) return fail(Errc::kConflict, "versioned recovery markers cover different partition sets");
    }
    for (const auto& [p, o] : m.offsets) {
      auto it = merged.offsets.find(p);
      if (it == merged.offsets.end())
        merged.offsets.emplace(p, o);
      else
        it->second = std::min(it->second, o);
    }
  }
  return merged;
}

}  // namespace aftk::actionstate
