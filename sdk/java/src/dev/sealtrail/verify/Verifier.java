package dev.sealtrail.verify;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sealtrail verification with the JDK only, written from docs/FORMAT.md: RFC 9162 inclusion
 * (§2.1.3.2) and consistency (§2.1.4.2) proofs, and checkpoints as C2SP signed notes signed
 * with Ed25519 (FORMAT.md §5). Every method returns normally or throws
 * {@link VerifyException}.
 */
public final class Verifier {
  private Verifier() {}

  private static final HexFormat HEX = HexFormat.of();
  private static final Pattern VKEY = Pattern.compile("^([^+\\s]+)\\+([0-9a-f]{8})\\+([A-Za-z0-9+/=]+)$");
  private static final Pattern SIG_LINE = Pattern.compile("^\u2014 ([^\\s+]+) ([A-Za-z0-9+/=]+)$");
  private static final Pattern SIZE = Pattern.compile("^(0|[1-9][0-9]{0,19})$");
  private static final byte[] SPKI_ED25519 = HEX.parseHex("302a300506032b6570032100");

  // -- hashing -----------------------------------------------------------------------------------

  static byte[] sha256(byte[]... parts) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        d.update(p);
      }
      return d.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** RFC 9162 §2.1.1: SHA-256(0x01 || left || right). */
  static byte[] node(byte[] left, byte[] right) {
    return sha256(new byte[] {1}, left, right);
  }

  /** 64 hex digits as 32 bytes. */
  public static byte[] hex32(String h, String what) {
    if (h == null || !h.matches("^[0-9a-fA-F]{64}$")) {
      throw new VerifyException("malformed", what + ": want 64 hex digits");
    }
    return HEX.parseHex(h.toLowerCase());
  }

  private static void check32(byte[] h, String what) {
    if (h == null || h.length != 32) {
      throw new VerifyException("bad_hash_size", what + " has " + (h == null ? 0 : h.length) + " bytes, want 32");
    }
  }

  // -- RFC 9162 proofs ------------------------------------------------------------------------------

  /** Number of hashes in PATH(index, size). Requires 0 <= index < size. */
  public static int inclusionProofSize(BigInteger index, BigInteger size) {
    int inner = index.xor(size.subtract(BigInteger.ONE)).bitLength();
    return inner + index.shiftRight(inner).bitCount();
  }

  /** Number of hashes in PROOF(m, n). Requires 0 < m <= n. */
  public static int consistencyProofSize(BigInteger m, BigInteger n) {
    if (m.equals(n)) {
      return 0;
    }
    int shift = m.getLowestSetBit();
    BigInteger a = m.subtract(BigInteger.ONE).shiftRight(shift);
    BigInteger b = n.subtract(BigInteger.ONE).shiftRight(shift);
    int inner = a.xor(b).bitLength();
    int start = m.equals(BigInteger.ONE.shiftLeft(shift)) ? 0 : 1;
    return start + inner + a.shiftRight(inner).bitCount();
  }

  /** RFC 9162 §2.1.3.2: {@code leaf} is entry {@code index} of the tree of {@code size} with {@code root}. */
  public static void verifyInclusion(byte[] leaf, BigInteger index, BigInteger size, List<byte[]> proof, byte[] root) {
    check32(leaf, "leaf hash");
    check32(root, "root");
    for (int i = 0; i < proof.size(); i++) {
      check32(proof.get(i), "proof[" + i + "]");
    }
    if (index.signum() < 0 || size.signum() < 0) {
      throw new VerifyException("malformed", "negative index or size");
    }
    if (index.compareTo(size) >= 0) {
      throw new VerifyException("index_beyond_size", "index is beyond size: " + index + " >= " + size);
    }
    int want = inclusionProofSize(index, size);
    if (proof.size() != want) {
      throw new VerifyException("wrong_proof_size", "wrong proof size " + proof.size() + ", want " + want);
    }
    BigInteger fn = index;
    BigInteger sn = size.subtract(BigInteger.ONE);
    byte[] r = leaf;
    for (byte[] p : proof) {
      if (sn.signum() == 0) {
        throw new VerifyException("wrong_proof_size", "proof is longer than the path");
      }
      if (fn.testBit(0) || fn.equals(sn)) {
        r = node(p, r);
        while (!fn.testBit(0) && fn.signum() != 0) {
          fn = fn.shiftRight(1);
          sn = sn.shiftRight(1);
        }
      } else {
        r = node(r, p);
      }
      fn = fn.shiftRight(1);
      sn = sn.shiftRight(1);
    }
    if (sn.signum() != 0) {
      throw new VerifyException("wrong_proof_size", "proof is shorter than the path");
    }
    if (!MessageDigest.isEqual(r, root)) {
      throw new VerifyException("root_mismatch", "calculated root " + HEX.formatHex(r) + " does not match " + HEX.formatHex(root));
    }
  }

  /**
   * RFC 9162 §2.1.4.2: the tree of size n with newRoot extends the tree of size m with oldRoot.
   * Policy (FORMAT.md §3.2): m > n refused; m == n needs an empty proof and equal roots; m == 0
   * refused.
   */
  public static void verifyConsistency(BigInteger m, BigInteger n, byte[] oldRoot, byte[] newRoot, List<byte[]> proof) {
    check32(oldRoot, "old_root");
    check32(newRoot, "new_root");
    for (int i = 0; i < proof.size(); i++) {
      check32(proof.get(i), "proof[" + i + "]");
    }
    if (m.signum() < 0 || n.compareTo(m) < 0) {
      throw new VerifyException("sizes_out_of_order", "new_size " + n + " < old_size " + m);
    }
    if (m.equals(n)) {
      if (!proof.isEmpty()) {
        throw new VerifyException("wrong_proof_size", "wrong proof size " + proof.size() + ", want 0");
      }
      if (!MessageDigest.isEqual(oldRoot, newRoot)) {
        throw new VerifyException("root_mismatch", "equal sizes but roots differ");
      }
      return;
    }
    if (m.signum() == 0) {
      throw new VerifyException("empty_old_tree", "a consistency proof from the empty tree is meaningless");
    }
    int want = consistencyProofSize(m, n);
    if (proof.size() != want) {
      throw new VerifyException("wrong_proof_size", "wrong proof size " + proof.size() + ", want " + want);
    }
    List<byte[]> path = new ArrayList<>();
    if (m.and(m.subtract(BigInteger.ONE)).signum() == 0) {
      path.add(oldRoot);
    }
    path.addAll(proof);
    BigInteger fn = m.subtract(BigInteger.ONE);
    BigInteger sn = n.subtract(BigInteger.ONE);
    while (fn.testBit(0)) {
      fn = fn.shiftRight(1);
      sn = sn.shiftRight(1);
    }
    byte[] fr = path.get(0);
    byte[] sr = path.get(0);
    for (byte[] c : path.subList(1, path.size())) {
      if (sn.signum() == 0) {
        throw new VerifyException("wrong_proof_size", "proof is longer than the path");
      }
      if (fn.testBit(0) || fn.equals(sn)) {
        fr = node(c, fr);
        sr = node(c, sr);
        while (!fn.testBit(0) && fn.signum() != 0) {
          fn = fn.shiftRight(1);
          sn = sn.shiftRight(1);
        }
      } else {
        sr = node(sr, c);
      }
      fn = fn.shiftRight(1);
      sn = sn.shiftRight(1);
    }
    if (sn.signum() != 0) {
      throw new VerifyException("wrong_proof_size", "proof is shorter than the path");
    }
    if (!MessageDigest.isEqual(fr, oldRoot)) {
      throw new VerifyException("root_mismatch", "calculated old root does not match");
    }
    if (!MessageDigest.isEqual(sr, newRoot)) {
      throw new VerifyException("root_mismatch", "calculated new root does not match");
    }
  }

  // -- C2SP signed notes and checkpoints (FORMAT.md §5) ----------------------------------------

  /** A parsed verifier key {@code <name>+<8 hex key hash>+<base64(0x01 || Ed25519 key)>}. */
  public static final class Key {
    public final String name;
    final byte[] keyHash;
    final PublicKey publicKey;

    Key(String name, byte[] keyHash, PublicKey publicKey) {
      this.name = name;
      this.keyHash = keyHash;
      this.publicKey = publicKey;
    }
  }

  private static byte[] base64(String b64, String code) {
    if (b64.length() % 4 != 0 || !b64.matches("^[A-Za-z0-9+/]*={0,2}$")) {
      throw new VerifyException(code, "not standard base64");
    }
    byte[] out = Base64.getDecoder().decode(b64);
    if (!Base64.getEncoder().encodeToString(out).equals(b64)) {
      throw new VerifyException(code, "base64 is not canonical");
    }
    return out;
  }

  /** Parse a verifier key (FORMAT.md §5). */
  public static Key parseKey(String vkey) {
    Matcher m = VKEY.matcher(vkey == null ? "" : vkey);
    if (!m.matches()) {
      throw new VerifyException("bad_key", "want <name>+<8 hex key hash>+<base64 key>");
    }
    String name = m.group(1);
    byte[] raw = base64(m.group(3), "bad_key");
    if (raw.length != 33 || raw[0] != 1) {
      throw new VerifyException("bad_key", "want 0x01 and a 32-byte Ed25519 key, got " + raw.length + " bytes");
    }
    byte[] keyHash = Arrays.copyOf(sha256((name + "\n").getBytes(StandardCharsets.UTF_8), raw), 4);
    if (!HEX.formatHex(keyHash).equals(m.group(2))) {
      throw new VerifyException("bad_key", "key hash " + m.group(2) + " does not match the key");
    }
    try {
      byte[] spki = new byte[SPKI_ED25519.length + 32];
      System.arraycopy(SPKI_ED25519, 0, spki, 0, SPKI_ED25519.length);
      System.arraycopy(raw, 1, spki, SPKI_ED25519.length, 32);
      PublicKey pk = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
      return new Key(name, keyHash, pk);
    } catch (GeneralSecurityException e) {
      throw new VerifyException("bad_key", "not an Ed25519 key: " + e.getMessage());
    }
  }

  /**
   * Open a signed note with trusted keys: returns the signed text (above the blank line, with its
   * final newline). Unknown keys' signatures are ignored; a trusted key's bad signature, a
   * malformed note or no trusted signature throws.
   */
  public static String openNote(String note, List<Key> keys) {
    for (int i = 0; i < note.length(); i++) {
      char c = note.charAt(i);
      if ((c < 0x20 && c != '\n') || c == 0x7f || Character.isSurrogate(c) && !validPair(note, i)) {
        throw new VerifyException("bad_note", "note has control characters other than newline");
      }
    }
    if (!note.endsWith("\n")) {
      throw new VerifyException("bad_note", "note does not end with a newline");
    }
    int split = note.lastIndexOf("\n\n");
    if (split < 0) {
      throw new VerifyException("bad_note", "no blank line before the signatures");
    }
    String text = note.substring(0, split + 1);
    String sigs = note.substring(split + 2);
    if (sigs.isEmpty()) {
      throw new VerifyException("bad_note", "no signature lines");
    }
    String[] lines = sigs.substring(0, sigs.length() - 1).split("\n", -1);
    if (lines.length > 100) {
      throw new VerifyException("bad_note", "more than 100 signature lines");
    }
    byte[] message = text.getBytes(StandardCharsets.UTF_8);
    boolean verified = false;
    for (String line : lines) {
      Matcher m = SIG_LINE.matcher(line);
      if (!m.matches()) {
        throw new VerifyException("bad_note", "malformed signature line");
      }
      byte[] sig = base64(m.group(2), "bad_note");
      if (sig.length < 5) {
        throw new VerifyException("bad_note", "signature too short");
      }
      for (Key k : keys) {
        if (!k.name.equals(m.group(1)) || !Arrays.equals(Arrays.copyOf(sig, 4), k.keyHash)) {
          continue;
        }
        if (sig.length != 68 || !ed25519(k.publicKey, message, Arrays.copyOfRange(sig, 4, 68))) {
          throw new VerifyException("bad_signature", "the signature by " + k.name + " does not verify");
        }
        verified = true;
      }
    }
    if (!verified) {
      throw new VerifyException("no_signature", "no signature by a trusted key");
    }
    return text;
  }

  private static boolean validPair(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) {
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  private static boolean ed25519(PublicKey key, byte[] message, byte[] sig) {
    try {
      Signature v = Signature.getInstance("Ed25519");
      v.initVerify(key);
      v.update(message);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** A verified checkpoint: origin, size, root and the map root (null before the map). */
  public static final class Checkpoint {
    public final String origin;
    public final BigInteger size;
    public final byte[] root;
    public final byte[] mapRoot;

    Checkpoint(String origin, BigInteger size, byte[] root, byte[] mapRoot) {
      this.origin = origin;
      this.size = size;
      this.root = root;
      this.mapRoot = mapRoot;
    }
  }

  /** Verify a checkpoint note signed by the ledger's key (FORMAT.md §5). */
  public static Checkpoint verifyCheckpoint(String note, Key key) {
    String text = openNote(note, List.of(key));
    String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
    if (lines.length < 3) {
      throw new VerifyException("bad_note", "checkpoint has " + lines.length + " lines, want at least 3");
    }
    if (!lines[0].equals(key.name)) {
      throw new VerifyException("wrong_origin", "origin " + lines[0] + " is not the key's name " + key.name);
    }
    if (!SIZE.matcher(lines[1]).matches() || new BigInteger(lines[1]).bitLength() > 64) {
      throw new VerifyException("bad_note", "bad size line");
    }
    byte[] root = base64(lines[2], "bad_note");
    if (root.length != 32) {
      throw new VerifyException("bad_note", "root has " + root.length + " bytes, want 32");
    }
    byte[] mapRoot = null;
    for (int i = 3; i < lines.length; i++) {
      String line = lines[i];
      if (line.isEmpty()) {
        throw new VerifyException("bad_note", "empty extension line");
      }
      int sp = line.indexOf(' ');
      String word = sp < 0 ? line : line.substring(0, sp);
      if (!word.equals("sealtrail-map/v1")) {
        continue;
      }
      if (mapRoot != null) {
        throw new VerifyException("bad_note", "more than one sealtrail-map/v1 line");
      }
      String arg = sp < 0 ? "" : line.substring(sp + 1);
      if (!arg.matches("^[A-Za-z0-9+/]{43}=$")) {
        throw new VerifyException("bad_note", "malformed sealtrail-map/v1 line");
      }
      mapRoot = base64(arg, "bad_note");
    }
    return new Checkpoint(lines[0], new BigInteger(lines[1]), root, mapRoot);
  }

  // -- the API's answers ---------------------------------------------------------------------------

  private static List<byte[]> hashes(Map<String, Object> o, String key) {
    List<Object> items = Json.list(o, key);
    if (items.size() > 64) {
      throw new VerifyException("malformed", key + ": too many hashes");
    }
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      if (!(items.get(i) instanceof String)) {
        throw new VerifyException("malformed", key + "[" + i + "]: want a string");
      }
      out.add(hex32((String) items.get(i), key + "[" + i + "]"));
    }
    return out;
  }

  private static String note(Map<String, Object> answer, String member) {
    return Json.str(Json.obj(answer.get(member), member), "note");
  }

  /**
   * Verify {@code GET /v1/events/{index}/proof}'s answer: the note is signed by {@code key}, its
   * size is the proof's, and the leaf is included under the note's root (not the answer's).
   */
  public static Checkpoint verifyInclusionAnswer(String json, Key key) {
    Map<String, Object> a = Json.obj(Json.parse(json), "answer");
    if (!"inclusion".equals(a.get("type"))) {
      throw new VerifyException("malformed", "type: want inclusion");
    }
    Checkpoint cp = verifyCheckpoint(note(a, "checkpoint"), key);
    BigInteger size = Json.u64(a, "size");
    if (!cp.size.equals(size)) {
      throw new VerifyException("size_mismatch", "proof is to size " + size + ", the note says " + cp.size);
    }
    verifyInclusion(hex32(Json.str(a, "leaf_hash"), "leaf_hash"), Json.u64(a, "index"), size, hashes(a, "proof"), cp.root);
    return cp;
  }

  /** Verify {@code GET /v1/checkpoints/consistency}'s answer: both notes signed, sizes and roots from them. */
  public static Checkpoint[] verifyConsistencyAnswer(String json, Key key) {
    Map<String, Object> a = Json.obj(Json.parse(json), "answer");
    if (!"consistency".equals(a.get("type"))) {
      throw new VerifyException("malformed", "type: want consistency");
    }
    Checkpoint older = verifyCheckpoint(note(a, "old_checkpoint"), key);
    Checkpoint newer = verifyCheckpoint(note(a, "new_checkpoint"), key);
    if (!older.size.equals(Json.u64(a, "old_size")) || !newer.size.equals(Json.u64(a, "new_size"))) {
      throw new VerifyException("size_mismatch", "the sizes are not the notes'");
    }
    verifyConsistency(older.size, newer.size, older.root, newer.root, hashes(a, "proof"));
    return new Checkpoint[] {older, newer};
  }

  /** Verify a checkpoint as the API shows it ({@code {"size", "root", "note", ...}}). */
  public static Checkpoint verifyCheckpointAnswer(String json, Key key) {
    Map<String, Object> a = Json.obj(Json.parse(json), "answer");
    Checkpoint cp = verifyCheckpoint(Json.str(a, "note"), key);
    if (!cp.size.equals(Json.u64(a, "size")) || !MessageDigest.isEqual(cp.root, hex32(Json.str(a, "root"), "root"))) {
      throw new VerifyException("size_mismatch", "size or root is not the note's");
    }
    return cp;
  }
}
