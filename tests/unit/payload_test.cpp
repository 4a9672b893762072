// SPDX-License-Identifier: Apache-2.0
// Call-result payloads: what each kind decodes to, and the safe pickle reader on hand-built
// pickles (bytes made by CPython's pickle.dumps, pasted as hex) and on malformed input.
#include <doctest/doctest.h>

#include <string>

#include "aftk/actionstate/payload.h"

using namespace aftk;
using namespace aftk::actionstate;
using namespace std::string_literals;

namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string pickle_json(std::string_view hex) {
  auto r = read_pickle(unhex(hex));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return *r;
}

std::string pickle_error(std::string_view bytes, const PayloadLimits& limits = {}) {
  auto r = read_pickle(bytes, limits);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::kCorruptRecord);
  return r.error().message;
}

std::string decoded_json(std::string_view bytes) {
  auto r = decode_payload(bytes);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  std::string out;
  append_payload_json(out, *r);
  return out;
}

}  // namespace

TEST_CASE("Payload.kinds: JSON, text, Java exception, Kryo envelope, bytes") {
  CHECK(decoded_json(R"("ok")") == R"({"kind":"json","value":"ok"})");
  CHECK(decoded_json("{ \"a\" : [1, 2.50] }") == R"({"kind":"json","value":{"a":[1,2.5]}})");
  CHECK(decoded_json("hello world") == R"({"kind":"text","value":"hello world"})");
  CHECK(decoded_json("") == R"({"kind":"text","value":""})");
  CHECK(decoded_json("Zürich\n") == R"({"kind":"text","value":"Zürich\n"})");
  CHECK(decoded_json(R"({"exceptionClass":"java.lang.IllegalStateException","message":"boom"})") ==
        R"({"kind":"java-exception","value":{"exceptionClass":"java.lang.IllegalStateException",)"
        R"("message":"boom"}})");
  CHECK(decoded_json(R"({"message":null,"exceptionClass":"java.io.IOException"})") ==
        R"({"kind":"java-exception","value":{"message":null,)"
        R"("exceptionClass":"java.io.IOException"}})");
  SUBCASE("an object with more than the two exception fields is plain JSON") {
    CHECK(decoded_json(R"({"exceptionClass":"x","message":"m","cause":1})")
              .find(R"("kind":"json")") == 1);
    CHECK(decoded_json(R"({"exceptionClass":1,"message":"m"})").find(R"("kind":"json")") == 1);
  }
  CHECK(decoded_json(R"({"serde":"kryo","version":1,"payload":"S1JZTzp2"})") ==
        R"({"kind":"kryo","size":6})");
  CHECK(decoded_json(std::string("\x00\xff\x01", 3)) == R"({"kind":"bytes","value":"AP8B"})");
  // A lone 0x80 or PROTO 1 is not taken for a pickle of protocol 2 to 5.
  CHECK(decoded_json("\x80\x01K\x01.") == R"({"kind":"bytes","value":"gAFLAS4="})");
  auto r = decode_payload(unhex("8005950a000000000000008c0668c3a96c6c6f942e"));
  REQUIRE(r.has_value());
  CHECK(r->kind == PayloadKind::kPickle);
  CHECK(r->size == 21);
  CHECK(payload_kind_name(PayloadKind::kJavaException) == "java-exception");
}

TEST_CASE("Pickle.scalars, strings and containers of protocols 2 to 5") {
  // pickle.dumps("héllo", protocol=5)
  CHECK(pickle_json("8005950a000000000000008c0668c3a96c6c6f942e") == R"("héllo")");
  // {"city":"Zürich","visits":3,"ok":True,"none":None,"f":1.5}, protocol 4
  CHECK(pickle_json("8004953c000000000000007d94288c0463697479948c075ac3bc72696368948c067669736974"
                    "73944b038c026f6b94888c046e6f6e65944e8c016694473ff8000000000000752e") ==
        R"({"city":"Zürich","visits":3,"ok":true,"none":null,"f":1.5})");
  // [1,-1,255,65535,2**31,-2**63,2**100,(1,2),b"\x00\xff",{1,2},frozenset([3])], protocol 5
  const std::string expected =
      R"([1,-1,255,65535,2147483648,-9223372036854775808,1267650600228229401496703205376,)"
      R"([1,2],{"bytes":"AP8="},{"set":[1,2]},{"frozenset":[3]}])";
  CHECK(pickle_json("80059549000000000000005d94284b014affffffff4bff4dffff8a0500000080008a08000000"
                    "00000000808a0d000000000000000000000000104b014b028694430200ff948f94284b014b0290"
                    "284b039194652e") == expected);
  SUBCASE("protocol 2 writes bytes and sets as calls with a fixed meaning; read as values") {
    CHECK(pickle_json("80025d7100284b014affffffff4bff4dffff8a0500000080008a080000000000000080"
                      "8a0d000000000000000000000000104b014b02867101635f636f646563730a656e636f64"
                      "650a7102580300000000c3bf710358060000006c6174696e317104867105527106635f5f"
                      "6275696c74696e5f5f0a7365740a71075d7108284b014b026585710952710a635f5f6275"
                      "696c74696e5f5f0a66726f7a656e7365740a710b5d710c4b036185710d52710e652e") ==
          expected);
  }
  // (), (1,), (1,2,3), (1,2,3,4): TUPLE1..3 and MARK/TUPLE
  CHECK(pickle_json("8004292e") == "[]");
  CHECK(pickle_json("80049505000000000000004b0185942e") == "[1]");
  CHECK(pickle_json("80049509000000000000004b014b024b0387942e") == "[1,2,3]");
  CHECK(pickle_json("8004950c00000000000000284b014b024b034b0474942e") == "[1,2,3,4]");
  // -(2**70), protocol 2 (LONG1 of 9 bytes)
  CHECK(pickle_json("80028a090000000000000000c02e") == "-1180591620717411303424");
  // {1:"a",2:"b"}: keys that are not strings
  CHECK(pickle_json("80049511000000000000007d94284b018c0161944b028c016294752e") ==
        R"({"dict":[[1,"a"],[2,"b"]]})");
  // [nan, inf]
  CHECK(pickle_json("80049517000000000000005d9428477ff8000000000000477ff0000000000000652e") ==
        R"([{"float":"nan"},{"float":"inf"}])");
  // bytearray(b"ab"), protocol 5
  CHECK(pickle_json("8005950d000000000000009602000000000000006162942e") ==
        R"({"bytearray":"YWI="})");
}

TEST_CASE("Pickle.memo: shared values, values that hold themselves, lone surrogates") {
  // a=["x"]; [a, a], protocol 3 (BINPUT/BINGET)
  CHECK(pickle_json("80035d7100285d71015801000000787102616801652e") == R"([["x"],["x"]])");
  // l=[1]; l.append(l), protocol 4 (MEMOIZE, BINGET of a list still being filled)
  CHECK(pickle_json("80049509000000000000005d94284b016800652e") == R"([1,{"cycle":true}])");
  // "a\ud800b", protocol 4: written with surrogatepass, shown with U+FFFD
  CHECK(pickle_json("80049509000000000000008c0561eda08062942e") == "\"a\xEF\xBF\xBD" "b\"");
}

TEST_CASE("Pickle.objects are shown as the class they would construct, never built") {
  // ValueError("boom"), protocol 5: STACK_GLOBAL, TUPLE1, REDUCE
  CHECK(pickle_json("80059526000000000000008c086275696c74696e73948c0a56616c75654572726f72949394"
                    "8c04626f6f6d94859452942e") ==
        R"({"class":"builtins.ValueError","args":["boom"]})");
  // collections.OrderedDict(a=1), protocol 4: REDUCE then SETITEM on the object
  CHECK(pickle_json("80049529000000000000008c0b636f6c6c656374696f6e73948c0b4f726465726564446963"
                    "749493942952948c0161944b01732e") ==
        R"({"class":"collections.OrderedDict","args":[],"dictitems":[["a",1]]})");
  // os.system("echo pwned") as REDUCE: the name is shown, nothing runs.
  const std::string evil = "\x80\x04" "cos\nsystem\n" "\x8c\x0a" "echo pwned" "\x85R.";
  CHECK(*read_pickle(evil) == R"({"class":"os.system","args":["echo pwned"]})");
  // NEWOBJ then BUILD: a plain object with its __dict__.
  const std::string obj = "\x80\x04\x8c\x04main\x8c\x05Point\x93)\x81}\x8c\x01xK\x01sb.";
  CHECK(*read_pickle(obj) == R"({"class":"main.Point","args":[],"state":{"x":1}})");
  // A bare GLOBAL
  CHECK(*read_pickle("\x80\x02" "cbuiltins\nint\n.") == R"({"class":"builtins.int"})");
}

TEST_CASE("Pickle.malformed input and limits are clear errors") {
  CHECK(pickle_error("\x80\x05") == "pickle: truncated at byte 2: no STOP");
  CHECK(pickle_error("\x80\x05X\x10\x00\x00\x00" "ab."s) ==
        "pickle: truncated: 16 bytes wanted, 3 left at byte 2 (BINUNICODE)");
  CHECK(pickle_error("\x80\x05.") == "pickle: stack underflow at byte 2 (STOP)");
  CHECK(pickle_error("\x80\x05h\x07."s) ==
        "pickle: memo key 7 was never stored at byte 2 (BINGET)");
  CHECK(pickle_error("\x80\x05\xff.") == "pickle: unknown opcode 0xff at byte 2 (opcode 0xff)");
  CHECK(pickle_error("\x80\x05S'a'\n.") ==
        "pickle: opcode of protocol 0 or 1, not read at byte 2 (opcode 0x53)");
  CHECK(pickle_error("\x80\x05K\x01K\x02K\x03s.") ==
        "pickle: setting items of a value that is not a dict at byte 8 (SETITEM)");
  CHECK(pickle_error("\x80\x05\x8c\x01\xff.") ==
        "pickle: string is not UTF-8 at byte 2 (SHORT_BINUNICODE)");
  CHECK(pickle_error("\x80\x05\x95\xff\x00\x00\x00\x00\x00\x00\x00N."s) ==
        "pickle: frame of 255 bytes, 2 left at byte 2 (FRAME)");
  CHECK(pickle_error("\x80\x05\x8b\xff\xff\xff\xff.") ==
        "pickle: negative length at byte 2 (LONG4)");
  CHECK(pickle_error("\x80\x05\x97.").find("out-of-band") != std::string::npos);
  SUBCASE("depth") {
    std::string deep = "\x80\x05";
    for (int i = 0; i < 1001; ++i) deep += "]";
    for (int i = 0; i < 1000; ++i) deep += "a";
    deep += ".";
    CHECK(pickle_error(deep) == "pickle: value nested deeper than 1000");
    std::string ok = "\x80\x05";
    for (int i = 0; i < 1000; ++i) ok += "]";
    for (int i = 0; i < 999; ++i) ok += "a";
    ok += ".";
    auto r = read_pickle(ok);
    REQUIRE(r.has_value());
    CHECK(r->size() == 2000);
  }
  SUBCASE("output size: shared references that double at each level") {
    std::string bomb = "\x80\x05\x8c\x01xq\x00"s;
    for (int i = 0; i < 60; ++i) bomb += "h\x00h\x00\x86q\x00"s;
    bomb += ".";
    CHECK(pickle_error(bomb) == "pickle: decoded value exceeds 67108864 bytes");
  }
  SUBCASE("memo entries and integer digits") {
    PayloadLimits limits;
    limits.max_memo = 2;
    CHECK(pickle_error("\x80\x05N\x94\x94\x94.", limits) ==
          "pickle: more than 2 memo entries at byte 5 (MEMOIZE)");
    std::string big = "\x80\x05\x8b\xd0\x07\x00\x00"s + std::string(2000, '\x01') + ".";
    CHECK(pickle_error(big) ==
          "pickle: integer of 2000 bytes exceeds the limit of 4300 digits at byte 2 (LONG4)");
    limits.max_input = 4;
    CHECK(pickle_error("\x80\x05NN.", limits) == "pickle of 5 bytes exceeds the limit of 4");
  }
  // decode_payload passes the pickle's error on.
  auto r = decode_payload(std::string("\x80\x04\x95", 3));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("pickle: truncated") == 0);
}

TEST_CASE("Pickle.never crashes on any truncation or single-byte change of a real pickle") {
  const std::string base = unhex(
      "80059549000000000000005d94284b014affffffff4bff4dffff8a0500000080008a0800000000000000808a0d"
      "000000000000000000000000104b014b028694430200ff948f94284b014b0290284b039194652e");
  for (size_t n = 0; n < base.size(); ++n) (void)read_pickle(base.substr(0, n));
  for (size_t i = 0; i < base.size(); ++i) {
    for (int v : {0x00, 0x28, 0x2e, 0x68, 0x80, 0x8b, 0x94, 0xff}) {
      std::string b = base;
      b[i] = static_cast<char>(v);
      (void)read_pickle(b);
    }
  }
}
