// SPDX-License-Identifier: Apache-2.0
// A small ordered JSON tree, enough to replay Jackson's ObjectNode edits (truncation) and printers.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aftk/result.h"

namespace aftk::eventlog::detail {

struct Member;

struct Node {
  enum class Kind : unsigned char { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // decoded string; Jackson-form number token; "true"/"false"
  std::vector<Node> items;
  // A vector of a type completed below, not of std::pair<std::string, Node>: libstdc++ 12's
  // pair needs Node complete where Node's own special members are declared, which clang
  // enforces (GCC happens not to).
  std::vector<Member> members;

  static Node string(std::string s);
  static Node number(std::string token);
  static Node object();
  static Node array();
  bool is_container() const { return kind == Kind::kArray || kind == Kind::kObject; }
  Node* find(std::string_view key);
  const Node* find(std::string_view key) const;
  /// ObjectNode.set: replaces in place when present, else appends.
  void set(std::string key, Node value);
  bool remove(std::string_view key);
};

/// One object member, in the order the object has it.
struct Member {
  std::string key;
  Node value;
};

inline Node Node::string(std::string s) {
  Node n;
  n.kind = Kind::kString;
  n.text = std::move(s);
  return n;
}
inline Node Node::number(std::string token) {
  Node n;
  n.kind = Kind::kNumber;
  n.text = std::move(token);
  return n;
}
inline Node Node::object() {
  Node n;
  n.kind = Kind::kObject;
  return n;
}
inline Node Node::array() {
  Node n;
  n.kind = Kind::kArray;
  return n;
}

/// Parses JSON text (numbers re-written in Jackson's form). Errors: INVALID_ARGUMENT.
Result<Node> parse(std::string_view json);

/// Jackson compact output, raw non-BMP characters (writeValueAsString).
void write_compact(const Node& n, std::string& out);
/// Jackson DefaultPrettyPrinter output with '\n' line ends.
void write_pretty(const Node& n, std::string& out);

/// JsonTruncator's three rules; a limit of 0 disables one.
struct Truncator {
  int max_string = 0, max_array = 0, max_depth = 0;
  /// main@8ad3a32: the node is the attributes payload, depth 1.
  bool truncate_payload(Node& payload) const;
  /// 0.3.x: the node is the whole event; eventType/id/attributes are protected at its top, then
  /// the attributes are truncated again as a payload of their own.
  bool truncate_event_031(Node& event) const;

 private:
  bool truncate_object(Node& node, int depth, bool top) const;
  bool truncate_array_contents(Node& array, int depth) const;
  bool collapse(Node& node, bool top) const;
  bool truncate_string(const std::string& s, Node& replacement) const;
  bool truncate_array(Node& array, Node& replacement) const;
};

/// Java String.length(): UTF-16 code units of UTF-8 text.
std::size_t utf16_length(std::string_view utf8);

}  // namespace aftk::eventlog::detail
