// SPDX-License-Identifier: Apache-2.0
// Telling call-result payloads apart, and a pickle reader that only reads: every opcode that
// would import, call or build an object is recorded as the name it would use, never run.
#include "aftk/actionstate/payload.h"

#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

namespace aftk::actionstate {

std::string_view payload_kind_name(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kJson: return "json";
    case PayloadKind::kText: return "text";
    case PayloadKind::kJavaException: return "java-exception";
    case PayloadKind::kPickle: return "pickle";
    case PayloadKind::kKryo: return "kryo";
    case PayloadKind::kBytes: return "bytes";
  }
  return "bytes";
}

namespace {

constexpr std::uint32_t kNoNode = 0xFFFFFFFFu;

// One value the pickle builds. Scalars live in the node; strings, sequences and objects in
// side tables, so that a pickle of many small values stays small in memory.
struct Node {
  enum class Kind : std::uint8_t {
    kNone, kBool, kInt, kBigInt, kFloat, kStr, kBytes, kByteArray,
    kList, kTuple, kDict, kSet, kFrozenSet, kGlobal, kObject, kPersistent,
  };
  Kind kind = Kind::kNone;
  std::int64_t i = 0;  // bool, int; index into strings_ / seqs_ / objects_; the persistent id
  double f = 0;
};

// What a real unpickler would call: callable(*args, **kwargs), then __setstate__(state),
// append(item) for each of items and __setitem__ for each pair of dict_items.
struct Object {
  std::uint32_t callable = kNoNode;
  std::uint32_t args = kNoNode;
  std::uint32_t kwargs = kNoNode;
  std::uint32_t state = kNoNode;
  std::vector<std::uint32_t> items;
  std::vector<std::uint32_t> dict_items;  // key, value, key, value, ...
};

// Protocol 2+ writes strings as UTF-8 with surrogates let through ('surrogatepass'): copies
// `in` with each encoded surrogate replaced by U+FFFD. False for any other invalid UTF-8.
bool utf8_replacing_surrogates(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF)
      out.append("\xEF\xBF\xBD");
    else
      out.append(in.substr(i, len));
    i += len;
  }
  return true;
}

const char* opcode_name(unsigned char op) {
  switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8e: return "BINBYTES8";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case ']': return "EMPTY_LIST";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 'l': return "LIST";
    case ')': return "EMPTY_TUPLE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case '}': return "EMPTY_DICT";
    case 'd': return "DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 0x94: return "MEMOIZE";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    default: return nullptr;
  }
}

class PickleReader {
 public:
  PickleReader(std::string_view in, const PayloadLimits& limits) : in_(in), limits_(limits) {
    // Fixed nodes for the constants: a pickle of a million Nones costs no memory.
    nodes_.push_back({Node::Kind::kNone, 0, 0});
    nodes_.push_back({Node::Kind::kBool, 0, 0});
    nodes_.push_back({Node::Kind::kBool, 1, 0});
  }

  Result<std::string> read() {
    if (in_.size() > limits_.max_input)
      return fail(Errc::kCorruptRecord, fmt::format("pickle of {} bytes exceeds the limit of {}",
                                                    in_.size(), limits_.max_input));
    std::uint32_t top = kNoNode;
    if (!run(top)) return fail(Errc::kCorruptRecord, std::move(error_));
    std::string out;
    if (!render(top, 0, out)) return fail(Errc::kCorruptRecord, std::move(error_));
    return out;
  }

 private:
  // -- reading ------------------------------------------------------------------------------

  bool bad(std::string message) {
    const char* name = opcode_name(op_);
    error_ = fmt::format("pickle: {} at byte {} ({})", message, op_pos_,
                         name ? name : fmt::format("opcode 0x{:02x}", op_));
    return false;
  }

  bool take(size_t n, std::string_view& out) {
    if (in_.size() - pos_ < n) return bad(fmt::format("truncated: {} bytes wanted, {} left", n,
                                                      in_.size() - pos_));
    out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool take_le(T& v) {
    std::string_view b;
    if (!take(sizeof(T), b)) return false;
    std::uint64_t u = 0;
    for (size_t k = 0; k < sizeof(T); ++k)
      u |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[k])) << (8 * k);
    v = static_cast<T>(u);
    return true;
  }
  bool take_line(std::string_view& out) {
    const auto nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos) return bad("truncated: no end of line");
    out = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return true;
  }
  // A length from the input, checked against what is left before anything is allocated.
  bool take_sized(std::uint64_t n, std::string_view& out) {
    if (n > in_.size() - pos_)
      return bad(fmt::format("truncated: {} bytes wanted, {} left", n, in_.size() - pos_));
    return take(static_cast<size_t>(n), out);
  }

  bool add(Node node, std::uint32_t& id) {
    if (nodes_.size() >= kMaxNodes) return bad(fmt::format("more than {} values", kMaxNodes));
    id = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back(node);
    return true;
  }
  bool push(Node node) {
    std::uint32_t id = kNoNode;
    if (!add(node, id)) return false;
    stack_.push_back(id);
    return true;
  }
  bool push_string(Node::Kind kind, std::string text) {
    strings_.push_back(std::move(text));
    return push({kind, static_cast<std::int64_t>(strings_.size() - 1), 0});
  }
  bool push_seq(Node::Kind kind, std::vector<std::uint32_t> items) {
    seqs_.push_back(std::move(items));
    return push({kind, static_cast<std::int64_t>(seqs_.size() - 1), 0});
  }
  bool push_object(Object o) {
    objects_.push_back(std::move(o));
    return push({Node::Kind::kObject, static_cast<std::int64_t>(objects_.size() - 1), 0});
  }
  bool push_unicode(std::string_view raw) {
    std::string text;
    if (!utf8_replacing_surrogates(raw, text)) return bad("string is not UTF-8");
    return push_string(Node::Kind::kStr, std::move(text));
  }
  bool push_global(std::string_view module, std::string_view name) {
    std::string m, n;
    if (!utf8_replacing_surrogates(module, m) || !utf8_replacing_surrogates(name, n))
      return bad("global name is not UTF-8");
    return push_string(Node::Kind::kGlobal, m + "." + n);
  }

  bool pop(std::uint32_t& id) {
    if (stack_.size() <= floor()) return bad("stack underflow");
    id = stack_.back();
    stack_.pop_back();
    return true;
  }
  bool peek(std::uint32_t& id) {
    if (stack_.size() <= floor()) return bad("stack underflow");
    id = stack_.back();
    return true;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The values above the last MARK, which is removed.
  bool pop_mark(std::vector<std::uint32_t>& items) {
    if (marks_.empty()) return bad("no MARK to pop to");
    const size_t at = marks_.back();
    marks_.pop_back();
    items.assign(stack_.begin() + static_cast<std::ptrdiff_t>(at), stack_.end());
    stack_.resize(at);
    return true;
  }

  bool memo_put(std::uint64_t key) {
    std::uint32_t id = kNoNode;
    if (!peek(id)) return false;
    if (memo_.size() >= limits_.max_memo && !memo_.contains(key))
      return bad(fmt::format("more than {} memo entries", limits_.max_memo));
    memo_[key] = id;
    return true;
  }
  bool memo_get(std::uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) return bad(fmt::format("memo key {} was never stored", key));
    stack_.push_back(it->second);
    return true;
  }

  Node& node(std::uint32_t id) { return nodes_[id]; }
  std::vector<std::uint32_t>& seq_of(std::uint32_t id) {
    return seqs_[static_cast<size_t>(node(id).i)];
  }
  Object& object_of(std::uint32_t id) { return objects_[static_cast<size_t>(node(id).i)]; }

  bool append_items(std::uint32_t target, const std::vector<std::uint32_t>& items) {
    const auto k = node(target).kind;
    if (k == Node::Kind::kList) {
      auto& s = seq_of(target);
      s.insert(s.end(), items.begin(), items.end());
    } else if (k == Node::Kind::kObject) {
      auto& s = object_of(target).items;
      s.insert(s.end(), items.begin(), items.end());
    } else {
      return bad("appending to a value that is not a list");
    }
    return true;
  }
  bool set_items(std::uint32_t target, const std::vector<std::uint32_t>& pairs) {
    if (pairs.size() % 2 != 0) return bad("odd number of dict items");
    const auto k = node(target).kind;
    if (k == Node::Kind::kDict) {
      auto& s = seq_of(target);
      s.insert(s.end(), pairs.begin(), pairs.end());
    } else if (k == Node::Kind::kObject) {
      auto& s = object_of(target).dict_items;
      s.insert(s.end(), pairs.begin(), pairs.end());
    } else {
      return bad("setting items of a value that is not a dict");
    }
    return true;
  }

  bool push_long(std::string_view b) {
    if (b.size() <= 8) {
      std::uint64_t u = 0;
      for (size_t k = 0; k < b.size(); ++k)
        u |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[k])) << (8 * k);
      if (!b.empty() && b.size() < 8 && (static_cast<unsigned char>(b.back()) & 0x80))
        u |= ~std::uint64_t{0} << (8 * b.size());  // sign-extend
      return push({Node::Kind::kInt, static_cast<std::int64_t>(u), 0});
    }
    // About 2.41 decimal digits a byte: refuse before any quadratic conversion.
    if (static_cast<double>(b.size()) * 2.408 > static_cast<double>(limits_.max_int_digits) + 1)
      return bad(fmt::format("integer of {} bytes exceeds the limit of {} digits", b.size(),
                             limits_.max_int_digits));
    return push_string(Node::Kind::kBigInt, std::string(b));
  }

  bool run(std::uint32_t& result) {
    std::string_view b;
    while (true) {
      if (pos_ >= in_.size()) {
        op_pos_ = pos_;
        op_ = 0;
        error_ = fmt::format("pickle: truncated at byte {}: no STOP", pos_);
        return false;
      }
      op_pos_ = pos_;
      op_ = static_cast<unsigned char>(in_[pos_++]);
      switch (op_) {
        case 0x80: {  // PROTO
          std::uint8_t v;
          if (!take_le(v)) return false;
          if (v > 5) return bad(fmt::format("protocol {} is not known", v));
          break;
        }
        case 0x95: {  // FRAME: a length prefix only; the bytes follow inline
          std::uint64_t n;
          if (!take_le(n)) return false;
          if (n > in_.size() - pos_)
            return bad(fmt::format("frame of {} bytes, {} left", n, in_.size() - pos_));
          break;
        }
        case '.': {
          if (!pop(result)) return false;
          return true;
        }
        case '(':
          marks_.push_back(stack_.size());
          break;
        case '0': {
          std::uint32_t id = kNoNode;
          if (!pop(id)) return false;
          break;
        }
        case '1': {
          std::vector<std::uint32_t> items;
          if (!pop_mark(items)) return false;
          break;
        }
        case '2': {
          std::uint32_t id = kNoNode;
          if (!peek(id)) return false;
          stack_.push_back(id);
          break;
        }
        case 'N': stack_.push_back(0); break;
        case 0x88: stack_.push_back(2); break;
        case 0x89: stack_.push_back(1); break;
        case 'J': {
          std::int32_t v;
          if (!take_le(v) || !push({Node::Kind::kInt, v, 0})) return false;
          break;
        }
        case 'K': {
          std::uint8_t v;
          if (!take_le(v) || !push({Node::Kind::kInt, v, 0})) return false;
          break;
        }
        case 'M': {
          std::uint16_t v;
          if (!take_le(v) || !push({Node::Kind::kInt, v, 0})) return false;
          break;
        }
        case 0x8a: {
          std::uint8_t n;
          if (!take_le(n) || !take(n, b) || !push_long(b)) return false;
          break;
        }
        case 0x8b: {
          std::int32_t n;
          if (!take_le(n)) return false;
          if (n < 0) return bad("negative length");
          if (!take_sized(static_cast<std::uint64_t>(n), b) || !push_long(b)) return false;
          break;
        }
        case 'G': {
          std::string_view raw;
          if (!take(8, raw)) return false;
          std::uint64_t u = 0;
          for (size_t k = 0; k < 8; ++k) u = (u << 8) | static_cast<unsigned char>(raw[k]);
          double d;
          std::memcpy(&d, &u, sizeof d);
          if (!push({Node::Kind::kFloat, 0, d})) return false;
          break;
        }
        case 'T':
        case 'U': {  // Python 2 str: text when ASCII (Python 3 reads it so), else bytes
          std::uint64_t n;
          if (op_ == 'T') {
            std::int32_t m;
            if (!take_le(m)) return false;
            if (m < 0) return bad("negative length");
            n = static_cast<std::uint64_t>(m);
          } else {
            std::uint8_t m;
            if (!take_le(m)) return false;
            n = m;
          }
          if (!take_sized(n, b)) return false;
          bool ascii = true;
          for (char c : b) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
          if (!push_string(ascii ? Node::Kind::kStr : Node::Kind::kBytes, std::string(b)))
            return false;
          break;
        }
        case 'X':
        case 0x8c:
        case 0x8d:
        case 'B':
        case 'C':
        case 0x8e:
        case 0x96: {
          std::uint64_t n;
          if (op_ == 0x8c || op_ == 'C') {
            std::uint8_t m;
            if (!take_le(m)) return false;
            n = m;
          } else if (op_ == 'X' || op_ == 'B') {
            std::uint32_t m;
            if (!take_le(m)) return false;
            n = m;
          } else if (!take_le(n)) {
            return false;
          }
          if (!take_sized(n, b)) return false;
          const bool text = op_ == 'X' || op_ == 0x8c || op_ == 0x8d;
          if (text) {
            if (!push_unicode(b)) return false;
          } else if (!push_string(op_ == 0x96 ? Node::Kind::kByteArray : Node::Kind::kBytes,
                                  std::string(b))) {
            return false;
          }
          break;
        }
        case 0x97: return bad("out-of-band buffers are not carried in a payload");
        case 0x98: {
          std::uint32_t id = kNoNode;
          if (!peek(id)) return false;
          break;
        }
        case ']':
          if (!push_seq(Node::Kind::kList, {})) return false;
          break;
        case ')':
          if (!push_seq(Node::Kind::kTuple, {})) return false;
          break;
        case '}':
          if (!push_seq(Node::Kind::kDict, {})) return false;
          break;
        case 0x8f:
          if (!push_seq(Node::Kind::kSet, {})) return false;
          break;
        case 'l':
        case 't':
        case 'd':
        case 0x91: {
          std::vector<std::uint32_t> items;
          if (!pop_mark(items)) return false;
          if (op_ == 'd' && items.size() % 2 != 0) return bad("odd number of dict items");
          const auto kind = op_ == 'l'   ? Node::Kind::kList
                            : op_ == 't' ? Node::Kind::kTuple
                            : op_ == 'd' ? Node::Kind::kDict
                                         : Node::Kind::kFrozenSet;
          if (!push_seq(kind, std::move(items))) return false;
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {
          const size_t n = static_cast<size_t>(op_ - 0x84);
          if (stack_.size() < floor() + n) return bad("stack underflow");
          std::vector<std::uint32_t> items(stack_.end() - static_cast<std::ptrdiff_t>(n),
                                           stack_.end());
          stack_.resize(stack_.size() - n);
          if (!push_seq(Node::Kind::kTuple, std::move(items))) return false;
          break;
        }
        case 'a': {
          std::uint32_t v = kNoNode, target = kNoNode;
          if (!pop(v) || !peek(target) || !append_items(target, {v})) return false;
          break;
        }
        case 'e':
        case 'u':
        case 0x90: {
          std::vector<std::uint32_t> items;
          std::uint32_t target = kNoNode;
          if (!pop_mark(items) || !peek(target)) return false;
          if (op_ == 'e') {
            if (!append_items(target, items)) return false;
          } else if (op_ == 'u') {
            if (!set_items(target, items)) return false;
          } else {
            if (node(target).kind != Node::Kind::kSet)
              return bad("adding to a value that is not a set");
            auto& s = seq_of(target);
            s.insert(s.end(), items.begin(), items.end());
          }
          break;
        }
        case 's': {
          std::uint32_t k = kNoNode, v = kNoNode, target = kNoNode;
          if (!pop(v) || !pop(k) || !peek(target) || !set_items(target, {k, v})) return false;
          break;
        }
        case 'q': {
          std::uint8_t k;
          if (!take_le(k) || !memo_put(k)) return false;
          break;
        }
        case 'r': {
          std::uint32_t k;
          if (!take_le(k) || !memo_put(k)) return false;
          break;
        }
        case 0x94:
          if (!memo_put(memo_.size())) return false;
          break;
        case 'h': {
          std::uint8_t k;
          if (!take_le(k) || !memo_get(k)) return false;
          break;
        }
        case 'j': {
          std::uint32_t k;
          if (!take_le(k) || !memo_get(k)) return false;
          break;
        }
        case 'p':
        case 'g': {
          if (!take_line(b)) return false;
          std::uint64_t k = 0;
          if (b.empty() || b.size() > 18) return bad("malformed memo key");
          for (char c : b) {
            if (c < '0' || c > '9') return bad("malformed memo key");
            k = k * 10 + static_cast<std::uint64_t>(c - '0');
          }
          if (!(op_ == 'p' ? memo_put(k) : memo_get(k))) return false;
          break;
        }
        case 'c': {
          std::string_view module, name;
          if (!take_line(module) || !take_line(name) || !push_global(module, name)) return false;
          break;
        }
        case 0x93: {
          std::uint32_t name = kNoNode, module = kNoNode;
          if (!pop(name) || !pop(module)) return false;
          if (node(name).kind != Node::Kind::kStr || node(module).kind != Node::Kind::kStr)
            return bad("module and name are not strings");
          const std::string full = strings_[static_cast<size_t>(node(module).i)] + "." +
                                   strings_[static_cast<size_t>(node(name).i)];
          if (!push_string(Node::Kind::kGlobal, full)) return false;
          break;
        }
        case 0x82:
        case 0x83:
        case 0x84: {
          std::uint32_t code = 0;
          if (op_ == 0x82) {
            std::uint8_t c;
            if (!take_le(c)) return false;
            code = c;
          } else if (op_ == 0x83) {
            std::uint16_t c;
            if (!take_le(c)) return false;
            code = c;
          } else if (!take_le(code)) {
            return false;
          }
          if (!push_string(Node::Kind::kGlobal, fmt::format("copyreg extension {}", code)))
            return false;
          break;
        }
        case 'R':
        case 0x81: {
          Object o;
          if (!pop(o.args) || !pop(o.callable) || !push_object(std::move(o))) return false;
          break;
        }
        case 0x92: {
          Object o;
          if (!pop(o.kwargs) || !pop(o.args) || !pop(o.callable) || !push_object(std::move(o)))
            return false;
          break;
        }
        case 'i': {
          std::string_view module, name;
          std::vector<std::uint32_t> args;
          if (!take_line(module) || !take_line(name) || !pop_mark(args) ||
              !push_global(module, name))
            return false;
          Object o;
          o.callable = stack_.back();
          stack_.pop_back();
          if (!push_seq(Node::Kind::kTuple, std::move(args))) return false;
          o.args = stack_.back();
          stack_.pop_back();
          if (!push_object(std::move(o))) return false;
          break;
        }
        case 'o': {
          std::vector<std::uint32_t> items;
          if (!pop_mark(items)) return false;
          if (items.empty()) return bad("no class to build");
          Object o;
          o.callable = items.front();
          items.erase(items.begin());
          if (!push_seq(Node::Kind::kTuple, std::move(items))) return false;
          o.args = stack_.back();
          stack_.pop_back();
          if (!push_object(std::move(o))) return false;
          break;
        }
        case 'b': {
          std::uint32_t state = kNoNode, target = kNoNode;
          if (!pop(state) || !peek(target)) return false;
          if (node(target).kind != Node::Kind::kObject) return bad("BUILD on a plain value");
          object_of(target).state = state;
          break;
        }
        case 'P': {
          if (!take_line(b)) return false;
          std::uint32_t id = kNoNode;
          if (!push_unicode(b)) return false;
          id = stack_.back();
          stack_.pop_back();
          if (!push({Node::Kind::kPersistent, id, 0})) return false;
          break;
        }
        case 'Q': {
          std::uint32_t id = kNoNode;
          if (!pop(id) || !push({Node::Kind::kPersistent, id, 0})) return false;
          break;
        }
        default:
          // The text forms of protocols 0 and 1, which protocol 2 and later never write.
          if (std::string_view("SVFIL").find(static_cast<char>(op_)) != std::string_view::npos)
            return bad("opcode of protocol 0 or 1, not read");
          return bad(fmt::format("unknown opcode 0x{:02x}", op_));
      }
    }
  }

  // -- writing JSON ---------------------------------------------------------------------------

  bool too_big(const std::string& out) {
    if (out.size() <= limits_.max_output) return false;
    error_ = fmt::format("pickle: decoded value exceeds {} bytes", limits_.max_output);
    return true;
  }

  const std::string* global_name(std::uint32_t id) {
    if (id == kNoNode || node(id).kind != Node::Kind::kGlobal) return nullptr;
    return &strings_[static_cast<size_t>(node(id).i)];
  }
  const std::vector<std::uint32_t>* tuple_items(std::uint32_t id) {
    if (id == kNoNode || node(id).kind != Node::Kind::kTuple) return nullptr;
    return &seq_of(id);
  }

  bool render_items(const std::vector<std::uint32_t>& items, int depth, std::string& out) {
    out.push_back('[');
    for (size_t k = 0; k < items.size(); ++k) {
      if (k) out.push_back(',');
      if (!render(items[k], depth, out)) return false;
    }
    out.push_back(']');
    return true;
  }
  bool render_pairs(const std::vector<std::uint32_t>& kv, int depth, std::string& out) {
    out.push_back('[');
    for (size_t k = 0; k + 1 < kv.size(); k += 2) {
      if (k) out.push_back(',');
      out.push_back('[');
      if (!render(kv[k], depth + 1, out)) return false;
      out.push_back(',');
      if (!render(kv[k + 1], depth + 1, out)) return false;
      out.push_back(']');
    }
    out.push_back(']');
    return true;
  }

  bool render_dict(const std::vector<std::uint32_t>& kv, int depth, std::string& out) {
    bool str_keys = true;
    for (size_t k = 0; k < kv.size(); k += 2)
      str_keys = str_keys && node(kv[k]).kind == Node::Kind::kStr;
    if (!str_keys) {
      out.append("{\"dict\":");
      if (!render_pairs(kv, depth + 1, out)) return false;
      out.push_back('}');
      return true;
    }
    // As a dict: a key set twice keeps its first place and its last value.
    std::unordered_map<std::string_view, size_t> last;
    std::vector<size_t> order;
    for (size_t k = 0; k < kv.size(); k += 2) {
      const auto& key = strings_[static_cast<size_t>(node(kv[k]).i)];
      auto [it, fresh] = last.try_emplace(key, k);
      if (fresh)
        order.push_back(k);
      else
        it->second = k;
    }
    out.push_back('{');
    for (size_t n = 0; n < order.size(); ++n) {
      if (n) out.push_back(',');
      const auto& key = strings_[static_cast<size_t>(node(kv[order[n]]).i)];
      json::append_string(out, key, json::Escape::kRawUnicode);
      out.push_back(':');
      if (!render(kv[last[key] + 1], depth, out)) return false;
    }
    out.push_back('}');
    return true;
  }

  bool render_object(const Object& o, int depth, std::string& out) {
    const std::string* name = global_name(o.callable);
    const auto* args = tuple_items(o.args);
    // Calls whose meaning is fixed and harmless are read as the value they make: the sets and
    // bytes of protocol 2, and copyreg's reconstructor of plain objects.
    if (name && args && o.kwargs == kNoNode && o.state == kNoNode && o.items.empty() &&
        o.dict_items.empty()) {
      const bool set = *name == "builtins.set" || *name == "__builtin__.set";
      const bool frozen = *name == "builtins.frozenset" || *name == "__builtin__.frozenset";
      const std::vector<std::uint32_t>* items = nullptr;
      static const std::vector<std::uint32_t> kEmpty;
      if (args->empty()) {
        items = &kEmpty;
      } else if (args->size() == 1) {
        const auto k = node((*args)[0]).kind;
        if (k == Node::Kind::kList || k == Node::Kind::kTuple) items = &seq_of((*args)[0]);
      }
      if ((set || frozen) && items) {
        out.append(set ? "{\"set\":" : "{\"frozenset\":");
        if (!render_items(*items, depth + 1, out)) return false;
        out.push_back('}');
        return true;
      }
      if (*name == "_codecs.encode" && args->size() == 2 &&
          node((*args)[0]).kind == Node::Kind::kStr && node((*args)[1]).kind == Node::Kind::kStr &&
          (strings_[static_cast<size_t>(node((*args)[1]).i)] == "latin1" ||
           strings_[static_cast<size_t>(node((*args)[1]).i)] == "latin-1")) {
        std::string bytes;
        if (latin1_bytes(strings_[static_cast<size_t>(node((*args)[0]).i)], bytes)) {
          out.append("{\"bytes\":\"");
          json::base64_append(out, bytes);
          out.append("\"}");
          return true;
        }
      }
    }
    out.push_back('{');
    const std::string* shown = name;
    std::uint32_t shown_args = o.args;
    if (name && args && (*name == "copyreg._reconstructor" || *name == "copy_reg._reconstructor") &&
        !args->empty() && global_name((*args)[0])) {
      shown = global_name((*args)[0]);
      shown_args = kNoNode;
    }
    if (shown) {
      out.append("\"class\":");
      json::append_string(out, *shown, json::Escape::kRawUnicode);
    } else {
      out.append("\"class\":null,\"callable\":");
      if (!render(o.callable, depth, out)) return false;
    }
    const auto member = [&](const char* key, std::uint32_t id) {
      if (id == kNoNode) return true;
      out.append(",\"").append(key).append("\":");
      return render(id, depth, out);
    };
    if (!member("args", shown_args) || !member("kwargs", o.kwargs) || !member("state", o.state))
      return false;
    if (!o.items.empty()) {
      out.append(",\"items\":");
      if (!render_items(o.items, depth, out)) return false;
    }
    if (!o.dict_items.empty()) {
      out.append(",\"dictitems\":");
      if (!render_pairs(o.dict_items, depth, out)) return false;
    }
    out.push_back('}');
    return true;
  }

  static bool latin1_bytes(std::string_view utf8, std::string& out) {
    const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
    for (size_t i = 0; i < utf8.size(); ++i) {
      if (s[i] < 0x80) {
        out.push_back(static_cast<char>(s[i]));
      } else if ((s[i] == 0xC2 || s[i] == 0xC3) && i + 1 < utf8.size()) {
        out.push_back(static_cast<char>(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F)));
        ++i;
      } else {
        return false;
      }
    }
    return true;
  }

  void render_big_int(std::string_view le, std::string& out) {
    const bool negative = (static_cast<unsigned char>(le.back()) & 0x80) != 0;
    std::vector<std::uint8_t> mag(le.begin(), le.end());
    if (negative) {  // two's complement magnitude: invert and add one
      unsigned carry = 1;
      for (auto& byte : mag) {
        const unsigned v = static_cast<std::uint8_t>(~byte) + carry;
        byte = static_cast<std::uint8_t>(v);
        carry = v >> 8;
      }
    }
    // Base 2^32 limbs, most significant first, divided by 10^9 until zero.
    std::vector<std::uint32_t> limbs((mag.size() + 3) / 4, 0);
    for (size_t k = 0; k < mag.size(); ++k)
      limbs[limbs.size() - 1 - k / 4] |= static_cast<std::uint32_t>(mag[k]) << (8 * (k % 4));
    std::vector<std::uint32_t> chunks;  // base 10^9, least significant first
    size_t first = 0;
    while (first < limbs.size()) {
      std::uint64_t rem = 0;
      for (size_t k = first; k < limbs.size(); ++k) {
        const std::uint64_t cur = (rem << 32) | limbs[k];
        limbs[k] = static_cast<std::uint32_t>(cur / 1000000000u);
        rem = cur % 1000000000u;
      }
      chunks.push_back(static_cast<std::uint32_t>(rem));
      while (first < limbs.size() && limbs[first] == 0) ++first;
    }
    if (chunks.empty()) chunks.push_back(0);
    if (negative) out.push_back('-');
    out.append(std::to_string(chunks.back()));
    for (size_t k = chunks.size() - 1; k-- > 0;) out.append(fmt::format("{:09}", chunks[k]));
  }

  bool render(std::uint32_t id, int depth, std::string& out) {
    if (too_big(out)) return false;
    const Node& n = node(id);
    switch (n.kind) {
      case Node::Kind::kNone: out.append("null"); return true;
      case Node::Kind::kBool: out.append(n.i ? "true" : "false"); return true;
      case Node::Kind::kInt: out.append(std::to_string(n.i)); return true;
      case Node::Kind::kBigInt:
        render_big_int(strings_[static_cast<size_t>(n.i)], out);
        return true;
      case Node::Kind::kFloat:
        if (std::isnan(n.f))
          out.append("{\"float\":\"nan\"}");
        else if (std::isinf(n.f))
          out.append(n.f > 0 ? "{\"float\":\"inf\"}" : "{\"float\":\"-inf\"}");
        else
          json::append_java_double(out, n.f);
        return true;
      case Node::Kind::kStr:
        json::append_string(out, strings_[static_cast<size_t>(n.i)], json::Escape::kRawUnicode);
        return true;
      case Node::Kind::kBytes:
      case Node::Kind::kByteArray:
        out.append(n.kind == Node::Kind::kBytes ? "{\"bytes\":\"" : "{\"bytearray\":\"");
        json::base64_append(out, strings_[static_cast<size_t>(n.i)]);
        out.append("\"}");
        return true;
      case Node::Kind::kGlobal:
        out.append("{\"class\":");
        json::append_string(out, strings_[static_cast<size_t>(n.i)], json::Escape::kRawUnicode);
        out.push_back('}');
        return true;
      default: break;
    }
    // Containers, counted as JSON counts nesting (the outermost is 1), with Jackson's limit.
    if (depth >= limits_.max_depth) {
      error_ = fmt::format("pickle: value nested deeper than {}", limits_.max_depth);
      return false;
    }
    // A value that holds itself is shown once, then as {"cycle":true}.
    if (on_path_.size() < nodes_.size()) on_path_.resize(nodes_.size(), 0);
    if (on_path_[id]) {
      out.append("{\"cycle\":true}");
      return true;
    }
    on_path_[id] = 1;
    bool ok = true;
    switch (n.kind) {
      case Node::Kind::kList:
      case Node::Kind::kTuple: ok = render_items(seq_of(id), depth + 1, out); break;
      case Node::Kind::kDict: ok = render_dict(seq_of(id), depth + 1, out); break;
      case Node::Kind::kSet:
      case Node::Kind::kFrozenSet:
        out.append(n.kind == Node::Kind::kSet ? "{\"set\":" : "{\"frozenset\":");
        ok = render_items(seq_of(id), depth + 2, out);
        out.push_back('}');
        break;
      case Node::Kind::kObject: ok = render_object(object_of(id), depth + 1, out); break;
      case Node::Kind::kPersistent:
        out.append("{\"persistent_id\":");
        ok = render(static_cast<std::uint32_t>(n.i), depth + 1, out);
        out.push_back('}');
        break;
      default: break;
    }
    on_path_[id] = 0;
    return ok && !too_big(out);
  }

  static constexpr size_t kMaxNodes = 1u << 22;

  std::string_view in_;
  const PayloadLimits& limits_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  unsigned char op_ = 0;
  std::string error_;
  std::vector<Node> nodes_;
  std::vector<std::string> strings_;
  std::vector<std::vector<std::uint32_t>> seqs_;
  std::vector<Object> objects_;
  std::vector<std::uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<std::uint64_t, std::uint32_t> memo_;
  std::vector<std::uint8_t> on_path_;
};

bool looks_like_pickle(std::string_view b) {
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x80 &&
         static_cast<unsigned char>(b[1]) >= 2 && static_cast<unsigned char>(b[1]) <= 5;
}

// {"exceptionClass": string, "message": string|null} and nothing else, in either order.
bool is_java_exception(simdjson::dom::element root) {
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return false;
  bool has_class = false, has_message = false;
  for (auto field : obj) {
    if (field.key == "exceptionClass" && field.value.is_string() && !has_class) {
      has_class = true;
    } else if (field.key == "message" && !has_message &&
               (field.value.is_string() || field.value.is_null())) {
      has_message = true;
    } else {
      return false;
    }
  }
  return has_class && has_message;
}

// The Kryo envelope memory values use: {"serde":"kryo","version":...,"payload":BASE64}.
bool kryo_envelope_size(simdjson::dom::element root, std::uint64_t& size) {
  std::string_view serde, payload;
  if (root["serde"].get_string().get(serde) || serde != "kryo") return false;
  if (root["payload"].get_string().get(payload)) return false;
  std::string bytes;
  if (!json::base64_decode(payload, bytes)) return false;
  size = bytes.size();
  return true;
}

}  // namespace

Result<std::string> read_pickle(std::string_view bytes, const PayloadLimits& limits) {
  return PickleReader(bytes, limits).read();
}

Result<DecodedPayload> decode_payload(std::string_view bytes, const PayloadLimits& limits) {
  DecodedPayload d;
  d.size = bytes.size();
  if (looks_like_pickle(bytes)) {
    AFTK_TRY_ASSIGN(d.value, read_pickle(bytes, limits));
    d.kind = PayloadKind::kPickle;
    return d;
  }
  if (!simdjson::validate_utf8(bytes.data(), bytes.size())) {
    d.kind = PayloadKind::kBytes;
    d.value.push_back('"');
    json::base64_append(d.value, bytes);
    d.value.push_back('"');
    return d;
  }
  // One parser a thread: payloads are decoded one after another, many per listing.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto normalized = json::normalize(bytes, {json::Escape::kRawUnicode});
  if (normalized && !parser.parse(bytes.data(), bytes.size()).get(root)) {
    d.value = std::move(*normalized);
    std::uint64_t kryo_size = 0;
    if (is_java_exception(root)) {
      d.kind = PayloadKind::kJavaException;
    } else if (kryo_envelope_size(root, kryo_size)) {
      d.kind = PayloadKind::kKryo;
      d.size = kryo_size;
      d.value.clear();
    } else {
      d.kind = PayloadKind::kJson;
    }
    return d;
  }
  d.kind = PayloadKind::kText;
  json::append_string(d.value, bytes, json::Escape::kRawUnicode);
  return d;
}

void append_payload_json(std::string& out, const DecodedPayload& payload) {
  out.append("{\"kind\":");
  json::append_string(out, payload_kind_name(payload.kind));
  if (payload.kind == PayloadKind::kKryo) {
    out.append(",\"size\":").append(std::to_string(payload.size)).push_back('}');
    return;
  }
  out.append(",\"value\":").append(payload.value).push_back('}');
}

}  // namespace aftk::actionstate
