// SPDX-License-Identifier: Apache-2.0
// serde_bench: decode and encode throughput of ActionState JSON against a raw simdjson walk of
// the same values, measured in the same run. A benchmark, not a test: it prints figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "aftk/actionstate/serde.h"
#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"

using namespace aftk;
using namespace aftk::actionstate;
namespace od = simdjson::ondemand;

namespace {

std::string random_text(std::mt19937_64& rng, size_t n) {
  static const char* words[] = {"the", "agent", "called", "tool", "with", "order", "refund", "ticket",
                                "customer", "said", "\"quoted\"", "line\nbreak", "ünïcödé", "价格",
                                "emoji 😀", "path\\to", "tab\there", "42", "status:", "ok"};
  std::string s;
  while (s.size() < n) {
    s += words[rng() % (sizeof words / sizeof *words)];
    s.push_back(' ');
  }
  return s;
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string b(n, '\0');
  for (auto& c : b) c = static_cast<char>(rng());
  return b;
}

std::string make_value(std::mt19937_64& rng, int i) {
  ActionState s;
  Event e;
  e.class_name = std::string(kInputEventClass);
  e.id = fmt::format("{:08x}-2222-4333-8444-{:012x}", i, rng() & 0xFFFFFFFFFFFFull);
  e.type = "_input_event";
  std::string attrs;
  attrs += "{\"input\":";
  json::append_string(attrs, random_text(rng, 200 + rng() % 400));
  attrs += fmt::format(",\"userId\":{},\"score\":{},\"tags\":[\"a\",\"b\",\"c\"],\"meta\":{{\"region\":\"eu-west-1\",\"attempt\":{},\"ratio\":{}}}}}",
                       rng() % 1000000, (rng() % 10000) / 100.0, rng() % 5, (rng() % 1000) / 7.0);
  e.attributes = json::normalize(attrs).value();
  s.task_event = e;
  const int calls = 1 + static_cast<int>(rng() % 4);
  for (int c = 0; c < calls; ++c) {
    const auto digest = fmt::format("{:016x}", rng());
    switch (rng() % 4) {
      case 0: s.call_results.push_back(CallResult::pending("agents.tools.search", digest)); break;
      case 1: s.call_results.push_back(CallResult::failure("agents.tools.fetch", digest, R"({"exceptionClass":"java.io.IOException","message":"timeout"})")); break;
      default: s.call_results.push_back(CallResult::success("agents.llm.chat", digest, random_bytes(rng, 100 + rng() % 300)));
    }
  }
  if (rng() % 2) {
    s.short_term_memory_updates.push_back({"conversation.summary", MemoryValue::kryo(json::base64_encode(random_bytes(rng, 120)))});
    s.sensory_memory_updates.push_back({"last.tool", MemoryValue::null()});
    Event out;
    out.class_name = std::string(kOutputEventClass);
    out.id = e.id;
    out.type = "_output_event";
    std::string o = "{\"output\":";
    json::append_string(o, random_text(rng, 150));
    o += "}";
    out.attributes = o;
    out.upstream_event_id = e.id;
    out.upstream_action_name = "process";
    s.output_events.push_back(out);
    s.mark_completed();
  }
  return encode(s);
}

// Visits every value of a document the way any consumer of it must: strings unescaped,
// numbers parsed.
simdjson::error_code walk(od::value v, std::uint64_t& sink) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto f : o) {
        od::field field;
        if (auto e = std::move(f).get(field)) return e;
        std::string_view k;
        if (auto e = field.unescaped_key().get(k)) return e;
        sink += k.size();
        if (auto e = walk(field.value(), sink)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto x : a) {
        od::value xv;
        if (auto e = std::move(x).get(xv)) return e;
        if (auto e = walk(xv, sink)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      sink += s.size();
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      double d;
      if (auto e = v.get_double().get(d)) return e;
      sink += static_cast<std::uint64_t>(d != 0);
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return e;
      sink += b;
      return simdjson::SUCCESS;
    }
    case od::json_type::null:
      sink += v.is_null();
      return simdjson::SUCCESS;
  }
  return simdjson::SUCCESS;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class F>
double best_of(int reps, F&& f) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const double target_mb = argc > 1 ? std::atof(argv[1]) : 200.0;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  std::mt19937_64 rng(42);
  // One buffer holding every value, each followed by simdjson's padding.
  std::vector<std::pair<size_t, size_t>> spans;
  std::string buf;
  size_t bytes = 0;
  for (int i = 0; bytes < target_mb * 1e6; ++i) {
    const std::string v = make_value(rng, i);
    spans.emplace_back(buf.size(), v.size());
    buf += v;
    buf.append(simdjson::SIMDJSON_PADDING, ' ');
    bytes += v.size();
  }
  const double mb = static_cast<double>(bytes) / 1e6;
  fmt::print("serde_bench: {} values, {:.1f} MB of ActionState JSON (avg {} bytes), best of {}\n",
             spans.size(), mb, bytes / spans.size(), reps);

  od::parser parser;
  std::uint64_t sink = 0;
  auto raw_pass = [&] {
    for (auto [off, len] : spans) {
      od::document doc;
      if (parser.iterate(simdjson::padded_string_view(buf.data() + off, len, len + simdjson::SIMDJSON_PADDING)).get(doc)) std::abort();
      od::value v;
      if (doc.get_value().get(v) || walk(v, sink)) std::abort();
    }
  };
  Decoder decoder;
  ActionState state;
  auto decode_pass = [&] {
    for (auto [off, len] : spans)
      if (!decoder.decode_padded(simdjson::padded_string_view(buf.data() + off, len, len + simdjson::SIMDJSON_PADDING), state)) std::abort();
  };
  // Alternate the two passes so a busy neighbour slows both alike; the ratio of each pair is
  // what counts, and its median is reported.
  std::vector<double> ratios;
  double t_raw = 1e300, t_decode = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double a = best_of(1, raw_pass);
    const double b = best_of(1, decode_pass);
    t_raw = std::min(t_raw, a);
    t_decode = std::min(t_decode, b);
    ratios.push_back(a / b);
  }
  std::sort(ratios.begin(), ratios.end());
  const double median_ratio = ratios[ratios.size() / 2];

  // Decode once into a vector for the encode pass.
  std::vector<ActionState> states;
  states.reserve(spans.size());
  for (auto [off, len] : spans) states.push_back(decoder.decode(std::string_view(buf.data() + off, len)).value());
  std::string out;
  std::uint64_t out_bytes = 0;
  // The same through the copying entry point (what a Kafka consumer's unpadded payload costs).
  const double t_decode_copy = best_of(reps, [&] {
    for (auto [off, len] : spans)
      if (!decoder.decode(std::string_view(buf.data() + off, len), state)) std::abort();
  });
  const double t_encode = best_of(reps, [&] {
    out_bytes = 0;
    for (const auto& s : states) {
      out.clear();
      encode(s, out);
      out_bytes += out.size();
    }
  });
  if (out_bytes != bytes) fmt::print("serde_bench: warning: re-encoded {} bytes, expected {}\n", out_bytes, bytes);

  fmt::print("{:<28} {:>10.0f} MB/s\n", "raw simdjson walk", mb / t_raw);
  fmt::print("{:<28} {:>10.0f} MB/s   {:.2f}x raw walk, median of {} paired runs (target >= 0.5x)\n", "decode into ActionState", mb / t_decode, median_ratio, reps);
  fmt::print("{:<28} {:>10.0f} MB/s   {:.2f}x raw walk\n", "decode, copying input", mb / t_decode_copy, t_raw / t_decode_copy);
  fmt::print("{:<28} {:>10.0f} MB/s\n", "encode (byte-exact)", mb / t_encode);
  fmt::print("{{\"bench\":\"serde\",\"mb\":{:.1f},\"raw_mbps\":{:.0f},\"decode_mbps\":{:.0f},\"encode_mbps\":{:.0f},\"decode_over_raw\":{:.3f}}}\n",
             mb, mb / t_raw, mb / t_decode, mb / t_encode, median_ratio);
  return sink == 42 ? 1 : 0;
}
