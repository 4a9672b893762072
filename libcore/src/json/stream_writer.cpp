// SPDX-License-Identifier: Apache-2.0
// The streaming JSON writer the tools print with, and the re-indenting pretty printer.
#include <cmath>

#include <fmt/format.h>

#include "aftk/json/writer.h"

namespace aftk::json {

void Writer::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ == 0) return;
  const std::uint64_t bit = std::uint64_t{1} << ((depth_ - 1) & 63);
  if (has_items_ & bit) out_.push_back(',');
  has_items_ |= bit;
}

Writer& Writer::open(char bracket) {
  separate();
  out_.push_back(bracket);
  ++depth_;
  has_items_ &= ~(std::uint64_t{1} << ((depth_ - 1) & 63));
  return *this;
}

Writer& Writer::close(char bracket) {
  out_.push_back(bracket);
  if (depth_ > 0) --depth_;
  return *this;
}

Writer& Writer::key(std::string_view name) {
  separate();
  append_string(out_, name, mode_);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

Writer& Writer::value(std::string_view s) {
  separate();
  append_string(out_, s, mode_);
  return *this;
}

Writer& Writer::value(double d) {
  if (!std::isfinite(d)) return null();
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", d);
  return *this;
}

Writer& Writer::integer(std::int64_t v) {
  separate();
  append_int(out_, v);
  return *this;
}

Writer& Writer::unsigned_integer(std::uint64_t v) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", v);
  return *this;
}

Writer& Writer::raw(std::string_view json) {
  separate();
  out_.append(json);
  return *this;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string pretty(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 2);
  size_t depth = 0;
  const auto newline = [&] {
    out.push_back('\n');
    out.append(2 * depth, ' ');
  };
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '"') {  // copy the whole string, escapes included
      const size_t start = i++;
      while (i < in.size() && in[i] != '"') i += in[i] == '\\' ? 2 : 1;
      out.append(in.substr(start, i - start + 1));
      continue;
    }
    if (is_space(c)) continue;
    if (c == '{' || c == '[') {
      size_t j = i + 1;
      while (j < in.size() && is_space(in[j])) ++j;
      if (j < in.size() && in[j] == (c == '{' ? '}' : ']')) {
        out.push_back(c);
        out.push_back(in[j]);
        i = j;
        continue;
      }
      out.push_back(c);
      ++depth;
      newline();
    } else if (c == '}' || c == ']') {
      if (depth > 0) --depth;
      newline();
      out.push_back(c);
    } else if (c == ',') {
      out.push_back(',');
      newline();
    } else if (c == ':') {
      out.append(": ");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace aftk::json
