// SPDX-License-Identifier: Apache-2.0
// Tests of the Jackson-compatible JSON primitives: numbers, escaping, base64, canonical form.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "aftk/actionstate/ids.h"
#include "aftk/json/base64.h"
#include "aftk/json/normalize.h"
#include "aftk/json/writer.h"

using namespace aftk;
using aftk::json::java_double_to_string;

TEST_CASE("JavaDouble.formats like Double.toString on JDK 19+") {
  CHECK(java_double_to_string(1.0) == "1.0");
  CHECK(java_double_to_string(1e20) == "1.0E20");
  CHECK(java_double_to_string(1e-5) == "1.0E-5");
  CHECK(java_double_to_string(0.1) == "0.1");
  CHECK(java_double_to_string(-0.0) == "-0.0");
  CHECK(java_double_to_string(0.0) == "0.0");
  CHECK(java_double_to_string(1e7) == "1.0E7");
  CHECK(java_double_to_string(9999999.0) == "9999999.0");
  CHECK(java_double_to_string(0.001) == "0.001");
  CHECK(java_double_to_string(1e-4) == "1.0E-4");
  CHECK(java_double_to_string(100.0) == "100.0");
  CHECK(java_double_to_string(123.456) == "123.456");
  CHECK(java_double_to_string(std::numeric_limits<double>::max()) == "1.7976931348623157E308");
  CHECK(java_double_to_string(std::numeric_limits<double>::denorm_min()) == "4.9E-324");
  CHECK(java_double_to_string(3.141592653589793) == "3.141592653589793");
  CHECK(java_double_to_string(2e23) == "2.0E23");  // JDK 17 prints 1.9999999999999998E23
  CHECK(java_double_to_string(8.41e21) == "8.41E21");
  CHECK(java_double_to_string(-1.5e-7) == "-1.5E-7");
  CHECK(java_double_to_string(std::nan("")) == "NaN");
  CHECK(java_double_to_string(-INFINITY) == "-Infinity");
  CHECK(json::java_float_to_string(0.1f) == "0.1");
  CHECK(json::java_float_to_string(1.5f) == "1.5");
}

TEST_CASE("JsonString.escapes like Jackson's UTF-8 generator") {
  std::string out;
  json::append_string(out, "a\"b\\c\b\t\n\f\r\x01\x1f\x7f/\xc3\xbc");
  CHECK(out == "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001F\x7f/\xc3\xbc\"");
  out.clear();
  json::append_string(out, "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(out == "\"\\uD83D\\uDE00\"");
  out.clear();
  json::append_string(out, "\xF0\x9F\x98\x80", json::Escape::kRawUnicode);
  CHECK(out == "\"\xF0\x9F\x98\x80\"");
  out.clear();
  json::append_string(out, "\xe2\x80\xa8");  // U+2028 stays raw
  CHECK(out == "\"\xe2\x80\xa8\"");
}

TEST_CASE("Base64.is padded and strict on read") {
  CHECK(json::base64_encode("\x01\x02\x03") == "AQID");
  CHECK(json::base64_encode("\x01\x02") == "AQI=");
  CHECK(json::base64_encode("") == "");
  std::string out;
  CHECK(json::base64_decode("AQI=", out).has_value());
  CHECK(out == "\x01\x02");
  out.clear();
  CHECK_FALSE(json::base64_decode("AQI", out).has_value());
  json::Base64Problem problem;
  out.clear();
  CHECK(json::base64_decode_lenient("AQI", out, problem).has_value());
  CHECK(problem.unpadded);
  CHECK(out == "\x01\x02");
  CHECK_FALSE(json::base64_decode("A*I=", out).has_value());
  CHECK_FALSE(json::base64_decode("A=I=", out).has_value());
  CHECK(json::normalize_topic_id("ab+/cd==") == "ab-_cd");
}

TEST_CASE("Base64.drops bits after the last byte, as Jackson does, and says so") {
  // Jackson 2.18 reads "QR==" as [65] and writes [65] back as "QQ==".
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"QQ==", "A", false}, {"QR==", "A", true},   {"QUI=", "AB", false}, {"QUJ=", "AB", true},
      {"QUJD", "ABC", false}, {"QR", "A", true}, {"", "", false}};
  for (const auto& [text, bytes, stray] : cases) {
    CAPTURE(text);
    std::string out;
    json::Base64Problem problem;
    REQUIRE(json::base64_decode_lenient(text, out, problem).has_value());
    CHECK(out == bytes);
    CHECK(problem.stray_bits == stray);
    CHECK((json::base64_encode(out) == text) == (!stray && !problem.unpadded));
  }
  std::string out;
  CHECK(json::base64_decode("QR==", out).has_value());
  CHECK(out == "A");
}

TEST_CASE("Normalize.rewrites numbers and escapes as Jackson does") {
  CHECK(json::normalize(R"({"a": 1E2, "b": -0, "c": [1.50, 12345678901234567890123], "d": "\u00fc"})")
            .value() == "{\"a\":100.0,\"b\":0,\"c\":[1.5,12345678901234567890123],\"d\":\"\xc3\xbc\"}");
  CHECK(json::normalize("\"x\"").value() == "\"x\"");
  CHECK(json::normalize("null").value() == "null");
  CHECK_FALSE(json::normalize("{\"a\":1} x").has_value());
  CHECK_FALSE(json::normalize("{\"a\":").has_value());
  CHECK_FALSE(json::normalize("{\"a\":01}").has_value());
  CHECK_FALSE(json::normalize("\"\xff\"").has_value());  // invalid UTF-8
}

TEST_CASE("Canonical.sorts keys in UTF-16 order, recursively") {
  // U+FF5E (3 UTF-8 bytes) sorts after U+1F600 in UTF-16 but before it in UTF-8 byte order.
  const auto c = json::canonical_json("{\"b\":{\"z\":1,\"a\":2},\"a\":[{\"y\":1,\"x\":2}],"
                                      "\"\xef\xbd\x9e\":1,\"\xF0\x9F\x98\x80\":2}");
  REQUIRE(c.has_value());
  CHECK(*c == "{\"a\":[{\"x\":2,\"y\":1}],\"b\":{\"a\":2,\"z\":1},\"\\uD83D\\uDE00\":2,\"\xef\xbd\x9e\":1}");
  CHECK(json::compare_utf16("a", "b") < 0);
  CHECK(json::compare_utf16("ab", "a") > 0);
  CHECK(json::compare_utf16("", "") == 0);
}

TEST_CASE("Ids.event UUID of the spec example") {
  CHECK(actionstate::event_uuid("{\"input\":\"hello\"}").value() ==
        "b6dc5e36-12ea-3bb2-8ca3-e0ea9865efcf");
}

TEST_CASE("Ids.Flink murmur hash and Java hashes") {
  CHECK(json::java_string_hash("user-42") == -147182656);
  CHECK(json::java_string_hash("test-key") == -1147945308);
  CHECK(actionstate::flink_murmur_hash(2) == 1085422463);
  CHECK(actionstate::flink_murmur_hash(json::java_string_hash("user-42")) % 64 == 20);
  CHECK(actionstate::assign_to_key_group(actionstate::java_long_hash(1), 128) == 86);
  CHECK(actionstate::assign_to_key_group(json::java_string_hash("1"), 128) == 54);
  CHECK(actionstate::assign_to_key_group(json::java_string_hash("A"), 128) == 104);
  CHECK(actionstate::assign_to_key_group(json::java_string_hash("order-1001"), 128) == 13);
}

TEST_CASE("Ids.action UUIDs and business key digests") {
  actionstate::PythonActionId a{"process", "my_module", "MyAgent.process", {"_input_event"}};
  CHECK(actionstate::python_action_hash(a) == 389114231);
  CHECK(actionstate::action_uuid_legacy(389114231) == "22bf7b3d-f5c0-3314-93e2-9385c03e03b1");
  CHECK(actionstate::action_uuid_from_name("test-action") == "30e6b546-354f-3cf6-a60e-7956be205a13");
  CHECK(actionstate::action_uuid_from_name("action") == "418c5509-e217-3d55-b0ae-e5c2ea4442b5");
  CHECK(actionstate::flink_string_serializer_bytes("A") == std::string("\x02\x41", 2));
  CHECK(actionstate::business_key_id(actionstate::flink_string_serializer_bytes("A")) ==
        "a1QTcyaxJ3uXEIgXAYyTXNRtkvgx0E1HyxQc/N1w0JM=");
  CHECK(actionstate::business_key_id(actionstate::flink_long_serializer_bytes(1)) ==
        "zSZiFU5tdrKyuS5wwMrDzPU0+bdOtbiYGexQkIPQClA=");
  CHECK(actionstate::is_canonical_uuid("22bf7b3d-f5c0-3314-93e2-9385c03e03b1"));
  CHECK_FALSE(actionstate::is_canonical_uuid("22BF7b3d-f5c0-3314-93e2-9385c03e03b1"));
  // Every single-byte change of a valid UUID is caught: a dash moved, a non-hex digit, a byte
  // of any value, and lengths one off.
  const std::string good = "22bf7b3d-f5c0-3314-93e2-9385c03e03b1";
  for (size_t i = 0; i < good.size(); ++i) {
    for (int c = 0; c < 256; ++c) {
      std::string u = good;
      u[i] = static_cast<char>(c);
      const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      const bool ok = dash ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
      CHECK(actionstate::is_canonical_uuid(u) == ok);
    }
  }
  CHECK_FALSE(actionstate::is_canonical_uuid(good.substr(0, 35)));
  CHECK_FALSE(actionstate::is_canonical_uuid(good + "0"));
  CHECK_FALSE(actionstate::is_canonical_uuid(""));
}

TEST_CASE("Normalize.one-pass re-escaping agrees with unescape-then-escape") {
  // Keys and values with escapes Jackson writes as they are, escapes it rewrites, a key ending
  // in an escaped backslash, and non-BMP characters raw and escaped.
  const char* in =
      R"({"key \"q\" \\":"v","a\/b":"\u00e9\u0041\/\u001f\u000B","\ud83d\ude00":"\uD83D\uDE00 )"
      "\xF0\x9F\x98\x80" R"(","n":"\b\t\n\f\r\"\\"})";
  CHECK(json::normalize(in).value() ==
        "{\"key \\\"q\\\" \\\\\":\"v\",\"a/b\":\"\xc3\xa9" "A/\\u001F\\u000B\",\"\\uD83D\\uDE00\":"
        "\"\\uD83D\\uDE00 \\uD83D\\uDE00\",\"n\":\"\\b\\t\\n\\f\\r\\\"\\\\\"}");
  CHECK(json::normalize(in, {json::Escape::kRawUnicode, false}).value() ==
        "{\"key \\\"q\\\" \\\\\":\"v\",\"a/b\":\"\xc3\xa9" "A/\\u001F\\u000B\",\"\xF0\x9F\x98\x80\":"
        "\"\xF0\x9F\x98\x80 \xF0\x9F\x98\x80\",\"n\":\"\\b\\t\\n\\f\\r\\\"\\\\\"}");
}

TEST_CASE("Normalize.a lone surrogate escape is kept as Jackson keeps it") {
  // Jackson 2.18 reads "\ud800" into a String holding the lone char and writes it back as
  // "\uD800"; the same for a low surrogate without a high one, in keys too.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"a":"\ud83d"})", R"({"a":"\uD83D"})"},
      {R"({"a":"\uD800"})", R"({"a":"\uD800"})"},
      {R"({"a":"x\udc00y"})", R"({"a":"x\uDC00y"})"},
      {R"({"a":"\udc00\ud800"})", R"({"a":"\uDC00\uD800"})"},
      {R"({"a":"\ud800\u0041\ud800"})", R"({"a":"\uD800A\uD800"})"},
      {R"({"a":"\ud800\ud800\udc00"})", R"({"a":"\uD800\uD800\uDC00"})"},
      {R"({"\ud800k":["\uDFFF"]})", R"({"\uD800k":["\uDFFF"]})"},
      {R"({"a":"\ud83d\ude00"})", R"({"a":"\uD83D\uDE00"})"},
  };
  for (const auto& [in, want] : cases) {
    CAPTURE(in);
    CHECK(json::normalize(in).value() == want);
    CHECK(json::normalize(want).value() == want);
  }
  // UTF-8 cannot carry a lone surrogate, so the raw-Unicode form escapes it too.
  const json::NormalizeOptions raw_unicode{json::Escape::kRawUnicode, false};
  CHECK(json::normalize(R"({"a":"\ud800\ud83d\ude00"})", raw_unicode).value() ==
        "{\"a\":\"\\uD800\xF0\x9F\x98\x80\"}");
  // Sorted in UTF-16 order, the lone surrogate key among the others.
  const char* keys = R"({"\uffff":3,"\ud83d\ude00":4,"\ud800":1,"a":2,"\ud800":5})";
  CHECK(json::canonical_json(keys).value() ==
        "{\"a\":2,\"\\uD800\":5,\"\\uD83D\\uDE00\":4,\"\xEF\xBF\xBF\":3}");
  CHECK(actionstate::event_uuid(R"({"\ud800":1})").has_value());
}

TEST_CASE("Normalize.doubles past the double range read as Java's Double.parseDouble reads them") {
  // Jackson reads 1e400 as Double Infinity and writes it as the string "Infinity"
  // (WRITE_NAN_AS_STRINGS); 1e-400 is 0.0.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1e400", R"("Infinity")"},
      {"-1e400", R"("-Infinity")"},
      {"2e308", R"("Infinity")"},
      {"123.456e99999999999999999999", R"("Infinity")"},
      {"0.001e311", "1.0E308"},
      {"1.7976931348623157e308", "1.7976931348623157E308"},
      {"1e-400", "0.0"},
      {"-1e-400", "-0.0"},
      {"0.000001e-99999999999", "0.0"},
      {"4.9e-324", "4.9E-324"},
      {"0e99999", "0.0"},
      {"1.5", "1.5"},
  };
  for (const auto& [in, want] : cases) {
    CAPTURE(in);
    CHECK(json::normalize("[" + in + "]").value() == "[" + want + "]");
    CHECK(json::normalize(R"({"n":)" + in + "}").value() == R"({"n":)" + want + "}");
  }
}
