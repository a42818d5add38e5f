package dev.sealtrail.verify;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Command line: {@code java -cp CLASSES dev.sealtrail.verify.Main COMMAND ...}
 *
 * <pre>
 *   inclusion   ANSWER.json VKEY   GET /v1/events/{index}/proof's answer
 *   consistency ANSWER.json VKEY   GET /v1/checkpoints/consistency's answer
 *   checkpoint  ANSWER.json VKEY   GET /v1/checkpoints/{size} (or latest)'s answer
 *   vectors     DIR                tests/vectors: inclusion, consistency, signed notes
 * </pre>
 *
 * VKEY is the ledger's verifier key ({@code name+hash+key}) or {@code @FILE} holding it. Exit
 * codes: 0 verified, 1 failed (the reason on stdout: {@code failed CODE: detail}), 2 usage or
 * unreadable input.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String[] args) {
    try {
      if (args.length == 2 && args[0].equals("vectors")) {
        return vectors(Path.of(args[1]));
      }
      if (args.length != 3) {
        System.err.println("usage: inclusion|consistency|checkpoint ANSWER.json VKEY | vectors DIR");
        return 2;
      }
      String json = Files.readString(Path.of(args[1]), StandardCharsets.UTF_8);
      String vkey = args[2].startsWith("@") ? Files.readString(Path.of(args[2].substring(1))).strip() : args[2];
      Verifier.Key key = Verifier.parseKey(vkey);
      switch (args[0]) {
        case "inclusion":
          report(Verifier.verifyInclusionAnswer(json, key));
          return 0;
        case "consistency":
          Verifier.Checkpoint[] both = Verifier.verifyConsistencyAnswer(json, key);
          System.out.println("verified consistent old_size=" + both[0].size + " new_size=" + both[1].size);
          return 0;
        case "checkpoint":
          report(Verifier.verifyCheckpointAnswer(json, key));
          return 0;
        default:
          System.err.println("unknown command " + args[0]);
          return 2;
      }
    } catch (VerifyException e) {
      System.out.println("failed " + e.code + ": " + e.getMessage());
      return 1;
    } catch (IOException e) {
      System.err.println("cannot read: " + e.getMessage());
      return 2;
    }
  }

  private static void report(Verifier.Checkpoint cp) {
    System.out.println("verified origin=" + cp.origin + " size=" + cp.size + " root=" + HexFormat.of().formatHex(cp.root)
        + (cp.mapRoot == null ? "" : " map_root=" + HexFormat.of().formatHex(cp.mapRoot)));
  }

  // -- the shared vectors ---------------------------------------------------------------------------

  private static List<byte[]> hexList(Map<String, Object> c, String key) {
    List<byte[]> out = new ArrayList<>();
    for (Object o : Json.list(c, key)) {
      out.add(HexFormat.of().parseHex((String) o));
    }
    return out;
  }

  private static byte[] hex(Map<String, Object> c, String key) {
    return HexFormat.of().parseHex(Json.str(c, key));
  }

  private static String expected(Map<String, Object> c) {
    return Json.str(c, "expect").split(" ")[0];
  }

  private static int vectors(Path dir) throws IOException {
    int cases = 0;
    List<String> wrong = new ArrayList<>();
    Map<String, Object> inc = Json.obj(Json.parse(Files.readString(dir.resolve("inclusion_proofs.json"))), "file");
    for (String group : new String[] {"published", "probes"}) {
      for (Object o : Json.list(Json.obj(inc.get(group), group), "cases")) {
        Map<String, Object> c = Json.obj(o, "case");
        String got = outcome(() -> Verifier.verifyInclusion(hex(c, "leaf_hash"), (BigInteger) c.get("leaf_index"),
            (BigInteger) c.get("tree_size"), hexList(c, "proof"), hex(c, "root")));
        cases++;
        if (!got.equals(expected(c))) {
          wrong.add("inclusion " + c.getOrDefault("id", c.get("leaf_index") + "/" + c.get("tree_size")) + ": " + got);
        }
      }
    }
    Map<String, Object> con = Json.obj(Json.parse(Files.readString(dir.resolve("consistency_proofs.json"))), "file");
    for (String group : new String[] {"published", "probes"}) {
      for (Object o : Json.list(Json.obj(con.get(group), group), "cases")) {
        Map<String, Object> c = Json.obj(o, "case");
        String got = outcome(() -> Verifier.verifyConsistency((BigInteger) c.get("size1"), (BigInteger) c.get("size2"),
            hex(c, "root1"), hex(c, "root2"), hexList(c, "proof")));
        String want = expected(c);
        // tests/vectors/README.md: 12-byte roots are refused by Sealtrail's policy
        if ("additional/sizes-are-equal-one-and-proof-is-empty".equals(c.get("id"))) {
          want = "reject";
        }
        cases++;
        if (!got.equals(want)) {
          wrong.add("consistency " + c.getOrDefault("id", c.get("size1") + "->" + c.get("size2")) + ": " + got);
        }
      }
    }
    Map<String, Object> notes = Json.obj(Json.parse(Files.readString(dir.resolve("signed_note_checkpoint.json"))), "file");
    Map<String, Object> keys = Json.obj(notes.get("keys"), "keys");
    String peter = Json.str(Json.obj(keys.get("PeterNeumann"), "k"), "verifier_key");
    for (Object o : Json.list(notes, "positive")) {
      Map<String, Object> c = Json.obj(o, "case");
      if (!c.containsKey("expected_signed_note")) {
        continue;
      }
      String signer = Json.str(Json.obj(keys.get(Json.str(c, "signing_key")), "k"), "verifier_key");
      String got = outcome(() -> {
        if (!Verifier.openNote(Json.str(c, "expected_signed_note"), List.of(Verifier.parseKey(signer))).equals(Json.str(c, "text"))) {
          throw new VerifyException("text", "wrong text");
        }
      });
      cases++;
      if (!got.equals("accept")) {
        wrong.add("note " + c.get("id") + ": " + got);
      }
    }
    for (Object o : Json.list(notes, "negative")) {
      Map<String, Object> c = Json.obj(o, "case");
      String want = Json.str(c, "expect").startsWith("accept") ? "accept" : "reject";
      String got;
      if (c.containsKey("check")) {
        continue;
      } else if (c.containsKey("verifier_key")) {
        got = outcome(() -> Verifier.parseKey(Json.str(c, "verifier_key")));
      } else if (c.containsKey("message_template")) {
        String good = (String) Json.obj(Json.list(notes, "positive").get(0), "p").get("expected_signed_note");
        int cut = good.lastIndexOf("\n\n");
        String note = good.substring(0, cut + 2) + good.substring(cut + 2).repeat(101);
        got = outcome(() -> Verifier.openNote(note, List.of(Verifier.parseKey(peter))));
      } else {
        String msg = c.containsKey("message_hex")
            ? new String(HexFormat.of().parseHex(Json.str(c, "message_hex")), StandardCharsets.UTF_8)
            : Json.str(c, "message");
        List<Verifier.Key> trusted = new ArrayList<>();
        if (c.containsKey("trusted_keys")) {
          for (Object k : Json.list(c, "trusted_keys")) {
            trusted.add(Verifier.parseKey((String) k));
          }
        } else {
          trusted.add(Verifier.parseKey(peter));
        }
        got = outcome(() -> Verifier.openNote(msg, trusted));
      }
      cases++;
      if (!got.equals(want)) {
        wrong.add("note " + c.get("id") + ": " + got);
      }
    }
    System.out.println("vectors: " + cases + " cases, " + wrong.size() + " wrong");
    for (String w : wrong) {
      System.out.println("  " + w);
    }
    return wrong.isEmpty() ? 0 : 1;
  }

  private static String outcome(Runnable check) {
    try {
      check.run();
      return "accept";
    } catch (VerifyException e) {
      return "reject";
    }
  }
}
