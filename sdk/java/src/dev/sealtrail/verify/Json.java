package dev.sealtrail.verify;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader (RFC 8259) for the API's answers: objects become {@code Map<String,
 * Object>}, arrays {@code List<Object>}, integers {@link BigInteger}, other numbers
 * {@link Double}, plus String, Boolean and {@link #NULL}. Duplicate keys, trailing data, lone
 * surrogates and nesting deeper than 64 are refused with {@link VerifyException} "malformed".
 */
public final class Json {
  /** JSON null (a Map cannot hold Java null unambiguously). */
  public static final Object NULL = new Object() {
    @Override
    public String toString() {
      return "null";
    }
  };

  private static final int MAX_DEPTH = 64;
  private final String s;
  private int at;

  private Json(String s) {
    this.s = s;
  }

  /** Parse one JSON text. */
  public static Object parse(String text) {
    Json p = new Json(text);
    p.ws();
    Object v = p.value(0);
    p.ws();
    if (p.at != p.s.length()) {
      throw p.fail("trailing data");
    }
    return v;
  }

  private VerifyException fail(String what) {
    return new VerifyException("malformed", "JSON: " + what + " at offset " + at);
  }

  private void ws() {
    while (at < s.length()) {
      char c = s.charAt(at);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      at++;
    }
  }

  private char peek() {
    if (at >= s.length()) {
      throw fail("unexpected end");
    }
    return s.charAt(at);
  }

  private void expect(String word) {
    if (!s.startsWith(word, at)) {
      throw fail("want " + word);
    }
    at += word.length();
  }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) {
      throw fail("nesting too deep");
    }
    char c = peek();
    switch (c) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        expect("true");
        return Boolean.TRUE;
      case 'f':
        expect("false");
        return Boolean.FALSE;
      case 'n':
        expect("null");
        return NULL;
      default:
        return number();
    }
  }

  private Map<String, Object> object(int depth) {
    Map<String, Object> out = new LinkedHashMap<>();
    at++;
    ws();
    if (peek() == '}') {
      at++;
      return out;
    }
    while (true) {
      ws();
      if (peek() != '"') {
        throw fail("want a key");
      }
      String key = string();
      if (out.containsKey(key)) {
        throw fail("duplicate key " + key);
      }
      ws();
      expect(":");
      ws();
      out.put(key, value(depth + 1));
      ws();
      char c = peek();
      at++;
      if (c == '}') {
        return out;
      }
      if (c != ',') {
        throw fail("want , or }");
      }
    }
  }

  private List<Object> array(int depth) {
    List<Object> out = new ArrayList<>();
    at++;
    ws();
    if (peek() == ']') {
      at++;
      return out;
    }
    while (true) {
      ws();
      out.add(value(depth + 1));
      ws();
      char c = peek();
      at++;
      if (c == ']') {
        return out;
      }
      if (c != ',') {
        throw fail("want , or ]");
      }
    }
  }

  private String string() {
    StringBuilder b = new StringBuilder();
    at++;
    while (true) {
      char c = peek();
      at++;
      if (c == '"') {
        break;
      }
      if (c < 0x20) {
        throw fail("control character in a string");
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      char e = peek();
      at++;
      switch (e) {
        case '"': b.append('"'); break;
        case '\\': b.append('\\'); break;
        case '/': b.append('/'); break;
        case 'b': b.append('\b'); break;
        case 'f': b.append('\f'); break;
        case 'n': b.append('\n'); break;
        case 'r': b.append('\r'); break;
        case 't': b.append('\t'); break;
        case 'u':
          if (at + 4 > s.length()) {
            throw fail("short \\u escape");
          }
          try {
            b.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
          } catch (NumberFormatException x) {
            throw fail("bad \\u escape");
          }
          at += 4;
          break;
        default:
          throw fail("bad escape");
      }
    }
    String out = b.toString();
    for (int i = 0; i < out.length(); i++) {
      char c = out.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= out.length() || !Character.isLowSurrogate(out.charAt(i + 1))) {
          throw fail("lone surrogate");
        }
        i++;
      } else if (Character.isLowSurrogate(c)) {
        throw fail("lone surrogate");
      }
    }
    return out;
  }

  private Object number() {
    int start = at;
    if (peek() == '-') {
      at++;
    }
    int digits = at;
    while (at < s.length() && Character.isDigit(s.charAt(at))) {
      at++;
    }
    if (at == digits || (s.charAt(digits) == '0' && at - digits > 1)) {
      throw fail("bad number");
    }
    boolean integer = true;
    if (at < s.length() && s.charAt(at) == '.') {
      integer = false;
      at++;
      int f = at;
      while (at < s.length() && Character.isDigit(s.charAt(at))) {
        at++;
      }
      if (at == f) {
        throw fail("bad fraction");
      }
    }
    if (at < s.length() && (s.charAt(at) == 'e' || s.charAt(at) == 'E')) {
      integer = false;
      at++;
      if (at < s.length() && (s.charAt(at) == '+' || s.charAt(at) == '-')) {
        at++;
      }
      int e = at;
      while (at < s.length() && Character.isDigit(s.charAt(at))) {
        at++;
      }
      if (at == e) {
        throw fail("bad exponent");
      }
    }
    String text = s.substring(start, at);
    if (integer) {
      if (text.length() > 40) {
        throw fail("integer too long");
      }
      return new BigInteger(text);
    }
    return Double.valueOf(text);
  }

  // -- typed access, each failing with "malformed" and the member's name ----------------------

  /** {@code v} as an object. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> obj(Object v, String what) {
    if (!(v instanceof Map)) {
      throw new VerifyException("malformed", what + ": want an object");
    }
    return (Map<String, Object>) v;
  }

  /** Member {@code key} of {@code o} as a string. */
  public static String str(Map<String, Object> o, String key) {
    Object v = o.get(key);
    if (!(v instanceof String)) {
      throw new VerifyException("malformed", key + ": want a string");
    }
    return (String) v;
  }

  /** Member {@code key} of {@code o} as a non-negative integer below 2^64. */
  public static BigInteger u64(Map<String, Object> o, String key) {
    Object v = o.get(key);
    if (!(v instanceof BigInteger)) {
      throw new VerifyException("malformed", key + ": want an integer");
    }
    BigInteger n = (BigInteger) v;
    if (n.signum() < 0 || n.bitLength() > 64) {
      throw new VerifyException("malformed", key + ": out of range");
    }
    return n;
  }

  /** Member {@code key} of {@code o} as a list. */
  @SuppressWarnings("unchecked")
  public static List<Object> list(Map<String, Object> o, String key) {
    Object v = o.get(key);
    if (!(v instanceof List)) {
      throw new VerifyException("malformed", key + ": want an array");
    }
    return (List<Object>) v;
  }
}
