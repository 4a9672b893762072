// SPDX-License-Identifier: Apache-2.0
// Ordered JSON tree: parsing, Jackson's compact and default pretty printers, JsonTruncator rules.
#include "dom.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/detail/scratch.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::eventlog::detail {

namespace od = simdjson::ondemand;
using json::Escape;

Node* Node::find(std::string_view key) {
  for (auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}
const Node* Node::find(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}
void Node::set(std::string key, Node value) {
  if (Node* n = find(key)) {
    *n = std::move(value);
    return;
  }
  members.push_back({std::move(key), std::move(value)});
}
bool Node::remove(std::string_view key) {
  for (auto it = members.begin(); it != members.end(); ++it)
    if (it->key == key) {
      members.erase(it);
      return true;
    }
  return false;
}

namespace {

// `outer`: the objects and arrays open around v. The depth limit is Jackson's, which writes and
// reads these documents upstream; it also bounds the recursion here and in the printers.
simdjson::error_code build(od::value v, Node& out, int outer) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  if ((t == od::json_type::object || t == od::json_type::array) &&
      outer >= json::kMaxNestingDepth)
    return simdjson::DEPTH_ERROR;
  switch (t) {
    case od::json_type::object: {
      out.kind = Node::Kind::kObject;
      od::object obj;
      if ((err = v.get_object().get(obj))) return err;
      for (auto fr : obj) {
        od::field f;
        if ((err = std::move(fr).get(f))) return err;
        std::string_view key;
        if ((err = f.unescaped_key().get(key))) return err;
        Node child;
        if ((err = build(f.value(), child, outer + 1))) return err;
        // Jackson's tree keeps the first position and the last value of a repeated key.
        out.set(std::string(key), std::move(child));
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      out.kind = Node::Kind::kArray;
      od::array arr;
      if ((err = v.get_array().get(arr))) return err;
      for (auto er : arr) {
        od::value ev;
        if ((err = std::move(er).get(ev))) return err;
        out.items.emplace_back();
        if ((err = build(ev, out.items.back(), outer + 1))) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      out.kind = Node::Kind::kString;
      std::string_view s;
      if ((err = v.get_string().get(s))) return err;
      out.text.assign(s);
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      out.kind = Node::Kind::kNumber;
      return json::append_normalized(v, out.text, {});
    }
    case od::json_type::boolean: {
      out.kind = Node::Kind::kBool;
      bool b;
      if ((err = v.get_bool().get(b))) return err;
      out.text = b ? "true" : "false";
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      if ((err = v.is_null().get(is_null))) return err;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out.kind = Node::Kind::kNull;
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

Result<Node> parse(std::string_view text) {
  auto& scratch = aftk::detail::thread_scratch(aftk::detail::ParseSite::kEventDom);
  auto padded = scratch.buffer.wrap(text);
  od::document doc;
  auto err = scratch.parser.iterate(padded).get(doc);
  Node root;
  if (!err) {
    od::value v;
    // A scalar document cannot be read as a value; only objects and arrays are wanted here.
    err = doc.get_value().get(v);
    if (!err) err = build(v, root, 0);
  }
  if (!err && !doc.current_location().error()) err = simdjson::TRAILING_CONTENT;
  if (err)
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid JSON: {}", json::error_text(err)));
  return root;
}

void write_compact(const Node& n, std::string& out) {
  switch (n.kind) {
    case Node::Kind::kNull:
      out.append("null");
      return;
    case Node::Kind::kBool:
    case Node::Kind::kNumber:
      out.append(n.text);
      return;
    case Node::Kind::kString:
      json::append_string(out, n.text, Escape::kRawUnicode);
      return;
    case Node::Kind::kArray:
      out.push_back('[');
      for (size_t i = 0; i < n.items.size(); ++i) {
        if (i) out.push_back(',');
        write_compact(n.items[i], out);
      }
      out.push_back(']');
      return;
    case Node::Kind::kObject:
      out.push_back('{');
      for (size_t i = 0; i < n.members.size(); ++i) {
        if (i) out.push_back(',');
        json::append_string(out, n.members[i].key, Escape::kRawUnicode);
        out.push_back(':');
        write_compact(n.members[i].value, out);
      }
      out.push_back('}');
      return;
  }
}

namespace {

// DefaultPrettyPrinter: objects indent two spaces a level on new lines ("key" : value); arrays
// stay on one line ("[ 1, 2 ]") and do not add a level; empty ones are "{ }" and "[ ]".
void pretty(const Node& n, std::string& out, int nesting) {
  auto indent = [&](int level) {
    out.push_back('\n');
    out.append(static_cast<size_t>(level) * 2, ' ');
  };
  switch (n.kind) {
    case Node::Kind::kArray:
      out.push_back('[');
      if (n.items.empty()) {
        out.append(" ]");
        return;
      }
      out.push_back(' ');
      for (size_t i = 0; i < n.items.size(); ++i) {
        if (i) out.append(", ");
        pretty(n.items[i], out, nesting);
      }
      out.append(" ]");
      return;
    case Node::Kind::kObject:
      out.push_back('{');
      if (n.members.empty()) {
        out.append(" }");
        return;
      }
      for (size_t i = 0; i < n.members.size(); ++i) {
        if (i) out.push_back(',');
        indent(nesting + 1);
        json::append_string(out, n.members[i].key, Escape::kRawUnicode);
        out.append(" : ");
        pretty(n.members[i].value, out, nesting + 1);
      }
      indent(nesting);
      out.push_back('}');
      return;
    default:
      write_compact(n, out);
  }
}

}  // namespace

void write_pretty(const Node& n, std::string& out) { pretty(n, out, 0); }

std::size_t utf16_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // one unit per code point ...
    if (c >= 0xF0) ++n;           // ... two for a 4-byte sequence (a surrogate pair)
  }
  return n;
}

namespace {

// The first `units` UTF-16 units of `s` as UTF-8. A pair cut in half leaves a lone high
// surrogate, which Java's UTF-8 encoder (FileWriter) writes as '?'.
std::string utf16_prefix(std::string_view s, std::size_t units) {
  std::size_t i = 0, n = 0;
  while (i < s.size() && n < units) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len == 4) {
      if (n + 2 > units) {
        std::string r(s.substr(0, i));
        r.push_back('?');
        return r;
      }
      n += 2;
    } else {
      n += 1;
    }
    i += len;
  }
  return std::string(s.substr(0, std::min(i, s.size())));
}

bool is_protected(std::string_view key) {
  return key == "eventType" || key == "id" || key == "attributes";
}

}  // namespace

bool Truncator::truncate_string(const std::string& s, Node& replacement) const {
  if (max_string <= 0) return false;
  const std::size_t len = utf16_length(s);
  if (len <= static_cast<std::size_t>(max_string)) return false;
  replacement = Node::object();
  replacement.members.emplace_back(
      "truncatedString",
      Node::string(utf16_prefix(s, static_cast<std::size_t>(max_string)) + "..."));
  replacement.members.emplace_back(
      "omittedChars", Node::number(std::to_string(len - static_cast<std::size_t>(max_string))));
  return true;
}

bool Truncator::truncate_array(Node& array, Node& replacement) const {
  if (max_array <= 0 || array.items.size() <= static_cast<std::size_t>(max_array)) return false;
  const std::size_t omitted = array.items.size() - static_cast<std::size_t>(max_array);
  array.items.resize(static_cast<std::size_t>(max_array));
  replacement = Node::object();
  replacement.members.emplace_back("truncatedList", std::move(array));
  replacement.members.emplace_back("omittedElements", Node::number(std::to_string(omitted)));
  return true;
}

bool Truncator::truncate_payload(Node& payload) const { return truncate_object(payload, 1, false); }

bool Truncator::truncate_event_031(Node& event) const {
  bool t = truncate_object(event, 1, true);
  if (Node* attrs = event.find("attributes");
      attrs != nullptr && attrs->kind == Node::Kind::kObject)
    t |= truncate_object(*attrs, 1, false);
  return t;
}

bool Truncator::truncate_object(Node& node, int depth, bool top) const {
  if (max_depth > 0 && depth >= max_depth) return collapse(node, top);
  bool truncated = false;
  for (auto& [key, child] : node.members) {
    if (top && is_protected(key)) continue;
    Node replacement;
    if (child.kind == Node::Kind::kString) {
      if (truncate_string(child.text, replacement)) {
        child = std::move(replacement);
        truncated = true;
      }
    } else if (child.kind == Node::Kind::kArray) {
      if (truncate_array(child, replacement)) {
        truncate_array_contents(replacement.members[0].value, depth + 1);
        child = std::move(replacement);
        truncated = true;
      } else {
        truncated |= truncate_array_contents(child, depth + 1);
      }
    } else if (child.kind == Node::Kind::kObject) {
      truncated |= truncate_object(child, depth + 1, false);
    }
  }
  return truncated;
}

bool Truncator::truncate_array_contents(Node& array, int depth) const {
  bool truncated = false;
  for (auto& element : array.items) {
    Node replacement;
    if (element.kind == Node::Kind::kString) {
      if (truncate_string(element.text, replacement)) {
        element = std::move(replacement);
        truncated = true;
      }
    } else if (element.kind == Node::Kind::kObject) {
      truncated |= truncate_object(element, depth, false);
    } else if (element.kind == Node::Kind::kArray) {
      if (truncate_array(element, replacement)) {
        truncate_array_contents(replacement.members[0].value, depth + 1);
        element = std::move(replacement);
        truncated = true;
      } else {
        truncated |= truncate_array_contents(element, depth + 1);
      }
    }
  }
  return truncated;
}

bool Truncator::collapse(Node& node, bool top) const {
  Node scalars = Node::object();
  int omitted = 0;
  for (auto& [key, child] : node.members) {
    if (top && is_protected(key)) {
      scalars.members.emplace_back(key, child);
      continue;
    }
    if (child.is_container()) {
      ++omitted;
      continue;
    }
    Node replacement;
    if (child.kind == Node::Kind::kString && truncate_string(child.text, replacement))
      scalars.members.emplace_back(key, std::move(replacement));
    else
      scalars.members.emplace_back(key, child);
  }
  if (omitted == 0) {
    bool truncated = false;
    for (auto& [key, child] : node.members) {
      if (top && is_protected(key)) continue;
      Node replacement;
      if (child.kind == Node::Kind::kString && truncate_string(child.text, replacement)) {
        child = std::move(replacement);
        truncated = true;
      }
    }
    return truncated;
  }
  node.members.clear();
  node.members.emplace_back("truncatedObject", std::move(scalars));
  node.members.emplace_back("omittedFields", Node::number(std::to_string(omitted)));
  return true;
}

}  // namespace aftk::eventlog::detail
