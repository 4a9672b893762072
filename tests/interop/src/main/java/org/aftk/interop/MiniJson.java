// SPDX-License-Identifier: Apache-2.0
// Just enough JSON for the interop records: objects, strings, numbers, null, true/false; nested
// objects are skipped over. kafka-clients brings no JSON library of its own.
package org.aftk.interop;

import java.util.LinkedHashMap;

final class MiniJson {
  static final class Obj extends LinkedHashMap<String, Object> {}

  private final String s;
  private int i;

  private MiniJson(String s) {
    this.s = s;
  }

  static Obj parseObject(String text) {
    MiniJson p = new MiniJson(text);
    p.ws();
    Object o = p.value();
    if (!(o instanceof Obj)) throw new IllegalArgumentException("not an object: " + text);
    return (Obj) o;
  }

  static String quote(String v) {
    StringBuilder b = new StringBuilder("\"");
    for (int k = 0; k < v.length(); k++) {
      char c = v.charAt(k);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        default -> {
          if (c < 0x20 || Character.isSurrogate(c) || c == 0x2028 || c == 0x2029 || c == 0x85) {
            b.append(String.format("\\u%04X", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  private void ws() {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
  }

  private Object value() {
    ws();
    char c = s.charAt(i);
    if (c == '{') {
      Obj o = new Obj();
      i++;
      ws();
      if (s.charAt(i) == '}') {
        i++;
        return o;
      }
      while (true) {
        ws();
        String k = string();
        ws();
        expect(':');
        Object v = value();
        o.put(k, v);
        ws();
        if (s.charAt(i) == ',') {
          i++;
          continue;
        }
        expect('}');
        return o;
      }
    }
    if (c == '[') {
      int depth = 0;
      do {
        char d = s.charAt(i);
        if (d == '"') {
          string();
          continue;
        }
        if (d == '[') depth++;
        if (d == ']') depth--;
        i++;
      } while (depth > 0);
      return null;
    }
    if (c == '"') return string();
    if (s.startsWith("null", i)) {
      i += 4;
      return null;
    }
    if (s.startsWith("true", i)) {
      i += 4;
      return Boolean.TRUE;
    }
    if (s.startsWith("false", i)) {
      i += 5;
      return Boolean.FALSE;
    }
    int start = i;
    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
    return Double.parseDouble(s.substring(start, i));
  }

  private void expect(char c) {
    if (s.charAt(i) != c) throw new IllegalArgumentException("expected '" + c + "' at " + i);
    i++;
  }

  private String string() {
    expect('"');
    StringBuilder b = new StringBuilder();
    while (true) {
      char c = s.charAt(i++);
      if (c == '"') return b.toString();
      if (c != '\\') {
        b.append(c);
        continue;
      }
      char e = s.charAt(i++);
      switch (e) {
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 't' -> b.append('\t');
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'u' -> {
          b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
          i += 4;
        }
        default -> b.append(e);
      }
    }
  }
}
