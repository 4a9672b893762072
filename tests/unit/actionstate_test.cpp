// SPDX-License-Identifier: Apache-2.0
// The action-state model, serde, keys, partitioner, markers and stores: upstream's scenarios
// (spec section 7) and bad input.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "aftk/actionstate/call_id.h"
#include "aftk/actionstate/file_store.h"
#include "aftk/actionstate/history.h"
#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/key.h"
#include "aftk/detail/key_table.h"
#include "aftk/actionstate/marker.h"
#include "aftk/actionstate/serde.h"
#include "aftk/actionstate/snapshot.h"
#include "aftk/actionstate/store.h"
#include "aftk/cli/store_source.h"
#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

using namespace aftk;
using namespace aftk::actionstate;

namespace {

Event input_event(std::string attributes, std::string id = "11111111-2222-3333-4444-555555555555") {
  Event e;
  e.class_name = std::string(kInputEventClass);
  e.id = std::move(id);
  e.type = "_input_event";
  e.attributes = json::normalize(attributes).value();
  return e;
}

const std::string kAction = action_uuid_legacy(
    python_action_hash({"process", "my_module", "MyAgent.process", {"_input_event"}}));
const std::string kOtherAction = action_uuid_from_name("other-action");

StateKey key_for(const std::string& bk, std::int64_t seq, const std::string& action = kAction,
                 const std::string& input = "hello") {
  return make_key_v03(bk, seq, input_event("{\"input\":\"" + input + "\"}"), action).value();
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("aftk-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

ActionState roundtrip(const ActionState& s) {
  Decoder d;
  auto r = d.decode(encode(s));
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  return *r;
}

}  // namespace

// ---- ActionStateUtilTest ---------------------------------------------------------------------

TEST_CASE("ActionStateUtil.equal input data gives equal keys even when event ids differ") {
  auto a = make_key_v03("k", 1, input_event("{\"input\":\"x\"}", "aaaaaaaa-0000-4000-8000-000000000000"), kAction);
  auto b = make_key_v03("k", 1, input_event("{\"input\":\"x\"}", "bbbbbbbb-0000-4000-8000-000000000000"), kAction);
  CHECK(a->to_string() == b->to_string());
  auto c = make_key_v03("k", 1, input_event("{\"input\":\"y\"}"), kAction);
  CHECK(a->to_string() != c->to_string());
}

TEST_CASE("ActionStateUtil.missing parts are errors, not crashes") {
  CHECK_FALSE(make_key_v03("", 1, input_event("{}"), kAction).has_value());
  CHECK_FALSE(make_key_v03("k", -1, input_event("{}"), kAction).has_value());
  Event broken = input_event("{}");
  broken.attributes = "{not json";
  CHECK_FALSE(make_key_v03("k", 1, broken, kAction).has_value());
}

TEST_CASE("ActionStateUtil.parseKey parity and our right-to-left parse") {
  const std::string key = key_for("user", 3).to_string();
  auto up = upstream_parse_key(key);
  REQUIRE(up.has_value());
  CHECK((*up)[0] == "user");
  CHECK((*up)[1] == "3");
  for (const char* bad : {"only_three_parts", "", "a_b_c_d_e_f"}) {
    CAPTURE(bad);
    auto r = upstream_parse_key(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == "Invalid key format.");
  }
  CHECK_FALSE(parse_key("only_three_parts").has_value());
  CHECK_FALSE(parse_key("").has_value());
  // Upstream cannot parse a business key with '_'; we can.
  auto k = key_for("acct_7_x", 0);
  CHECK_FALSE(upstream_parse_key(k.to_string()).has_value());
  auto parsed = parse_key(k.to_string());
  REQUIRE(parsed.has_value());
  CHECK(parsed->business_key == "acct_7_x");
  CHECK(*parsed == k);
}

TEST_CASE("ActionStateUtil.'@' and '#' in the key are fine; UUID segments do not depend on the key") {
  auto a = key_for("key@with#chars", 1);
  auto b = key_for("other", 1);
  CHECK(parse_key(a.to_string())->business_key == "key@with#chars");
  CHECK(a.event_uuid == b.event_uuid);
  CHECK(a.action_uuid == b.action_uuid);
}

TEST_CASE("StateKey.malformed fields are named") {
  const std::string uuid = "22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  struct Case {
    std::string key;
    std::string needle;
  } cases[] = {
      {"k_01_" + uuid + "_" + uuid, "sequence number '01'"},
      {"k_-1_" + uuid + "_" + uuid, "sequence number '-1'"},
      {"k_x_" + uuid + "_" + uuid, "sequence number 'x'"},
      {"k_99999999999999999999_" + uuid + "_" + uuid, "sequence number"},
      {"k_1_not-a-uuid_" + uuid, "event UUID 'not-a-uuid'"},
      {"k_1_" + uuid + "_22BF7B3D-F5C0-3314-93E2-9385C03E03B1", "action UUID"},
      {"_1_" + uuid + "_" + uuid, "empty business key"},
      {"5_1_" + uuid + "_" + uuid + "_" + std::string(42, 'A') + "==", "business key id"},
      {"x_1_" + uuid + "_" + uuid + "_a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=", "key group 'x'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    auto r = parse_key(c.key);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::kInvalidArgument);
    CHECK(r.error().message.find(c.needle) != std::string::npos);
  }
}

TEST_CASE("StateKey.0.4 five-field keys (from the spec; no golden file exists yet)") {
  // The 0.4 format is read from unpinned upstream sources (spec section 10); these vectors are
  // the spec's, cross-checked there in Java.
  Event e = input_event("{\"input\":\"hello\"}");
  auto k = make_key_v04(flink_string_serializer_bytes("A"), json::java_string_hash("A"), 128, 7, e,
                        "test-action");
  REQUIRE(k.has_value());
  CHECK(k->format == KeyFormat::kV04);
  CHECK(k->key_group == 104);
  CHECK(k->action_uuid == "30e6b546-354f-3cf6-a60e-7956be205a13");
  CHECK(k->business_key_id == "a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=");
  const std::string text = k->to_string();
  CHECK(text == "104_7_b6dc5e36-12ea-3bb2-8ca3-e0ea9865efcf_30e6b546-354f-3cf6-a60e-7956be205a13_"
                "a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=");
  auto parsed = parse_key(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == *k);
  CHECK(parsed->identity() == "a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=");
  // The 0.4 partitioner hashes the digest: "dGVuYW50X3VzZXI=" -> 2 of 3 per the spec vector,
  // checked through java_string_hash on the same rule.
  CHECK(flink_murmur_hash(json::java_string_hash("dGVuYW50X3VzZXI=")) % 3 == 2);
  CHECK(partition_for_key(text, 64).value() ==
        flink_murmur_hash(json::java_string_hash(k->business_key_id)) % 64);
  // Long keys: key group 86 at 128 for Long 1.
  auto kl = make_key_v04(flink_long_serializer_bytes(1), java_long_hash(1), 128, 0, e, "action");
  CHECK(kl->key_group == 86);
  CHECK(kl->action_uuid == "418c5509-e217-3d55-b0ae-e5c2ea4442b5");
}

// ---- ActionStateKeyPartitionerTest ----------------------------------------------------------

TEST_CASE("Partitioner.in range, stable by first segment, exact errors, spread") {
  const std::string uuid = "22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  auto p1 = partition_for_key("abc_1_" + uuid + "_" + uuid, 3);
  auto p2 = partition_for_key("abc_2_x_y", 3);
  REQUIRE(p1.has_value());
  CHECK(*p1 >= 0);
  CHECK(*p1 < 3);
  CHECK(*p1 == *p2);
  CHECK(partition_for_key("only_three_parts", 3).error().message == "Key format is invalid");
  CHECK(partition_for_key("_1_a_b", 3).error().message == "First part of the key cannot be empty");
  CHECK(partition_for_key("a_b_c_d_e_f", 3).has_value());
  std::map<int, int> spread;
  for (int i = 0; i < 100; ++i) spread[partition_for_key("key" + std::to_string(i) + "_1_a_b", 3).value()]++;
  CHECK(spread.size() >= 2);
  for (auto [p, n] : spread) CHECK(n <= 80);
  CHECK(partition_for_key("abc_1_a_b", 1).value() == 0);
  CHECK_FALSE(partition_for_key("abc_1_a_b", 0).has_value());
}

// ---- ActionStateSerdeTest ---------------------------------------------------------------------

TEST_CASE("Serde.round trips preserve events, memory, call results and completion") {
  ActionState s(input_event("{\"input\":\"hi\",\"extra\":{\"n\":42,\"l\":[1,2.5,null,true]}}"));
  Event out;
  out.class_name = std::string(kOutputEventClass);
  out.id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
  out.type = "_output_event";
  out.attributes = "{\"output\":42}";
  out.upstream_event_id = "11111111-2222-3333-4444-555555555555";
  out.upstream_action_name = "process";
  s.output_events.push_back(out);
  Event chat;
  chat.class_name = "org.apache.flink.agents.api.event.ChatRequestEvent";
  chat.id = "cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee";
  chat.type = "_chat_request_event";
  chat.attributes = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
  s.output_events.push_back(chat);
  s.sensory_memory_updates.push_back({"sm.k", MemoryValue::null()});
  s.short_term_memory_updates.push_back({"stm.k", MemoryValue::kryo("S1JZTzp2")});
  s.call_results.push_back(CallResult::success("mod.f", "0123456789abcdef", std::string("\"ok\"")));
  s.call_results.push_back(CallResult::pending("mod.h", "fedcba9876543210"));
  s.call_results.push_back(CallResult::success("mod.n", "", std::nullopt));
  CHECK(roundtrip(s) == s);
  CHECK(roundtrip(s).call_results[2].is_success());

  ActionState empty;
  CHECK(roundtrip(empty) == empty);
  CHECK(encode(empty) ==
        "{\"taskEvent\":null,\"sensoryMemoryUpdates\":[],\"shortTermMemoryUpdates\":[],"
        "\"outputEvents\":[],\"callResults\":[],\"completed\":false}");

  ActionState done = s;
  done.mark_completed();
  CHECK(roundtrip(done) == done);
  CHECK(roundtrip(done).call_results.empty());
}

TEST_CASE("Serde.the spec's verified example encodes to the exact bytes") {
  ActionState s(input_event("{\"input\":\"hello\"}"));
  s.sensory_memory_updates.push_back({"sm.k", MemoryValue::null()});
  s.short_term_memory_updates.push_back({"stm.k", MemoryValue::kryo("S1JZTzp2")});
  Event out;
  out.class_name = std::string(kOutputEventClass);
  out.id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
  out.type = "_output_event";
  out.attributes = "{\"output\":42}";
  out.upstream_event_id = "11111111-2222-3333-4444-555555555555";
  out.upstream_action_name = "process";
  s.output_events.push_back(out);
  s.call_results.push_back(CallResult::success("mod.f", "0123456789abcdef", std::string("\"ok\"")));
  s.call_results.push_back(CallResult::pending("mod.h", "fedcba9876543210"));
  CHECK(encode(s) ==
        R"({"taskEvent":{"@class":"org.apache.flink.agents.api.InputEvent","id":"11111111-2222-3333-4444-555555555555","attributes":{"input":"hello"},"type":"_input_event"},)"
        R"("sensoryMemoryUpdates":[{"path":"sm.k","value":null}],)"
        R"("shortTermMemoryUpdates":[{"path":"stm.k","value":{"serde":"kryo","version":1,"payload":"S1JZTzp2"}}],)"
        R"("outputEvents":[{"@class":"org.apache.flink.agents.api.OutputEvent","id":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","attributes":{"output":42},"upstreamEventId":"11111111-2222-3333-4444-555555555555","upstreamActionName":"process","type":"_output_event"}],)"
        R"("callResults":[{"functionId":"mod.f","argsDigest":"0123456789abcdef","resultPayload":"Im9rIg==","exceptionPayload":null,"status":"SUCCEEDED"},)"
        R"({"functionId":"mod.h","argsDigest":"fedcba9876543210","resultPayload":null,"exceptionPayload":null,"status":"PENDING"}],)"
        R"("completed":false})");
}

TEST_CASE("Serde.field names with JSON escapes decode like plain ones") {
  // Names are read from the input as they are unless they hold a backslash; escaped names
  // (legal JSON, though Jackson never writes them) must still be recognised.
  ActionState s(input_event("{\"input\":\"hello\"}"));
  s.short_term_memory_updates.push_back({"stm.k", MemoryValue::kryo("S1JZTzp2")});
  s.call_results.push_back(CallResult::success("mod.f", "0123456789abcdef", std::string("1")));
  const std::string plain = encode(s);
  std::string escaped = plain;
  for (auto [from, to] : {std::pair<std::string, std::string>{"\"@class\"", "\"\\u0040class\""},
                          {"\"callResults\"", "\"call\\u0052esults\""},
                          {"\"payload\"", "\"pay\\u006coad\""}}) {
    const auto at = escaped.find(from);
    REQUIRE(at != std::string::npos);
    escaped.replace(at, from.size(), to);
  }
  Decoder d;
  ActionState back;
  REQUIRE(d.decode(escaped, back));
  CHECK(encode(back) == plain);
  // A name that only starts like a known one is still unknown.
  std::string longer = plain;
  longer.replace(longer.find("\"completed\""), 11, "\"completedX\"");
  CHECK_FALSE(d.decode(longer, back));
}

TEST_CASE("Serde.legacy call results without status infer success or failure") {
  Decoder d;
  auto s = d.decode(R"({"callResults":[{"functionId":"f","argsDigest":"d","resultPayload":"AQID","exceptionPayload":null},)"
                    R"({"functionId":"g","argsDigest":"d","resultPayload":null,"exceptionPayload":"AQID"}]})");
  REQUIRE(s.has_value());
  CHECK_FALSE(s->call_results[0].status.has_value());
  CHECK(s->call_results[0].is_success());
  CHECK(s->call_results[1].is_failure());
  CHECK(*s->call_results[0].result_payload == "\x01\x02\x03");
  // Missing fields take the constructor defaults.
  CHECK(s->task_event == std::nullopt);
  CHECK_FALSE(s->completed);
}

TEST_CASE("Serde.memory values: envelope kept verbatim; bare values and version 2 rejected") {
  Decoder strict;
  auto base = [](const std::string& value) {
    return R"({"sensoryMemoryUpdates":[{"path":"p","value":)" + value + "}]}";
  };
  auto ok = strict.decode(base(R"({"serde":"kryo","version":1,"payload":"RkFLRS1LUllPOmphdmEubGFuZy5TdHJpbmc6dg=="})"));
  REQUIRE(ok.has_value());
  CHECK(ok->sensory_memory_updates[0].value == MemoryValue::kryo("RkFLRS1LUllPOmphdmEubGFuZy5TdHJpbmc6dg=="));
  for (const char* bad : {"42", "\"plain\"", R"({"a":1})", R"({"serde":"kryo","version":2,"payload":"AQID"})",
                          R"({"serde":"kryo","version":1,"payload":"AQI"})",
                          R"({"serde":"json","version":1,"payload":"AQID"})"}) {
    CAPTURE(bad);
    auto r = strict.decode(base(bad));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("sensoryMemoryUpdates[0].value") != std::string::npos);
  }
  // Lenient mode keeps a 0.3.0-style plain value and says so.
  Decoder lenient({ReadMode::kLenient, false});
  std::vector<Deviation> devs;
  auto plain = lenient.decode(base(R"({"b":1.50,"a":"x"})"), &devs);
  REQUIRE(plain.has_value());
  CHECK(plain->sensory_memory_updates[0].value.kind == MemoryValue::Kind::kPlainJson);
  CHECK(plain->sensory_memory_updates[0].value.text == R"({"b":1.5,"a":"x"})");
  REQUIRE(devs.size() == 1);
  CHECK(devs[0].path == "sensoryMemoryUpdates[0].value");
}

TEST_CASE("Serde.byte[] attributes read back as base64 strings; numbers keep int vs double") {
  Decoder d;
  auto s = d.decode(R"({"taskEvent":{"@class":"org.apache.flink.agents.api.Event","id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":{"b":"AQID","n":42,"m":{"x":42,"y":4.2e1}}}})");
  REQUIRE(s.has_value());
  CHECK(s->task_event->attributes == R"({"b":"AQID","n":42,"m":{"x":42,"y":42.0}})");
}

TEST_CASE("Serde.strict rejects what upstream rejects; lenient reads it and reports each deviation") {
  const std::string ev = R"("@class":"org.apache.flink.agents.api.Event","id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":{})";
  struct Case {
    std::string json;
    std::string path;
  } cases[] = {
      {R"({"bogus":1})", "bogus"},
      {R"({"taskEvent":{)" + ev + R"(,"bogus":1}})", "taskEvent.bogus"},
      {R"({"taskEvent":{"id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":{}}})", "taskEvent"},
      {R"({"taskEvent":{"@class":"org.apache.flink.agents.api.Event","id":"11111111-2222-3333-4444-555555555555","type":"","attributes":{}}})", "taskEvent"},
      {R"({"callResults":[{"functionId":"f","argsDigest":"d","resultPayload":"AQI","exceptionPayload":null,"status":"SUCCEEDED"}]})", "callResults[0].resultPayload"},
      {R"({"callResults":[{"functionId":"f","argsDigest":"d","resultPayload":null,"exceptionPayload":null,"status":"DONE"}]})", "callResults[0].status"},
      {R"({"callResults":[{"functionId":"f","bogus":true}]})", "callResults[0].bogus"},
      {R"({"outputEvents":[{)" + ev + R"(},{)" + ev + R"(,"x":null}]})", "outputEvents[1].x"},
  };
  Decoder strict;
  Decoder lenient({ReadMode::kLenient, false});
  for (const auto& c : cases) {
    CAPTURE(c.json);
    auto r = strict.decode(c.json);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::kCorruptRecord);
    CHECK(r.error().message.rfind(c.path, 0) == 0);
    std::vector<Deviation> devs;
    auto l = lenient.decode(c.json, &devs);
    CHECK_MESSAGE(l.has_value(), (l.has_value() ? "" : l.error().to_string()));
    REQUIRE(devs.size() == 1);
    CHECK(devs[0].path == c.path);
  }
  // The 0.3.1 reader does not know the lineage fields.
  Decoder v031({ReadMode::kStrict, true});
  CHECK_FALSE(v031.decode(R"({"taskEvent":{)" + ev + R"(,"upstreamEventId":"x"}})").has_value());
  CHECK(strict.decode(R"({"taskEvent":{)" + ev + R"(,"upstreamEventId":"x"}})").has_value());
}

TEST_CASE("Serde.bad input is an error with a reason, never a crash") {
  Decoder d;
  const char* bad[] = {
      "", "{", R"({"completed":tru)", "[]", "null", "42", R"({"completed":"yes"})",
      R"({"callResults":{}})", R"({"taskEvent":[]})", "{\"taskEvent\":{\"@class\":\"\xff\"}}",
      R"({"completed":false} {"completed":true})", R"({"callResults":[{"resultPayload":5}]})",
      R"({"taskEvent":{"@class":"E","id":"not-a-uuid","type":"t","attributes":{}}})",
      R"({"taskEvent":{"@class":"E","id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":[1]}})",
  };
  for (const char* b : bad) {
    CAPTURE(b);
    auto r = d.decode(b);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::kCorruptRecord);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("Serde.a 100 MB value decodes, and a truncated one fails cleanly") {
  std::string big = R"({"taskEvent":{"@class":"org.apache.flink.agents.api.Event","id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":{"blob":")";
  big.append(100u << 20, 'x');
  big.append(R"("}},"completed":true})");
  Decoder d;
  auto s = d.decode(big);
  REQUIRE(s.has_value());
  CHECK(s->task_event->attributes.size() == (100u << 20) + 11);
  CHECK(encode(*s) == R"({"taskEvent":{"@class":"org.apache.flink.agents.api.Event","id":"11111111-2222-3333-4444-555555555555","type":"t","attributes":{"blob":")" +
                          std::string(100u << 20, 'x') +
                          R"("}},"sensoryMemoryUpdates":[],"shortTermMemoryUpdates":[],"outputEvents":[],"callResults":[],"completed":true})");
  big.resize(big.size() / 2);
  CHECK_FALSE(d.decode(big).has_value());
}

// ---- CallResultTest / ActionStateTest -------------------------------------------------------

TEST_CASE("CallResult.constructors, inference, matching, equality, text") {
  auto ok = CallResult::success("f", "d", std::string("abc"));
  auto bad = CallResult::failure("f", "d", "boom");
  auto pend = CallResult::pending("f", "d");
  CHECK(ok.is_success());
  CHECK(bad.is_failure());
  CHECK(pend.is_pending());
  CHECK_FALSE(pend.result_payload.has_value());
  CallResult legacy{"f", "d", std::nullopt, std::string("x"), std::nullopt};
  CHECK(legacy.is_failure());
  legacy.exception_payload.reset();
  CHECK(legacy.is_success());
  CallResult nulls{std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  CHECK(nulls.matches(std::nullopt, std::nullopt));
  CHECK_FALSE(nulls.matches("f", std::nullopt));
  CHECK(ok.matches("f", "d"));
  CHECK_FALSE(ok.matches("f", "e"));
  CHECK(ok == CallResult::success("f", "d", std::string("abc")));
  CHECK_FALSE(ok == CallResult::success("f", "d", std::string("abd")));
  CallResult ok_pending = ok;
  ok_pending.status = CallStatus::kPending;
  CHECK_FALSE(ok == ok_pending);
  const auto text = ok.to_string();
  CHECK(text.find("bytes") != std::string::npos);
  CHECK(text.find("null") != std::string::npos);
  CHECK(text.find("SUCCEEDED") != std::string::npos);
}

TEST_CASE("ActionState.mark_completed, clear_call_results_from, equality") {
  ActionState s(input_event("{}"));
  s.short_term_memory_updates.push_back({"p", MemoryValue::null()});
  s.output_events.push_back(input_event("{}"));
  s.call_results = {CallResult::success("a", "", std::nullopt), CallResult::success("b", "", std::nullopt),
                    CallResult::pending("c", "")};
  CHECK(s.pending_calls() == 1);
  ActionState t = s;
  t.clear_call_results_from(-1);
  t.clear_call_results_from(3);
  CHECK(t.call_results.size() == 3);
  t.clear_call_results_from(1);
  CHECK(t.call_results.size() == 1);
  s.mark_completed();
  CHECK(s.completed);
  CHECK(s.call_results.empty());
  CHECK(s.short_term_memory_updates.size() == 1);
  CHECK(s.output_events.size() == 1);
  ActionState u = s;
  CHECK(u == s);
  u.completed = false;
  CHECK_FALSE(u == s);
}

// ---- Markers --------------------------------------------------------------------------------

TEST_CASE("Marker.legacy and versioned forms parse, print and merge by minimum") {
  auto legacy = parse_marker(R"({"0":5,"1":3})");
  REQUIRE(legacy.has_value());
  CHECK_FALSE(legacy->versioned());
  CHECK(legacy->offsets == OffsetMap{{0, 5}, {1, 3}});
  CHECK(to_json(*legacy) == R"({"0":5,"1":3})");
  CHECK(parse_marker("{}")->offsets.empty());
  auto v = parse_marker(R"({"schemaVersion":1,"topic":"t","topicId":"AAECAwQFBgcICQoLDA0ODw","offsets":{"0":10,"1":25}})");
  REQUIRE(v.has_value());
  CHECK(v->versioned());
  CHECK(to_json(*v) == R"({"schemaVersion":1,"topic":"t","topicId":"AAECAwQFBgcICQoLDA0ODw","offsets":{"0":10,"1":25}})");
  auto w = parse_marker(R"({"schemaVersion":1,"topic":"t","topicId":"AAECAwQFBgcICQoLDA0ODw","offsets":{"0":15,"1":20}})");
  std::vector<RecoveryMarker> both{*v, *w};
  CHECK(merge_markers(both)->offsets == OffsetMap{{0, 10}, {1, 20}});
  std::vector<RecoveryMarker> mixed{*v, *legacy};
  CHECK(merge_markers(mixed).error().code == Errc::kConflict);
  auto other_id = *w;
  other_id.topic_id = "AAECAwQFBgcICQoLDA0OEA";
  std::vector<RecoveryMarker> ids{*v, other_id};
  CHECK(merge_markers(ids).error().message.find("topic ids") != std::string::npos);
  auto list = parse_markers(R"([{"0":5},{"0":2,"1":9}])");
  REQUIRE(list.has_value());
  CHECK(merge_markers(*list)->offsets == OffsetMap{{0, 2}, {1, 9}});
  for (const char* bad : {R"({"0":-1})", R"({"+0":1})", R"({"00":1})", R"({"0":1.5})",
                          R"({"schemaVersion":2,"topic":"t","topicId":"x","offsets":{"0":1}})",
                          R"({"schemaVersion":1,"topic":" ","topicId":"x","offsets":{"0":1}})",
                          R"({"schemaVersion":1,"topic":"t","topicId":"x","offsets":{}})", "[1]", "{"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_marker(bad).has_value());
  }
}

// ---- Stores (KafkaActionStateStoreTest scenarios on the memory and file stores) ---------------

namespace {

std::unique_ptr<LogStore> make_store(bool file, std::int32_t partitions, const std::string& name) {
  if (!file) return std::make_unique<MemoryStore>(partitions);
  FileStoreOptions o;
  o.num_partitions = partitions;
  return FileStore::open(temp_path(name), o).value();
}

}  // namespace

TEST_CASE("Store.upstream scenarios on the memory and the file store") {
  for (bool file : {false, true}) {
    CAPTURE(file);
    SUBCASE("put writes one record whose key starts with the business key and seq") {
      auto store = make_store(file, 2, "put.jsonl");
      ActionState s(input_event("{\"input\":\"hello\"}"));
      const auto k = key_for("test-key", 1);
      REQUIRE(store->put(k, s).has_value());
      CHECK(store->cache().size() == 1);
      CHECK(k.to_string().rfind("test-key_1_", 0) == 0);
      CHECK(store->get(k).value() == s);
      auto end = store->end_offsets().value();
      CHECK(end[0] + end[1] == 1);
      // Putting the same key twice produces two records.
      REQUIRE(store->put(k, s).has_value());
      end = store->end_offsets().value();
      CHECK(end[0] + end[1] == 2);
      CHECK(store->cache().size() == 1);
    }
    SUBCASE("a miss drops later sequences of that business key only") {
      auto store = make_store(file, 2, "miss.jsonl");
      for (int seq = 1; seq <= 4; ++seq) REQUIRE(store->put(key_for("test-key", seq), ActionState()).has_value());
      for (int seq = 1; seq <= 4; ++seq) REQUIRE(store->put(key_for("bystander", seq), ActionState()).has_value());
      CHECK_FALSE(store->get(key_for("test-key", 2, kOtherAction)).value().has_value());
      CHECK(store->get(key_for("test-key", 1)).value().has_value());
      CHECK(store->get(key_for("test-key", 2)).value().has_value());
      CHECK_FALSE(store->get(key_for("test-key", 3)).value().has_value());
      CHECK_FALSE(store->get(key_for("test-key", 4)).value().has_value());
      // Upstream at 8ad3a32 dropped these too (PR #628 review); newer upstream and we do not.
      for (int seq = 1; seq <= 4; ++seq) CHECK(store->get(key_for("bystander", seq)).value().has_value());
    }
    SUBCASE("divergence at a sequence drops later sequences and keeps the state asked for") {
      auto store = make_store(file, 2, "diverge.jsonl");
      for (int seq = 1; seq <= 4; ++seq) REQUIRE(store->put(key_for("test-key", seq), ActionState()).has_value());
      REQUIRE(store->put(key_for("test-key", 2, kOtherAction), ActionState()).has_value());
      auto got = store->get(key_for("test-key", 2));
      REQUIRE(got.has_value());
      CHECK(got->has_value());
      CHECK(store->cache().size() == 3);  // seq 1, both seq 2 states
      CHECK_FALSE(store->get(key_for("test-key", 3)).value().has_value());
      CHECK(store->get(key_for("test-key", 1)).value().has_value());
    }
    SUBCASE("recovery marker holds each partition's end offset") {
      auto store = make_store(file, 2, "marker.jsonl");
      CHECK(store->recovery_marker()->offsets == OffsetMap{{0, 0}, {1, 0}});
      for (int seq = 1; seq <= 3; ++seq) REQUIRE(store->put(key_for("test-key", seq), ActionState()).has_value());
      const auto p = partition_for_key(key_for("test-key", 1).to_string(), 2).value();
      auto m = store->recovery_marker().value();
      CHECK_FALSE(m.versioned());
      CHECK(m.offsets[p] == 3);
      CHECK(m.offsets[1 - p] == 0);
    }
    SUBCASE("prune evicts up to the sequence and keeps later ones") {
      auto store = make_store(file, 2, "prune.jsonl");
      for (int seq = 1; seq <= 3; ++seq) REQUIRE(store->put(key_for("test_key", seq), ActionState()).has_value());
      auto pruned = store->prune("test_key", 2);
      REQUIRE(pruned.has_value());
      CHECK(pruned->evicted.size() == 2);
      CHECK(pruned->tombstones_written == 0);
      CHECK(store->cache().size() == 1);
      CHECK(store->get(key_for("test_key", 3)).value().has_value());
    }
    SUBCASE("rebuild from markers {0:0,1:0} restores every state; tombstones delete") {
      auto store = make_store(file, 2, "rebuild.jsonl");
      ActionState a(input_event("{\"input\":\"a\"}"));
      for (int seq = 1; seq <= 3; ++seq) REQUIRE(store->put(key_for("test-key", seq), a).has_value());
      std::vector<RecoveryMarker> markers{RecoveryMarker::legacy({{0, 0}, {1, 0}})};
      auto report = store->rebuild(markers);
      REQUIRE(report.has_value());
      CHECK(report->records == 3);
      CHECK(report->live == 3);
      CHECK(report->problems.empty());
      CHECK(store->get(key_for("test-key", 2)).value() == a);
      // Prune with tombstones, then a rebuild from the start no longer sees the pruned states.
      auto pruned = store->prune("test-key", 2, PruneOptions{true});
      CHECK(pruned->tombstones_written == 2);
      report = store->rebuild(markers);
      CHECK(report->records == 5);
      CHECK(report->tombstones == 2);
      CHECK(report->live == 1);
      // A marker taken now replays nothing.
      std::vector<RecoveryMarker> now{store->recovery_marker().value()};
      CHECK(store->rebuild(now)->records == 0);
      // No markers: a fresh start.
      CHECK(store->rebuild({})->live == 0);
      // Offsets beyond the end are refused.
      std::vector<RecoveryMarker> beyond{RecoveryMarker::legacy({{0, 999}})};
      auto bad = store->rebuild(beyond);
      REQUIRE_FALSE(bad.has_value());
      CHECK(bad.error().message.find("outside the available range") != std::string::npos);
    }
  }
}

TEST_CASE("Store.rebuild reports undecodable values and unparsable keys with their position") {
  MemoryStore store(1);
  const auto k = key_for("k", 1);
  REQUIRE(store.put(k, ActionState()).has_value());
  // Write garbage through a second store sharing nothing: use the file store to control bytes.
  const std::string path = temp_path("problems.jsonl");
  {
    std::ofstream out(path);
    out << R"({"partition":0,"offset":0,"timestamp":1,"key":")" << k.to_string() << R"(","value":"{\"completed\":true}"})" << "\n";
    out << R"({"partition":0,"offset":1,"timestamp":1,"key":"no-uuids_1_a_b","value":"{}"})" << "\n";
    out << R"({"partition":0,"offset":2,"timestamp":1,"key":")" << key_for("k", 2).to_string() << R"(","value":"{\"bogus\":1}"})" << "\n";
    out << "this is not json\n";
    out << R"({"partition":0,"offset":4,"timestamp":1,"key":")" << key_for("k", 3).to_string() << R"(","value":"{}"})" << "\n";
    out << R"({"partition":0,"offset":5,"timest)";
  }
  FileStoreOptions o;
  o.num_partitions = 1;
  o.create = false;
  auto fs = FileStore::open(path, o);
  REQUIRE(fs.has_value());
  REQUIRE((*fs)->problems().size() == 2);
  CHECK((*fs)->problems()[0].where == path + ":4");
  CHECK((*fs)->problems()[1].where == path + ":6");
  CHECK((*fs)->problems()[1].message.find("torn") != std::string::npos);
  auto report = (*fs)->load_all();
  REQUIRE(report.has_value());
  CHECK(report->records == 4);
  CHECK(report->live == 3);  // the undecodable value is kept, the unparsable key is not
  REQUIRE(report->problems.size() == 2);
  CHECK(report->problems[0].error.where == "partition 0 offset 1");
  CHECK(report->problems[1].error.where == "partition 0 offset 2");
  CHECK(report->problems[1].error.message.find("bogus") != std::string::npos);
  // get() of the undecodable state is an error naming where it is.
  auto g = (*fs)->get(key_for("k", 2));
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().where == "partition 0 offset 2");
}

TEST_CASE("Store.golden records through the file store: last value wins, tombstones delete") {
  const char* env = std::getenv("AFTK_TESTDATA");
  const std::string dir = std::string(env ? env : "tests/data") + "/golden/flink-agents-main-8ad3a32";
  const std::string path = temp_path("golden.jsonl");
  {
    std::ifstream in(dir + "/action-state.jsonl");
    REQUIRE(in.good());
    std::string out, line;
    std::map<std::int64_t, std::int64_t> next;
    simdjson::dom::parser p;
    while (std::getline(in, line)) {
      simdjson::dom::element e = p.parse(line);
      std::int64_t part = e["partition"];
      std::string_view key = e["key"];
      std::optional<std::string_view> value;
      if (!e["value"].is_null()) value = std::string_view(e["value"]);
      append_dump_line(out, TopicRecord{static_cast<std::int32_t>(part), next[part]++, 0, key, value});
    }
    std::ofstream(path) << out;
  }
  auto fs = FileStore::open(path);
  REQUIRE(fs.has_value());
  CHECK((*fs)->problems().empty());
  auto report = (*fs)->load_all();
  REQUIRE(report.has_value());
  CHECK(report->records == 38);
  CHECK(report->tombstones == 2);
  CHECK(report->live == 10);
  CHECK(report->problems.empty());
  // The underscore business key is indexed and prunable.
  auto pruned = (*fs)->prune("acct_7_x", 0);
  CHECK(pruned->evicted.size() == 1);
}

TEST_CASE("FileStore.a rebuild from a marker starts reading near it and finds what a full read finds") {
  const std::string path = temp_path("indexed.jsonl");
  std::vector<RecoveryMarker> markers;
  {
    FileStoreOptions o;
    o.num_partitions = 3;
    auto fs = FileStore::open(path, o).value();
    for (int i = 0; i < 3000; ++i) {
      ActionState s(input_event(fmt::format("{{\"i\":{}}}", i)));
      REQUIRE(fs->put(key_for(fmt::format("k{}", i % 41), i % 7), s).has_value());
      if (i % 400 == 399) markers.push_back(fs->recovery_marker().value());
    }
    // The store that wrote the records indexed them as it appended.
    const auto& last = markers.back();
    const DumpStart start = fs->scan_start(last.offsets);
    CHECK(start.offset > std::filesystem::file_size(path) / 2);
    REQUIRE(fs->rebuild(std::span(&last, 1)).has_value());
    CHECK(fs->cache().size() > 0);
  }
  // What a full read gives for each marker: the last value per key at or after its offsets.
  auto expected = [&](const RecoveryMarker& m) {
    std::map<std::string, std::string> live;
    REQUIRE(read_dump(
                path,
                [&](const TopicRecord& r, const json::Line&) -> Status {
                  if (r.offset < m.offsets.at(r.partition)) return {};
                  if (r.value) live[std::string(r.key)] = std::string(*r.value);
                  else live.erase(std::string(r.key));
                  return {};
                },
                [](const Error&) {})
                .has_value());
    return live;
  };
  // A reopened store builds its index while reading the file.
  auto fs = FileStore::open(path).value();
  std::uint64_t previous = 0;
  for (const auto& m : markers) {
    const DumpStart start = fs->scan_start(m.offsets);
    CHECK(start.offset >= previous);  // later markers start later in the file
    previous = start.offset;
    auto report = fs->rebuild(std::span(&m, 1));
    REQUIRE(report.has_value());
    const auto want = expected(m);
    CHECK(fs->cache().size() == want.size());
    for (const auto& [key, value] : want) {
      const auto* e = fs->cache().find(key);
      REQUIRE(e != nullptr);
      CHECK(e->value == value);
    }
  }
  CHECK(previous > 0);
}

TEST_CASE("FileStore.an append after a torn last line starts a line of its own") {
  const std::string path = temp_path("torn.jsonl");
  const auto k1 = key_for("a", 1);
  {
    std::ofstream out(path);
    out << R"({"partition":0,"offset":0,"timestamp":1,"key":")" << k1.to_string() << R"(","value":"{\"completed\":true}"})" << "\n";
    out << R"({"partition":0,"offset":1,"timest)";  // the writer died here
  }
  FileStoreOptions o;
  o.num_partitions = 1;
  const auto k2 = key_for("b", 2);
  {
    auto fs = FileStore::open(path, o).value();
    REQUIRE(fs->problems().size() == 1);
    const auto size = std::filesystem::file_size(path);
    REQUIRE(fs->flush().has_value());
    CHECK(std::filesystem::file_size(path) == size);  // opening alone writes nothing
    ActionState s(input_event("{\"input\":\"after the crash\"}"));
    REQUIRE(fs->put(k2, s).has_value());
  }
  auto fs = FileStore::open(path, o).value();
  REQUIRE(fs->problems().size() == 1);  // the torn line, now ended, is still reported
  CHECK(fs->problems()[0].where == path + ":2");
  auto report = fs->load_all();
  REQUIRE(report.has_value());
  CHECK(report->live == 2);
  auto got = fs->get(k2);
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  REQUIRE((*got)->task_event.has_value());
  CHECK((*got)->task_event->attributes == "{\"input\":\"after the crash\"}");
}

TEST_CASE("KeyTable.agrees with std::unordered_map through inserts, updates and erases") {
  // Few distinct keys and many operations, so probe runs form, wrap around the slot array and
  // are mended by erase; both seeds, so the home slots differ between runs.
  for (std::uint64_t seed : {0ull, 0x1234567ull}) {
    actionstate::KeyTable<int> table(seed);
    std::unordered_map<std::string, int> model;
    std::mt19937 rng(static_cast<unsigned>(seed) + 7);
    for (int step = 0; step < 200000; ++step) {
      const std::string key = fmt::format("biz_{}_{}", rng() % 3000, step % 3 == 0 ? "x" : "");
      const std::uint64_t h = table.hash(key);
      switch (rng() % 4) {
        case 0:
        case 1: {
          auto [v, inserted] = table.try_emplace(key, h);
          CHECK(inserted == (model.count(key) == 0));
          *v = step;
          model[key] = step;
          break;
        }
        case 2:
          CHECK(table.erase(key, h) == (model.erase(key) == 1));
          break;
        default: {
          int* v = table.find(key, h);
          auto it = model.find(key);
          REQUIRE((v != nullptr) == (it != model.end()));
          if (v != nullptr) CHECK(*v == it->second);
        }
      }
      if (step % 50000 == 0) REQUIRE(table.size() == model.size());
    }
    REQUIRE(table.size() == model.size());
    size_t seen = 0;
    table.for_each([&](const std::string& k, int& v) {
      ++seen;
      auto it = model.find(k);
      REQUIRE(it != model.end());
      CHECK(v == it->second);
    });
    CHECK(seen == model.size());
    // drain hands over every entry once, keys intact, and leaves the table empty and usable.
    std::unordered_map<std::string, int> drained;
    table.drain([&](std::string&& k, int&& v) { CHECK(drained.emplace(std::move(k), v).second); });
    CHECK(drained == model);
    CHECK(table.size() == 0);
    CHECK(table.find("biz_1_", table.hash("biz_1_")) == nullptr);
    CHECK(table.try_emplace("biz_1_", table.hash("biz_1_")).second);
  }
}

TEST_CASE("StateCache.taking keys and values by move indexes them as copying does") {
  StateCache moved, copied;
  for (int i = 0; i < 40; ++i) {
    StateKey k = StateKey::v03(fmt::format("user-{}", i % 4), i / 4, event_uuid(fmt::format("{{\"i\":{}}}", i)).value(), kAction);
    const std::string text = k.to_string();
    const std::string value = fmt::format("v{}", i);
    copied.put(k, text, std::string_view(value), {0, i});
    moved.put(StateKey(k), std::string(text), std::string(value), {0, i});
  }
  // Again for one key: an existing entry is replaced, not duplicated.
  StateKey k0 = StateKey::v03("user-0", 0, event_uuid("{\"i\":0}").value(), kAction);
  copied.put(k0, k0.to_string(), std::string_view("new"), {1, 0});
  moved.put(StateKey(k0), k0.to_string(), std::string("new"), {1, 0});
  REQUIRE(moved.size() == copied.size());
  std::vector<std::string> a, b;
  copied.for_each([&](const StateCache::Entry& e) { a.push_back(e.key.to_string() + "=" + e.value); });
  moved.for_each([&](const StateCache::Entry& e) { b.push_back(e.key.to_string() + "=" + e.value); });
  CHECK(a == b);
  CHECK(moved.find(k0.to_string())->value == "new");
  // The index by business key works: prune drops user-1's states up to seq 5.
  CHECK(moved.prune("user-1", 5).size() == copied.prune("user-1", 5).size());
  CHECK(moved.size() == copied.size());
  CHECK(moved.size() == 40 - 6);
}

TEST_CASE("KeyTable.key_hash depends on every byte and on the length") {
  const std::string base(100, 'k');
  std::set<std::uint64_t> hashes;
  for (size_t n = 0; n <= base.size(); ++n) hashes.insert(actionstate::key_hash(std::string_view(base).substr(0, n)));
  for (size_t i = 0; i < base.size(); ++i) {
    std::string s = base;
    s[i] = 'j';
    hashes.insert(actionstate::key_hash(s));
  }
  CHECK(hashes.size() == 101 + 100);
  CHECK(actionstate::key_hash("abc", 1) != actionstate::key_hash("abc", 2));
}

// ---------------------------------------------------------------------------------------------
// The canonical-form reader against the general reader.

namespace {

// Random ActionStates: `plain` keeps to what the canonical reader must take (no escapes outside
// attributes, lower-case ids, integer-only attributes, envelopes); otherwise anything the model
// can hold, including what the strict reader rejects.
class StateGen {
 public:
  StateGen(std::uint64_t seed, bool plain) : rng_(seed), plain_(plain) {}

  ActionState state() {
    ActionState s;
    if (chance(8)) s.task_event = event();
    for (int i = n(3); i > 0; --i) s.sensory_memory_updates.push_back(update());
    for (int i = n(3); i > 0; --i) s.short_term_memory_updates.push_back(update());
    for (int i = n(3); i > 0; --i) s.output_events.push_back(event());
    for (int i = n(4); i > 0; --i) s.call_results.push_back(call());
    s.completed = chance(5);
    return s;
  }

 private:
  bool chance(int tenths) { return static_cast<int>(rng_() % 10) < tenths; }
  int n(int max) { return static_cast<int>(rng_() % static_cast<unsigned>(max + 1)); }

  std::string text(bool plain) {
    static const char* kPlain[] = {"a", "b", "Z", "0", " ", "/", "_", "-", "\xc3\xa9", "\xe2\x82\xac", "\xe2\x80\xa8"};
    static const char* kAny[] = {"\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "\xf0\x9f\x98\x80"};
    const bool any = !plain && chance(2);
    std::string out;
    for (int i = n(12); i > 0; --i) {
      if (any && chance(3)) out += kAny[rng_() % std::size(kAny)];
      else out += kPlain[rng_() % std::size(kPlain)];
    }
    return out;
  }

  void json_value(std::string& out, int depth) {
    switch (rng_() % (depth > 3 ? 6 : 8)) {
      case 0: json::append_string(out, text(plain_ || chance(3))); break;
      case 1: out += fmt::format("{}", static_cast<std::int64_t>(rng_() >> n(63)) * (chance(5) ? 1 : -1)); break;
      case 2: out += chance(5) ? "12345678901234567890123456789" : (chance(5) ? "1.5e300" : "-0.0"); break;
      case 3: out += chance(5) ? "true" : "false"; break;
      case 4: out += "null"; break;
      case 5: out += plain_ ? (chance(5) ? "0" : "2.5") : (chance(5) ? "-0" : "0.1e-3"); break;
      case 6: case 7: {
        const bool object = chance(5);
        out += object ? '{' : '[';
        for (int i = n(3); i > 0; --i) {
          if (out.back() != '{' && out.back() != '[') out += ',';
          if (object) {
            json::append_string(out, text(plain_ || chance(5)));
            out += ':';
          }
          json_value(out, depth + 1);
        }
        out += object ? '}' : ']';
        break;
      }
    }
  }

  std::string attributes() {
    std::string raw = "{";
    for (int i = n(4); i > 0; --i) {
      if (raw.size() > 1) raw += ',';
      json::append_string(raw, text(plain_ || chance(5)));
      raw += ':';
      json_value(raw, 0);
    }
    raw += '}';
    return json::normalize(raw).value();
  }

  std::string uuid() {
    std::string u = fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", rng_() & 0xFFFFFFFF, rng_() & 0xFFFF,
                                rng_() & 0xFFF, rng_() & 0xFFF, rng_() & 0xFFFFFFFFFFFF);
    if (!plain_ && chance(1)) u[0] = 'A';
    return u;
  }

  Event event() {
    Event e;
    const int c = n(2);
    e.class_name = std::string(c == 0 ? kEventClass : c == 1 ? kInputEventClass : kOutputEventClass);
    e.id = uuid();
    e.type = plain_ || chance(9) ? "t" + text(plain_) : "";
    e.attributes = attributes();
    if (chance(3)) e.upstream_event_id = uuid();
    if (chance(3)) e.upstream_action_name = text(plain_);
    return e;
  }

  std::string bytes() {
    std::string b;
    for (int i = n(20); i > 0; --i) b.push_back(static_cast<char>(rng_()));
    return b;
  }

  MemoryUpdate update() {
    MemoryUpdate m;
    m.path = text(plain_);
    const int k = plain_ || chance(8) ? n(1) : 2;
    if (k == 1) m.value = MemoryValue::kryo(json::base64_encode(bytes()));
    if (k == 2) m.value = {MemoryValue::Kind::kPlainJson, attributes()};
    return m;
  }

  CallResult call() {
    CallResult c;
    if (chance(8)) c.function_id = text(plain_);
    if (chance(8)) c.args_digest = text(plain_);
    if (chance(6)) c.result_payload = bytes();
    if (chance(3)) c.exception_payload = bytes();
    const int st = n(3);
    if (st > 0) c.status = st == 1 ? CallStatus::kSucceeded : st == 2 ? CallStatus::kFailed : CallStatus::kPending;
    return c;
  }

  std::mt19937_64 rng_;
  bool plain_;
};

// One to three random edits: bytes deleted, inserted, replaced or repeated.
std::string mutate(std::string v, std::mt19937_64& rng) {
  static const std::string kBytes[] = {"{", "}", "[", "]", "\"", ":", ",", "\\", " ", "0", "7", "-", ".",
                                       "e", "t", "n", "u", "/", "\x01", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xff",
                                       "\\u00e9", "null", "\"\"", "1.0"};
  for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0 && !v.empty(); --edits) {
    const size_t at = rng() % v.size();
    switch (rng() % 4) {
      case 0: v.erase(at, 1 + rng() % 3); break;
      case 1: v.insert(at, kBytes[rng() % std::size(kBytes)]); break;
      case 2: v.replace(at, 1, kBytes[rng() % std::size(kBytes)]); break;
      case 3: v.insert(at, v.substr(at, 1 + rng() % 12)); break;
    }
  }
  return v;
}

struct ReaderPair {
  explicit ReaderPair(DecodeOptions o) : fast(o), general([&] {
    o.canonical_fast_path = false;
    return o;
  }()) {}
  Decoder fast, general;
  ActionState a, b;  // reused, as callers reuse them: stale fields would show
  std::vector<Deviation> da, db;
  std::uint64_t compared = 0;

  // Both readers agree; when the canonical reader took the value, on every field.
  void check(const std::string& v) {
    const auto before = fast.stats().canonical;
    da.clear();
    db.clear();
    const Status ra = fast.decode(v, a, &da);
    const Status rb = general.decode(v, b, &db);
    CAPTURE(v);
    REQUIRE(ra.has_value() == rb.has_value());
    if (fast.stats().canonical == before) {
      if (!ra) CHECK(ra.error().message == rb.error().message);
      return;
    }
    ++compared;
    CHECK(db.empty());
    CHECK(da.empty());
    CHECK(a == b);
    // "Canonical" means exactly this: encode() gives back the bytes read.
    CHECK(encode(a) == v);
  }
};

}  // namespace

TEST_CASE("Serde.the canonical reader takes every plain value and decodes it as the general reader does") {
  for (bool lineage_rejected : {false, true}) {
    ReaderPair r({ReadMode::kStrict, lineage_rejected});
    StateGen gen(7, /*plain=*/true);
    int with_lineage = 0;
    for (int i = 0; i < 2000; ++i) {
      const ActionState s = gen.state();
      bool lineage = false;
      auto has = [](const Event& e) { return e.upstream_event_id || e.upstream_action_name; };
      if (s.task_event && has(*s.task_event)) lineage = true;
      for (const auto& e : s.output_events) lineage = lineage || has(e);
      with_lineage += lineage;
      const auto hits = r.fast.stats().canonical;
      const std::string v = encode(s);
      r.check(v);
      if (lineage && lineage_rejected) {
        CHECK_FALSE(r.general.decode(v, r.b));
      } else {
        CHECK(encode(r.b) == v);
        CHECK(r.b == s);
      }
      // The 0.3.1 reader's lineage rejection is the general reader's to report.
      CHECK(r.fast.stats().canonical == hits + (lineage && lineage_rejected ? 0 : 1));
    }
    CHECK(with_lineage > 200);
  }
}

TEST_CASE("Serde.canonical and general readers agree on random and mutated values") {
  std::mt19937_64 rng(11);
  for (ReadMode mode : {ReadMode::kStrict, ReadMode::kLenient}) {
    for (bool plain : {true, false}) {
      CAPTURE(plain);
      ReaderPair r({mode, false});
      StateGen gen(plain ? 3 : 5, plain);
      for (int i = 0; i < 1500; ++i) {
        const std::string v = encode(gen.state());
        r.check(v);
        for (int m = 0; m < 12; ++m) r.check(mutate(v, rng));
      }
      // Enough values went the canonical way for the comparison to mean something.
      MESSAGE("plain " << plain << ": " << r.compared << " of " << 1500 * 13 << " values read the canonical way");
      CHECK(r.compared > (plain ? 1500u : 100u));
    }
  }
}

TEST_CASE("Serde.golden records read the canonical way agree with the general reader") {
  const char* dir = std::getenv("AFTK_TESTDATA");
  for (const std::string version : {"flink-agents-0.3.1", "flink-agents-main-8ad3a32"}) {
    CAPTURE(version);
    std::ifstream in(std::string(dir ? dir : "tests/data") + "/golden/" + version + "/action-state.jsonl");
    REQUIRE(in.good());
    ReaderPair r({ReadMode::kStrict, false});
    std::string line;
    int values = 0;
    while (std::getline(in, line)) {
      simdjson::dom::parser p;
      simdjson::dom::element rec;
      REQUIRE(p.parse(line).get(rec) == simdjson::SUCCESS);
      std::string_view v;
      if (rec["value"].get(v)) continue;  // a tombstone
      ++values;
      r.check(std::string(v));
    }
    CHECK(values == 36);
    // Every golden value is in the canonical form but the hand-edited legacy one.
    CHECK(r.compared == 35);
    MESSAGE(version << ": " << r.compared << " of " << values << " values read the canonical way");
  }
}

TEST_CASE("Serde.lenient decoding into a reused state does not keep a previous event's type") {
  Decoder d({ReadMode::kLenient, false});
  ActionState s;
  REQUIRE(d.decode(encode(ActionState(input_event(R"({"a":1})"))), s));
  REQUIRE(s.task_event->type == "_input_event");
  std::vector<Deviation> dev;
  REQUIRE(d.decode(R"({"taskEvent":{"@class":"org.apache.flink.agents.api.InputEvent","id":"11111111-2222-3333-4444-555555555555","attributes":{}},"sensoryMemoryUpdates":[],"shortTermMemoryUpdates":[],"outputEvents":[],"callResults":[],"completed":false})",
                   s, &dev));
  CHECK(s.task_event->type.empty());
  REQUIRE(dev.size() == 1);
  CHECK(dev[0].message == "missing or empty \"type\"");
}

TEST_CASE("StateCache.abandon empties the cache, which stays usable; tools abandon only as processes") {
  MemoryStore store(4);
  auto key = [](int i) {
    return StateKey::v03("user-1", i, event_uuid(fmt::format("{{\"i\":{}}}", i)).value(), kAction);
  };
  for (int i = 0; i < 3; ++i) REQUIRE(store.put(key(i), ActionState(input_event(R"({"a":1})"))));
  REQUIRE(store.cache().size() == 3);
  {
    cli::Io in_process;  // as tests run tools: everything is freed as usual
    const cli::CacheLeftAtExit left(in_process, &store);
  }
  CHECK(store.cache().size() == 3);
  {
    cli::Io process;
    process.exits_after = true;  // as process_io sets it
    const cli::CacheLeftAtExit left(process, &store);
  }
  CHECK(store.cache().empty());
  // The store goes on working: a put caches again, and the abandoned entries are not found.
  REQUIRE(store.put(key(5), ActionState(input_event(R"({"a":2})"))));
  CHECK(store.cache().size() == 1);
  CHECK(store.cache().find(key(0).to_string()) == nullptr);
  CHECK(store.get(key(5)).value().has_value());
}

TEST_CASE("Store.a cached value is kept at its own size, not at the largest value encoded before") {
  MemoryStore store(4);
  const StateKey big = StateKey::v03("user-1", 0, event_uuid(R"({"i":0})").value(), kAction);
  const StateKey small = StateKey::v03("user-2", 0, event_uuid(R"({"i":1})").value(), kAction);
  REQUIRE(store.put(big, ActionState(input_event(fmt::format(R"({{"a":"{}"}})", std::string(100000, 'x'))))));
  REQUIRE(store.put(small, ActionState(input_event(R"({"a":1})"))));
  const auto* e = store.cache().find(small.to_string());
  REQUIRE(e != nullptr);
  CHECK(e->value.capacity() < 2 * e->value.size() + 32);
  CHECK(store.get(small).value()->task_event->attributes == R"({"a":1})");
}

TEST_CASE("Decoder.rejects attributes nested deeper than Jackson's limit without crashing") {
  // 100,000 levels overflowed the stack of every reader before the depth limit.
  auto value = [](int depth) {
    std::string attrs;
    for (int i = 0; i < depth; ++i) attrs += "{\"a\":";
    attrs += "1";
    attrs.append(static_cast<size_t>(depth), '}');
    return "{\"taskEvent\":{\"@class\":\"org.apache.flink.agents.api.InputEvent\",\"id\":"
           "\"00000000-0000-0000-0000-000000000000\",\"attributes\":" +
           attrs +
           ",\"type\":\"_input_event\"},\"shortTermMemoryUpdates\":[],\"sensoryMemoryUpdates\":[],"
           "\"callResults\":[],\"outputEvents\":[],\"completed\":false}";
  };
  actionstate::Decoder d;
  auto deep = d.decode(value(100000));
  REQUIRE_FALSE(deep);
  CHECK(deep.error().code == Errc::kCorruptRecord);
  CHECK(deep.error().message.find("1000") != std::string::npos);
  // Within the limit (the value object, taskEvent and the attributes count too) still decodes.
  CHECK(d.decode(value(990)).has_value());
}

namespace {

// A value with one event and one call result, each part replaceable.
std::string value_with(std::string_view event, std::string_view call = "") {
  return fmt::format(R"({{"taskEvent":{},"sensoryMemoryUpdates":[],"shortTermMemoryUpdates":[],)"
                     R"("outputEvents":[],"callResults":[{}],"completed":false}})",
                     event, call);
}

std::string event_with(std::string_view cls, std::string_view type_after_id, std::string_view attrs,
                       std::string_view type_last) {
  return fmt::format(R"({{"@class":"{}","id":"11111111-2222-4333-8444-555555555555"{},)"
                     R"("attributes":{}{}}})",
                     cls, type_after_id, attrs, type_last);
}

std::string call_with(std::string_view result) {
  return fmt::format(R"({{"functionId":"f","argsDigest":"d","resultPayload":{},)"
                     R"("exceptionPayload":null,"status":"SUCCEEDED"}})",
                     result);
}

}  // namespace

TEST_CASE("Serde.the canonical reader takes only what re-encodes to its own bytes") {
  // Each case: the input, and whether it is in the canonical form. Both readers must agree on
  // accepting it and on its value (ReaderPair::check); a canonical read must re-encode to it.
  const std::string input(kInputEventClass), base(kEventClass);
  const std::string type = R"(,"type":"_input_event")";
  const std::string emoji = "\xf0\x9f\x98\x80";
  struct Case {
    std::string value;
    bool canonical;
  };
  const std::vector<Case> cases = {
      {value_with(event_with(input, "", "{}", type)), true},
      {value_with(event_with(base, type, "{}", "")), true},
      // "type" where encode() does not put it for the class: right after "id" for any class
      // but the base Event, or last for the base Event.
      {value_with(event_with(input, type, "{}", "")), false},
      {value_with(event_with(base, "", "{}", type)), false},
      {value_with(event_with(input, type, "{}", type)), false},
      // A raw 4-byte sequence in a plain field is written back as an escaped surrogate pair.
      {value_with(event_with(input, "", "{}", R"(,"type":")" + emoji + "\"")), false},
      {value_with(event_with(base, R"(,"type":")" + emoji + "\"", "{}", "")), false},
      {value_with(event_with("x" + emoji, type, "{}", "")), false},
      {value_with(event_with(input, "", "{}", R"(,"type":"\uD83D\uDE00")")), false},
      {value_with("null", R"({"functionId":")" + emoji + R"(","argsDigest":null,)"
                          R"("resultPayload":null,"exceptionPayload":null,"status":null})"),
       false},
      // In attributes Jackson's own escaping is kept as it is, a lone surrogate's too.
      {value_with(event_with(input, "", R"({"e":"\uD83D\uDE00"})", type)), true},
      {value_with(event_with(input, "", R"({"e":"\uD800","\uDC00":1})", type)), true},
      {value_with(event_with(input, "", R"({"e":"\ud800"})", type)), false},
      {value_with(event_with(input, "", R"({"e":"\uD83D\ude00"})", type)), false},
      {value_with(event_with(input, "", R"({"e":1e400})", type)), false},
      {value_with(event_with(input, "", R"({"e":"Infinity"})", type)), true},
      {value_with(event_with(input, "", "{\"e\":\"" + emoji + "\"}", type)), false},
      // Base64 whose bits after the last byte are not zero: Jackson decodes "QR==" as "A" (it
      // drops them), and writes "A" back as "QQ==".
      {value_with("null", call_with(R"("QQ==")")), true},
      {value_with("null", call_with(R"("QR==")")), false},
      {value_with("null", call_with(R"("QUI=")")), true},
      {value_with("null", call_with(R"("QUJ=")")), false},
      {value_with("null", call_with(R"("QUJD")")), true},
      {value_with("null", call_with(R"("QQ")")), false},  // unpadded: Jackson rejects it
      {value_with("null", call_with(R"("Q===")")), false},
      // A Kryo payload is kept as text, so stray bits there re-encode as they were.
      {R"({"taskEvent":null,"sensoryMemoryUpdates":[{"path":"p","value":{"serde":"kryo",)"
       R"("version":1,"payload":"QR=="}}],"shortTermMemoryUpdates":[],"outputEvents":[],)"
       R"("callResults":[],"completed":false})",
       true},
  };
  for (ReadMode mode : {ReadMode::kStrict, ReadMode::kLenient}) {
    ReaderPair r({mode, false});
    for (const auto& c : cases) {
      CAPTURE(c.value);
      const auto before = r.fast.stats().canonical;
      r.check(c.value);
      CHECK(r.fast.stats().canonical == before + (c.canonical ? 1 : 0));
    }
  }
  // The declined inputs still decode, to what the general reader reads.
  Decoder d;
  auto typed = d.decode(value_with(event_with(input, type, "{}", "")));
  REQUIRE(typed);
  CHECK(typed->task_event->type == "_input_event");
  CHECK(encode(*typed) == value_with(event_with(input, "", "{}", type)));
  auto raw = d.decode(value_with(event_with(input, "", "{}", R"(,"type":")" + emoji + "\"")));
  REQUIRE(raw);
  CHECK(raw->task_event->type == emoji);
  CHECK(encode(*raw) == value_with(event_with(input, "", "{}", R"(,"type":"\uD83D\uDE00")")));
  auto bits = d.decode(value_with("null", call_with(R"("QR==")")));
  REQUIRE(bits);
  CHECK(bits->call_results[0].result_payload == "A");
  CHECK(encode(*bits) == value_with("null", call_with(R"("QQ==")")));
  CHECK_FALSE(d.decode(value_with("null", call_with(R"("QQ")"))));
}

TEST_CASE("StateKey.a '-0' sequence number or key group parses and is written back as it was") {
  const std::string uuid = "22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  const std::string digest = "a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=";
  // Java's Long.parseLong("-0") is 0, so the keys parse; each is its own record key, though.
  const std::string uuids = "_" + uuid + "_" + uuid;
  for (const std::string& text : {"k_-0" + uuids, "k_0" + uuids, "a_b_-0" + uuids,
                                 "-0_-0" + uuids + "_" + digest, "-0_7" + uuids + "_" + digest,
                                 "3_-0" + uuids + "_" + digest}) {
    CAPTURE(text);
    auto k = parse_key(text);
    REQUIRE(k.has_value());
    CHECK(k->seq == 0 + (text.starts_with("-0_7") ? 7 : 0));
    CHECK(k->to_string() == text);
  }
  CHECK(*parse_key("k_-0_" + uuid + "_" + uuid) != *parse_key("k_0_" + uuid + "_" + uuid));
  CHECK(parse_key("-0_0_" + uuid + "_" + uuid + "_" + digest)->key_group == 0);
  // Other non-canonical forms stay rejected: "-00" as "00" is.
  for (const char* bad : {"-00", "-01", "+0", "+1", "-", "--0", "0-"}) {
    const std::string seq = bad;
    CAPTURE(seq);
    CHECK_FALSE(parse_key("k_" + seq + "_" + uuid + "_" + uuid).has_value());
    CHECK_FALSE(parse_key("1_" + seq + "_" + uuid + "_" + uuid + "_" + digest).has_value());
    CHECK_FALSE(parse_key(seq + "_1_" + uuid + "_" + uuid + "_" + digest).has_value());
  }
  CHECK(is_canonical_seq("-0"));
  CHECK_FALSE(is_canonical_seq("-00"));
}

TEST_CASE("Store.a '-0' key is tombstoned and exported under its own text") {
  const std::string ev = event_uuid(R"({"i":0})").value();
  const std::string text = "user-1_-0_" + ev + "_" + kAction;
  const std::string path = temp_path("minus-zero.jsonl");
  {
    std::string out;
    const std::string value = encode(ActionState(input_event(R"({"a":1})")));
    append_dump_line(out, TopicRecord{2, 0, 0, text, value});
    std::ofstream(path) << out;
  }
  {
    auto fs = FileStore::open(path).value();
    REQUIRE(fs->load_all().has_value());
    const auto* e = fs->cache().find(text);
    REQUIRE(e != nullptr);
    CHECK(e->key.to_string() == text);
    const std::string snap = temp_path("minus-zero-snapshot.jsonl");
    REQUIRE(export_snapshot(fs->cache(), snap).value() == 1);
    std::ifstream in(snap);
    std::string line;
    REQUIRE(std::getline(in, line));
    CHECK(line.find("\"" + text + "\"") != std::string::npos);
    auto pruned = fs->prune("user-1", 0, PruneOptions{true});
    REQUIRE(pruned.has_value());
    CHECK(pruned->tombstones_written == 1);
  }
  // The tombstone deleted the record: it named the record's own key, not "user-1_0_...".
  auto again = FileStore::open(path).value();
  auto report = again->load_all();
  REQUIRE(report.has_value());
  CHECK(report->tombstones == 1);
  CHECK(report->live == 0);
  CHECK(again->cache().empty());
}

TEST_CASE("Marker.a '-0' partition is partition 0, written back as \"0\"") {
  auto m = parse_marker(R"({"-0":5,"1":7})");
  REQUIRE(m.has_value());
  CHECK(m->offsets.at(0) == 5);
  CHECK(to_json(*m) == R"({"0":5,"1":7})");
  CHECK_FALSE(parse_marker(R"({"-0":5,"0":7})").has_value());  // the same partition twice
  CHECK_FALSE(parse_marker(R"({"-00":5})").has_value());
}

TEST_CASE("Serde.attributes with 1e400 or a lone surrogate decode strictly, as Jackson has it") {
  // Jackson 2.18 reads 1e400 as Double Infinity, written back as "Infinity", and keeps a lone
  // surrogate char, written back as its upper-case escape.
  const std::string in = value_with(event_with(kInputEventClass, "",
                                               R"({"n":1e400,"m":-1e400,"s":"\ud800","\udfff":1})",
                                               R"(,"type":"_input_event")"));
  Decoder d;
  auto s = d.decode(in);
  REQUIRE_MESSAGE(s.has_value(), s.error().to_string());
  CHECK(s->task_event->attributes == R"({"n":"Infinity","m":"-Infinity","s":"\uD800","\uDFFF":1})");
  // What it re-encodes to is canonical and a fixed point.
  const std::string again = encode(*s);
  const auto before = d.stats().canonical;
  auto s2 = d.decode(again);
  REQUIRE(s2.has_value());
  CHECK(d.stats().canonical == before + 1);
  CHECK(*s2 == *s);
  CHECK(encode(*s2) == again);
  // The event's key can be made from such attributes.
  CHECK(make_key_v03("k", 1, *s->task_event, kAction).has_value());
}

TEST_CASE("History.a key's records come from its partition only, seq by seq, in record order") {
  MemoryStore store(8);
  const std::string ev = "3f1c2b4a-5d6e-3f70-8a9b-0c1d2e3f4a5b";
  const std::string act = "22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  const auto k03 = [&](std::string bk, std::int64_t seq) {
    return StateKey::v03(std::move(bk), seq, ev, act);
  };
  ActionState done(input_event(R"({"a":1})"));
  done.completed = true;
  // Written out of seq order: the history puts seq 0 first, and keeps record order within one.
  REQUIRE(store.put(k03("user-42", 1), ActionState(input_event(R"({"a":1})"))));
  REQUIRE(store.put(k03("user-42", 0), ActionState(input_event(R"({"a":1})"))));
  REQUIRE(store.put(k03("user-42", 1), done));
  for (int i = 0; i < 20; ++i) REQUIRE(store.put(k03("other-" + std::to_string(i), 0), done));
  const auto parts = partitions_for_identity("user-42", 8);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0] == *partition_for_key(k03("user-42", 0).to_string(), 8));
  auto h = read_history(store, {"user-42"});
  REQUIRE(h.has_value());
  CHECK(h->partitions == parts);
  CHECK(h->scanned == store.partition_log(parts[0]).size());
  CHECK(h->scanned < 23);
  REQUIRE(h->records.size() == 3);
  CHECK(h->records[0].state_key->seq == 0);
  CHECK(h->records[1].state_key->seq == 1);
  CHECK(h->records[1].position.offset < h->records[2].position.offset);
  auto all = read_history(store, {});
  REQUIRE(all.has_value());
  CHECK(all->records.size() == 23);
  CHECK(all->partitions.empty());

  auto latest = find_latest(store, k03("user-42", 1).to_string());
  REQUIRE(latest.has_value());
  REQUIRE(latest->has_value());
  CHECK((*latest)->position.offset == h->records[2].position.offset);
  auto none = find_latest(store, k03("nobody", 1).to_string());
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  auto at = find_at(store, parts[0], h->records[0].position.offset);
  REQUIRE(at.has_value());
  REQUIRE(at->has_value());
  CHECK((*at)->key == h->records[0].key);
  CHECK(find_at(store, 8, 0).error().code == Errc::kInvalidArgument);
}

TEST_CASE("History.a 0.4 business key id is looked up where 0.4 keys with it are partitioned") {
  const std::string id = business_key_id("user-42");
  const auto key = StateKey::v04(3, 0, "3f1c2b4a-5d6e-3f70-8a9b-0c1d2e3f4a5b",
                                 "22bf7b3d-f5c0-3314-93e2-9385c03e03b1", id);
  const auto parts = partitions_for_identity(id, 64);
  CHECK(std::find(parts.begin(), parts.end(), *partition_for_key(key.to_string(), 64)) !=
        parts.end());
  CHECK(parts.size() <= 2);
  CHECK(partitions_for_identity("", 64).empty());
}

namespace {

// A 0.4 value: an InputEvent with attachments (a MemoryRef among them), a memory update with
// objectCreation, lineage on the output event; in the field order 0.4's writer uses.
const std::string kValue04 =
    R"({"taskEvent":{"@class":"org.apache.flink.agents.api.InputEvent",)"
    R"("id":"11111111-2222-4333-8444-555555555555","attributes":{"input":"hi"},)"
    R"("attachments":{"payload":{"@type":"memory_ref","memory_type":"sensory",)"
    R"("path":"__event_attachments__.11111111-2222-4333-8444-555555555555.239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"}},)"
    R"("type":"_input_event"},)"
    R"("sensoryMemoryUpdates":[{"path":"a.b","value":null,"objectCreation":true}],)"
    R"("shortTermMemoryUpdates":[{"path":"c","value":{"serde":"kryo","version":1,"payload":"AwFoaQ=="},"objectCreation":false}],)"
    R"("outputEvents":[{"@class":"org.apache.flink.agents.api.Event",)"
    R"("id":"21111111-2222-4333-8444-555555555555","type":"t","attributes":{},"attachments":{},)"
    R"("upstreamEventId":"11111111-2222-4333-8444-555555555555","upstreamActionName":"a"}],)"
    R"("callResults":[],"completed":false})";

}  // namespace

TEST_CASE("Profiles.a 0.4 value decodes the canonical way and re-encodes to its own bytes") {
  Decoder d;
  auto s = d.decode(kValue04);
  REQUIRE_MESSAGE(s.has_value(), s.error().to_string());
  CHECK(d.stats().canonical == 1);
  REQUIRE(s->task_event->attachments.has_value());
  CHECK(s->task_event->attachments->find("memory_ref") != std::string::npos);
  CHECK(s->sensory_memory_updates[0].object_creation == true);
  CHECK(s->short_term_memory_updates[0].object_creation == false);
  CHECK(encode(*s) == kValue04);
  CHECK(detect_profile(*s) == Profile::kV04);
  // The general reader reads the same.
  Decoder general(DecodeOptions{ReadMode::kStrict, false, false});
  auto g = general.decode(kValue04);
  REQUIRE(g.has_value());
  CHECK(*g == *s);
}

TEST_CASE("Profiles.each line's reader refuses the fields a later line added") {
  for (const Profile p : {Profile::kV031, Profile::kMain8ad3a32}) {
    CAPTURE(profile_name(p));
    DecodeOptions o;
    o.profile = p;
    Decoder strict(o);
    auto r = strict.decode(kValue04);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("unknown to the " + std::string(profile_name(p)) + " reader") !=
          std::string::npos);
    o.mode = ReadMode::kLenient;
    Decoder lenient(o);
    std::vector<Deviation> dev;
    CHECK(lenient.decode(kValue04, &dev).has_value());
    CHECK_FALSE(dev.empty());
  }
  DecodeOptions o;
  o.profile = Profile::kV04;
  CHECK(Decoder(o).decode(kValue04).has_value());
  // main@8ad3a32 takes lineage, 0.3.1 does not.
  ActionState a(input_event("{\"input\":\"x\"}"));
  Event out = a.task_event.value();
  out.upstream_event_id = "11111111-2222-4333-8444-555555555555";
  a.output_events.push_back(out);
  const std::string with_lineage = encode(a);
  o.profile = Profile::kMain8ad3a32;
  CHECK(Decoder(o).decode(with_lineage).has_value());
  o.profile = Profile::kV031;
  CHECK_FALSE(Decoder(o).decode(with_lineage).has_value());
}

TEST_CASE("Profiles.an object creation carrying a value is refused, as 0.4's reader does") {
  std::string bad = kValue04;
  const std::string from = R"("value":null,"objectCreation":true)";
  bad.replace(bad.find(from), from.size(),
              R"("value":{"serde":"kryo","version":1,"payload":"AwFoaQ=="},"objectCreation":true)");
  auto r = Decoder().decode(bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("object-creation update cannot carry a value") != std::string::npos);
}

TEST_CASE("Profiles.encode_as writes exactly a profile's fields and refuses what it cannot carry") {
  ActionState s = Decoder().decode(kValue04).value();
  std::string out;
  // 0.3.1 and main@8ad3a32 cannot carry attachments or an object creation: refused, not dropped.
  for (const Profile p : {Profile::kV031, Profile::kMain8ad3a32}) {
    out.clear();
    auto st = encode_as(s, p, out);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().code == Errc::kInvalidArgument);
    CHECK(out.empty());
  }
  out.clear();
  REQUIRE(encode_as(s, Profile::kV04, out).has_value());
  CHECK(out == kValue04);
  // A 0.3.1-shaped state: 0.4 writes the empty attachments and objectCreation false...
  ActionState plain(input_event("{\"input\":\"x\"}"));
  plain.short_term_memory_updates.push_back({"m", MemoryValue::null()});
  out.clear();
  REQUIRE(encode_as(plain, Profile::kV04, out).has_value());
  CHECK(out.find(R"("attributes":{"input":"x"},"attachments":{},"type")") != std::string::npos);
  CHECK(out.find(R"("value":null,"objectCreation":false})") != std::string::npos);
  DecodeOptions o;
  o.profile = Profile::kV04;
  auto back = Decoder(o).decode(out);
  REQUIRE(back.has_value());
  // ... and 0.3.1 writes it as encode does, which a 0.3.1 reader takes.
  out.clear();
  REQUIRE(encode_as(*back, Profile::kV031, out).has_value());
  CHECK(out == encode(plain));
  o.profile = Profile::kV031;
  CHECK(Decoder(o).decode(out).has_value());
  // Lineage: main@8ad3a32 writes it, 0.3.1 refuses it.
  Event e = plain.task_event.value();
  e.upstream_action_name = "a";
  plain.output_events.push_back(e);
  out.clear();
  CHECK(encode_as(plain, Profile::kMain8ad3a32, out).has_value());
  CHECK(out.find("upstreamActionName") != std::string::npos);
  out.clear();
  CHECK_FALSE(encode_as(plain, Profile::kV031, out).has_value());
  CHECK(detect_profile(plain) == Profile::kMain8ad3a32);
  CHECK(parse_profile("0.3.1").value() == Profile::kV031);
  CHECK(parse_profile("main-8ad3a32").value() == Profile::kMain8ad3a32);
  CHECK(parse_profile("0.4").value() == Profile::kV04);
  CHECK_FALSE(parse_profile("0.5").has_value());
}

TEST_CASE("Profiles.a store with a write profile refuses a put its reader would reject") {
  MemoryStore store(4);
  store.set_write_profile(Profile::kV031);
  ActionState s(input_event("{\"input\":\"x\"}"));
  REQUIRE(store.put(key_for("k", 1), s).has_value());
  Event e = s.task_event.value();
  e.upstream_event_id = "11111111-2222-4333-8444-555555555555";
  s.output_events.push_back(e);
  auto st = store.put(key_for("k", 2), s);
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().message.find("lineage") != std::string::npos);
  size_t records = 0;
  for (std::int32_t p = 0; p < 4; ++p) records += store.partition_log(p).size();
  CHECK(records == 1);  // nothing written for the refused put
}

// -- durable-call function ids (0.4 line spec section 1.3 and 1.4) --------------------------

namespace {
// The spec's sub-agent example (section 1.4).
SubagentContext spec_subagent_context() {
  SubagentContext c;
  c.action_name = "process";
  c.event_attributes = R"({"input":"hello"})";
  c.event_type = "_input_event";
  c.key = "user-42";
  c.sequence_number = 0;
  c.subagent_name = "helper";
  return c;
}
constexpr std::string_view kSpecSession = "e8552d4e-00f7-30d5-8d0f-868efd83b335";
}  // namespace

TEST_CASE("CallIdentity.the spec's sub-agent session: UUID, session id, call id, function ids") {
  auto uuid = subagent_session_uuid(spec_subagent_context());
  REQUIRE(uuid.has_value());
  CHECK(*uuid == kSpecSession);
  const std::string session = subagent_session_id(*uuid, 0);
  CHECK(session == "e8552d4e-00f7-30d5-8d0f-868efd83b335-0");
  CHECK(subagent_call_id(session, 1) == "e8552d4e-00f7-30d5-8d0f-868efd83b335-0-1");
  CHECK(subagent_function_id(session, 1, false) ==
        "e8552d4e-00f7-30d5-8d0f-868efd83b335-0#e8552d4e-00f7-30d5-8d0f-868efd83b335-0-1");
  CHECK(subagent_function_id(session, 1, true) ==
        "e8552d4e-00f7-30d5-8d0f-868efd83b335-0#e8552d4e-00f7-30d5-8d0f-868efd83b335-0-1#await");
}

TEST_CASE("CallIdentity.the session UUID hashes sorted JSON of every context field") {
  const std::string base = *subagent_session_uuid(spec_subagent_context());
  // Attribute order does not matter: the JSON is sorted, nested maps too.
  SubagentContext reordered = spec_subagent_context();
  reordered.event_attributes = R"({"b":{"y":1,"x":2},"a":"z"})";
  SubagentContext sorted = spec_subagent_context();
  sorted.event_attributes = R"({"a":"z","b":{"x":2,"y":1}})";
  CHECK(*subagent_session_uuid(reordered) == *subagent_session_uuid(sorted));
  // Each field changes it.
  std::set<std::string> uuids{base};
  for (int field = 0; field < 6; ++field) {
    SubagentContext c = spec_subagent_context();
    switch (field) {
      case 0: c.action_name = "other"; break;
      case 1: c.event_attributes = R"({"input":"hello!"})"; break;
      case 2: c.event_type = "_output_event"; break;
      case 3: c.key = "user-43"; break;
      case 4: c.sequence_number = 1; break;
      case 5: c.subagent_name = "helper2"; break;
    }
    CAPTURE(field);
    CHECK(uuids.insert(*subagent_session_uuid(c)).second);
  }
  for (const char* bad : {"[1]", "\"text\"", "{", ""}) {
    SubagentContext c = spec_subagent_context();
    c.event_attributes = bad;
    auto r = subagent_session_uuid(c);
    CAPTURE(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::kInvalidArgument);
  }
}

TEST_CASE("CallIdentity.classifies function ids: function, tool-call, sub-agent call and await") {
  const std::string session = subagent_session_id(kSpecSession, 0);
  SUBCASE("the spec's ids") {
    const CallIdentity call = classify_function_id(subagent_function_id(session, 1, false));
    CHECK(call.kind == CallKind::kSubagentCall);
    CHECK(call.session_uuid == kSpecSession);
    CHECK(call.session_number == 0);
    CHECK(call.call_number == 1);
    CHECK(call.session_id == session);
    CHECK(call.call_id == session + "-1");
    CHECK(call.call_function_id() == session + "#" + session + "-1");
    const CallIdentity await = classify_function_id(subagent_function_id(session, 1, true));
    CHECK(await.kind == CallKind::kSubagentAwait);
    CHECK(await.call_id == call.call_id);
    CHECK(await.call_function_id() == call.call_function_id());  // the call it awaits
    const CallIdentity later = classify_function_id(
        subagent_function_id(subagent_session_id(kSpecSession, 12), 30, false));
    CHECK(later.session_number == 12);
    CHECK(later.call_number == 30);
  }
  SUBCASE("Java's tool-call action and plain functions") {
    CHECK(classify_function_id(std::string("tool-call")).kind == CallKind::kToolCall);
    CHECK(classify_function_id(std::string("tools.weather")).kind == CallKind::kFunction);
    CHECK(classify_function_id(std::string("com.example.Tools.lookup")).kind ==
          CallKind::kFunction);
    CHECK(classify_function_id(std::nullopt).kind == CallKind::kFunction);
    CHECK(classify_function_id(std::string("tool-call#await")).kind == CallKind::kFunction);
    CHECK(call_kind_name(CallKind::kToolCall) == "tool-call");
    CHECK(call_kind_name(CallKind::kSubagentAwait) == "subagent-await");
  }
  SUBCASE("only upstream's exact form is a sub-agent id") {
    const std::string u(kSpecSession);
    const std::string upper = "E8552D4E-00F7-30D5-8D0F-868EFD83B335";
    for (const std::string& id : std::vector<std::string>{
             u + "-0#" + u + "-0-0",            // calls count from 1
             u + "-00#" + u + "-00-1",          // leading zero
             u + "-0#" + u + "-01",             // callId does not repeat the sessionId
             u + "-0#" + u + "-1-1",            // another session's call
             u + "-+0#" + u + "-+0-1",          // sign
             u + "--0#" + u + "--0-1",          // negative
             u + "-0#" + u + "-0-",             // no call number
             u + "#" + u + "-1",                // no session number
             upper + "-0#" + upper + "-0-1",    // UUID.toString() is lower case
             u + "-0#" + u + "-0-1#wait",       // other suffix
             u + "-0#" + u + "-0-1#await#await",
             "my_module.fn#0123456789abcdef",   // Python's id under the #1016 proposal
             "#", "#await", u, u + "-0",
         }) {
      CAPTURE(id);
      CHECK(classify_function_id(id).kind == CallKind::kFunction);
      CHECK(classify_function_id(id).session_id.empty());
    }
  }
}

TEST_CASE("CallIdentity.an await belongs to the slot of the call it awaits") {
  const std::string s0 = subagent_session_id(kSpecSession, 0);
  const std::string s1 = subagent_session_id(kSpecSession, 1);
  std::vector<CallResult> calls{
      CallResult::success(subagent_function_id(s0, 1, false), "", std::nullopt),
      CallResult::success(subagent_function_id(s0, 2, false), "", std::nullopt),
      CallResult::success(std::string("tools.weather"), "0123456789abcdef", std::nullopt),
      CallResult::pending(subagent_function_id(s0, 2, true), ""),
      CallResult::pending(subagent_function_id(s0, 1, true), ""),
      CallResult::pending(subagent_function_id(s1, 1, true), ""),  // its call is not here
  };
  CHECK(owning_slot(calls, 0) == 0u);
  CHECK(owning_slot(calls, 2) == 2u);
  CHECK(owning_slot(calls, 3) == 1u);
  CHECK(owning_slot(calls, 4) == 0u);
  CHECK_FALSE(owning_slot(calls, 5).has_value());
  CHECK_FALSE(owning_slot(calls, 6).has_value());
}
