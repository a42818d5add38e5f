"""``VERIFY.md``: how to check a package by hand with sha256sum, openssl, python3, curl and
poppler's pdfsig and pdfdetach (the report's seal and its embedded facts).

The text names this package's own files and values (target checkpoint, a sample event, each
anchor's transaction), so a notary can follow it line by line. The commands are run by the test
suite (``tests/integration/verifier/test_handcheck.py``) against a real package.
"""

from __future__ import annotations

from collections.abc import Iterable

from sealtrail.export.evidence import Evidence
from sealtrail.verifier import layout

_SELECTOR = "0x2f71a556"  # anchorOf(bytes32,bytes32), docs/FORMAT.md §6.1 (both versions)
#: topic 0 of each contract version's Anchored event (docs/FORMAT.md §6.1)
_TOPICS = {
    1: "0x7196d6002b555d592bc808cc522b6e167501be1b6185fd206cd187b7330acf7a",
    2: "0xa5a075337b25e826b34aaec08938fe05a4c35aca3e469eb0debb58759e5a0b5b",
}

#: compares the report's embedded facts (docs/FORMAT.md §8.10) with what the package's files show
_FACTS_SCRIPT = r"""python3 - <<'EOF'
import hashlib, json, glob, base64
facts = json.load(open("sealtrail-facts.json"))
m = json.load(open("manifest.json"))
T = m["target"]["size"]
note = open("checkpoints/%012d.note" % T).read().split("\n\n")[0].split("\n")
maps = [l.split(" ")[1] for l in note[3:] if l.startswith("sealtrail-map/v1 ")]
events, docs = [], set()
for f in sorted(glob.glob("events/*.json")):
    b = open(f, "rb").read(); e = json.loads(b)
    events.append({"index": e["index"], "leaf_hash": hashlib.sha256(b"\x00" + b).hexdigest()})
    docs |= {d["sha256"] for d in e["documents"]}
want = {"format": "sealtrail-report-facts", "version": 1,
        "log": {"origin": note[0], "verifier_key": open("certs/ledger.pub").read().strip()},
        "selection": m["coverage"]["selection"],
        "target": {"size": int(note[1]), "root": base64.b64decode(note[2]).hex(),
                   "map_root": base64.b64decode(maps[0]).hex() if maps else None},
        "events": events, "documents": sorted(docs),
        "coverage": {"events": len(events), "first_index": events[0]["index"],
                     "last_index": events[-1]["index"], "unsealed": m["coverage"]["unsealed"]}}
for k in want:
    if facts.get(k) != want[k]: print("DIFFERS:", k)
print("report facts OK" if facts == want else "report facts DIFFER")
EOF"""

#: checks the ``prev`` chain of every stream in ``streams.json`` (docs/FORMAT.md §8.2)
_CHAIN_SCRIPT = r"""python3 - <<'EOF'
import hashlib, json
sel = json.load(open("manifest.json"))["coverage"]["selection"]
def whole(t, s):          # held whole: the selected stream, and its tenant's envelope streams
    return sel["kind"] == "stream" and t == sel["tenant"] and (
        s == sel["stream"] or s.startswith("envelope:"))
bad = 0
for st in json.load(open("streams.json")):
    prev, w = None, whole(st["tenant"], st["stream"])
    for i in st["events"]:
        raw = open("events/%012d.json" % i, "rb").read(); e = json.loads(raw)
        ok = (e["tenant"], e["stream"]) == (st["tenant"], st["stream"])
        if w:                                   # from prev null, each to the previous
            ok = ok and e["prev"] == prev
        bad += not ok
        if not ok: print("CHAIN BROKEN at", i, "in", st["stream"])
        prev = hashlib.sha256(b"\x00" + raw).hexdigest()
print("stream chains OK" if not bad else "%d chain links FAILED" % bad)
EOF"""


_PROOF_SCRIPT = r"""python3 - <<'EOF'
import hashlib, json, glob, base64
H = lambda b: hashlib.sha256(b).digest()
node = lambda l, r: H(b"\x01" + l + r)
def root_of(note):
    return base64.b64decode(open(note).read().split("\n")[2])
def incl(leaf, i, n, proof, root):             # RFC 9162 section 2.1.3.2
    fn, sn, r = i, n - 1, leaf
    for p in proof:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn: fn >>= 1; sn >>= 1
        else: r = node(r, p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root
def cons(m, n, old, new, proof):               # RFC 9162 section 2.1.4.2
    if m == n: return not proof and old == new
    if m & (m - 1) == 0: proof = [old] + proof
    fn, sn = m - 1, n - 1
    while fn & 1: fn >>= 1; sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn: fn >>= 1; sn >>= 1
        else: sr = node(sr, c)
        fn >>= 1; sn >>= 1
    return sn == 0 and fr == old and sr == new
m = json.load(open("manifest.json"))
T = m["target"]["size"]
root = root_of("checkpoints/%012d.note" % T)
bad = 0
for f in sorted(glob.glob("events/*.json")):
    i = int(f[7:19]); p = json.load(open("proofs/inclusion/%012d.json" % i))
    leaf = H(b"\x00" + open(f, "rb").read())
    path = [bytes.fromhex(h) for h in p["proof"]]
    ok = leaf.hex() == p["leaf_hash"] and p["size"] == T and incl(leaf, i, T, path, root)
    bad += not ok
    if not ok: print("FAILED", f)
for f in sorted(glob.glob("proofs/consistency/*.json")):
    p = json.load(open(f)); a, b = p["old_size"], p["new_size"]
    path = [bytes.fromhex(h) for h in p["proof"]]
    ra, rb = (root_of("checkpoints/%012d.note" % s) for s in (a, b))
    ok = cons(a, b, ra, rb, path)
    bad += not ok
    if not ok: print("FAILED", f)
print("all proofs OK" if not bad else "%d proofs FAILED" % bad)
EOF"""


_MAP_SCRIPT = r"""python3 - <<'EOF'
import hashlib, json, base64
H = lambda *b: hashlib.sha256(b"".join(b)).digest()
T = lambda t: b"sealtrail/map/v1/" + t + b"\x00"           # MAP.md section 3: tags
u = lambda n, w: n.to_bytes(w, "big")
def khash(key):                                             # MAP.md section 1
    h = bytearray(H(T(b"key"), key)); kind = 0 if key[0] == 1 else 1
    h[0] = (h[0] & 0x7F) | (kind << 7); return bytes(h)
def vbytes(kind, v):                                        # MAP.md section 2
    return bytes([kind]) + u(v["count"], 8) + u(v["last_index"], 8) + bytes.fromhex(v["hash"])
def included(root, key, value, proof):                      # MAP.md section 6.1
    k, vh = khash(key), H(T(b"value"), value); leaf = proof["leaf"]
    if not leaf or leaf["key_hash"] != k.hex() or leaf["value_hash"] != vh.hex(): return False
    r, n = H(T(b"leaf"), k, vh), len(proof["siblings"])
    for i, s in enumerate(proof["siblings"]):
        d = n - 1 - i; s = bytes.fromhex(s)
        r = H(T(b"node"), s, r) if (k[d // 8] >> (7 - d % 8)) & 1 else H(T(b"node"), r, s)
    return r == root
m = json.load(open("manifest.json")); t = m["target"]["size"]
note = open("checkpoints/%012d.note" % t).read().split("\n\n")[0].split("\n")
line = [l for l in note[3:] if l.startswith("sealtrail-map/v1 ")]
root = base64.b64decode(line[0].split()[1])                 # the signed note's map root
mp = json.load(open("proofs/map.json")); assert mp["root"] == root.hex()
ev = {}
for st in json.load(open("streams.json")):
    for i in st["events"]:
        raw = open("events/%012d.json" % i, "rb").read()
        ev[i] = (json.loads(raw), H(b"\x00", raw))
bad = 0
for s in mp["streams"]:                                     # the stream's head, as of t
    ts, ss = s["tenant"].encode(), s["stream"].encode()
    key = b"\x01" + u(len(ts), 2) + ts + u(len(ss), 2) + ss
    mine = sorted(i for i, (e, _) in ev.items() if (e["tenant"], e["stream"]) == (s["tenant"],
                  s["stream"]))
    head = (len(mine), mine[-1], ev[mine[-1]][1].hex())
    v = s["value"]
    ok = included(root, key, vbytes(1, v), s["proof"])
    ok = ok and head == (v["count"], v["last_index"], v["hash"])
    bad += not ok
    print("stream %r:" % s["stream"], "all %d events here" % len(mine) if ok else "FAILED")
for d in mp["documents"]:                                   # every event naming a document
    c, v = bytes(32), d["value"]
    for e in d["events"] or []:
        c = H(T(b"doc-chain"), c, u(e["index"], 8), bytes.fromhex(e["leaf_hash"]))
    key = b"\x02" + bytes.fromhex(d["sha256"])
    ok = d["events"] is not None and len(d["events"]) == v["count"] and c.hex() == v["hash"]
    ok = ok and included(root, key, vbytes(2, v), d["proof"])
    bad += not ok
    print("document %s:" % d["sha256"][:16], "%d events" % v["count"] if ok else "FAILED")
print("map proofs OK" if not bad else "%d map proofs FAILED" % bad)
EOF"""


def _rpc(method: str, params: str) -> str:
    body = f'{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}'
    return f"curl -s -X POST -H 'Content-Type: application/json' --data '{body}' \"$RPC\""


def verify_md(ev: Evidence, included_documents: Iterable[str]) -> str:
    """The VERIFY.md text for this evidence."""
    t = ev.target.size
    note = layout.note_name(t)
    sample = ev.events[0]
    out = [
        "# Verifying this Sealtrail certification package by hand",
        "",
        "Everything below needs only `unzip`, `sha256sum`, `openssl` (3.0 or later), `python3`",
        "(standard library), `curl`, and for the report (§6, §8) poppler's `pdfsig` and",
        "`pdfdetach`, and NSS's `certutil` (Debian: poppler-utils, libnss3-tools). Set `PKG`",
        "(or pass `$1`) to the package file as you downloaded it. The format is specified in",
        "Sealtrail's docs/FORMAT.md §8; `sealtrail verify <package>.zip` does all of this",
        "(and more) at once; it exits 0 only",
        "when every check passed, 8 when something was not checked (pin the ledger key with",
        "`--ledger-key` and the roots with `--trust-root`; `--rpc URL` for anchors, or `--offline`",
        "to accept them unchecked), 1 when a check failed.",
        "",
        f"This package holds {len(ev.events)} events of log `{ev.origin}`, proven included in",
        f"checkpoint {t} ({ev.target_reason}).",
        "",
        "## 1. Unpack and check every file against the manifest",
        "",
        "```sh",
        'PKG="${1:-sealtrail-package.zip}"   # the package file, as you downloaded it',
        'unzip -q "$PKG" -d pkg && cd pkg',
        'python3 -c \'import json; [print(h + "  " + n) for n, h in '
        'json.load(open("manifest.json"))["files"].items()]\' | sha256sum -c --quiet'
        " && echo files OK",
        "```",
        "",
        "The manifest lists every other file; a file that is missing, changed or not listed",
        "means the package was altered.",
        "",
        "## 2. The ledger's signature on each checkpoint (Ed25519)",
        "",
        "`certs/ledger.pub` is the ledger's verifier key",
        "`<name>+<key hash>+<base64(0x01 || key)>`.",
        "Compare it with the key the operator publishes (e.g. `sealtrail init` output, their",
        "website): the whole package rests on it.",
        "",
        "```sh",
        "cut -d+ -f3- certs/ledger.pub | base64 -d | tail -c 32 > ledger.raw",
        "(printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cat ledger.raw)"
        " > ledger.der",
        "openssl pkey -pubin -inform DER -in ledger.der -out ledger.pem",
        f"sed '/^$/,$d' {note} > signed.txt          # the text above the blank line",
        f"tail -n 1 {note} | awk '{{print $3}}' | base64 -d | tail -c 64 > sig.bin",
        "openssl pkeyutl -verify -pubin -inkey ledger.pem -rawin -in signed.txt -sigfile sig.bin",
        "#   → Signature Verified Successfully",
        "```",
        "",
        "Repeat for every `checkpoints/*.note`. Line 2 of a note is the tree size, line 3 the",
        "root hash (base64).",
        "",
        "## 3. Events, their hashes and the Merkle proofs",
        "",
        "Each `events/<index>.json` holds an event's canonical bytes (RFC 8785), exactly as",
        "hashed. Its leaf hash is SHA-256 of a zero byte followed by those bytes:",
        "",
        "```sh",
        f"(printf '\\000'; cat {layout.event_name(sample.index)}) | sha256sum",
        f"#   → {sample.leaf_hash.hex()}",
        "```",
        "",
        "In each stream the events form a chain: an event's `prev` is the previous event's leaf",
        "hash (`null` for a stream's first event). `streams.json` lists each stream's events;",
        "this script checks the chain of every stream held whole (a contract's own stream and",
        "its envelope streams; a seal's stream holds only the events naming this package's",
        "documents, which section 7 accounts for):",
        "",
        "```sh",
        _CHAIN_SCRIPT,
        "#   → stream chains OK",
        "```",
        "",
        "Every event has an inclusion proof (`proofs/inclusion/<index>.json`) to the target",
        f"checkpoint {t}, and `proofs/consistency/<old>-<new>.json` prove each older checkpoint",
        "is a prefix of the next one (RFC 9162 §2.1.3.2, §2.1.4.2). This script checks them all:",
        "",
        "```sh",
        _PROOF_SCRIPT,
        "```",
        "",
        "## 4. Trusted time (RFC 3161) on each checkpoint",
        "",
        "Each `checkpoints/<size>.tst` is a time-stamp token over the whole `.note` file. Check",
        "it against the TSA's root certificate **as the TSA publishes it** (`certs/tsa-roots.pem`",
        "is only a copy, for convenience):",
        "",
        "```sh",
    ]
    for c in ev.checkpoints:
        if c.size in ev.timestamps:
            out.append(
                f"openssl ts -verify -data {layout.note_name(c.size)} -in "
                f"{layout.token_name(c.size)} -token_in -CAfile certs/tsa-roots.pem"
            )
    out += [
        "#   → Verification: OK",
        f"openssl ts -reply -in {layout.token_name(t)} -token_in -text   # genTime and TSA name",
        "```",
        "",
        "An event existed no later than the time stamped on the earliest checkpoint that holds",
        "it (its index is below that checkpoint's size).",
        "",
        "## 5. Anchors on the blockchain",
        "",
    ]
    if not ev.anchors:
        out += ["No checkpoint of this package was anchored on a chain.", ""]
    for size, a in sorted(ev.anchors.items()):
        log_id, root = a.log_id.hex(), a.root.hex()
        tx = "0x" + (a.tx_hash or b"").hex()
        block = hex(a.block_number or 0)
        call = f"{_SELECTOR}{log_id}{root}"
        v2 = a.contract_version >= 2
        map_hex = (a.map_root or bytes(32)).hex()
        out += [
            f"Checkpoint {size}: chain {a.chain_id}, contract `{a.contract}` (SealtrailAnchor "
            f"version {a.contract_version}), transaction",
            f"`{tx}`, block {a.block_number}. With any JSON-RPC node of chain {a.chain_id}:",
            "",
            "```sh",
            "RPC=https://your-own-node.example",
            _rpc("eth_getTransactionReceipt", f'["{tx}"]'),
            '#   status "0x1", blockHash as in the receipt file; the log at log_index has',
            f"#   topics [{_TOPICS[2 if v2 else 1]}, 0x{log_id}, tree size {size}]",
            (
                f"#   and data = root {root}, map root {map_hex}, anchorer"
                if v2
                else f"#   and data starting {root}"
            ),
            _rpc("eth_getBlockByNumber", f'["{block}", false]'),
            "#   .hash equals block_hash: the block is on the canonical chain",
            _rpc(
                "eth_call",
                f'[{{"to":"{a.contract}","data":"{call}"}}, "latest"]',
            ),
            (
                f"#   four 32-byte words: tree size {size}, block time, block number "
                f"{a.block_number}, map root"
                if v2
                else f"#   three 32-byte words: tree size {size}, block time, block number "
                f"{a.block_number}"
            ),
            "```",
            "",
            f'logId = SHA-256("{ev.origin}") = 0x{log_id}; the root is line 3 of the note,',
            "decoded from base64.",
            "",
        ]
        note = layout.note_name(size)
        if v2:
            out += [
                "The map root anchored (the event's second data word, anchorOf's fourth) must be",
                "the one the note's `sealtrail-map/v1` line names (all zeros: the note has no",
                "such line, it was sealed before the map). Print the note's, in hex:",
                "",
                "```sh",
                'python3 -c \'import base64, sys; l = [x.split(" ")[1] for x in open(sys.argv[1])'
                '.read().split("\\n\\n")[0].split("\\n")[3:] if x.startswith('
                '"sealtrail-map/v1 ")]; print(base64.b64decode(l[0]).hex() if l else '
                f'"00" * 32)\' {note}',
                f"#   → {map_hex}",
                "```",
                "",
            ]
        else:
            out += [
                "This contract (version 1) records no map root: the note's `sealtrail-map/v1`",
                "line rests on the note's signature and its RFC 3161 token only.",
                "",
            ]
    docs = sorted(included_documents)
    out += [
        "## 6. Documents and the report",
        "",
        "Events name documents by SHA-256 fingerprint. "
        + (
            "The included documents are in `documents/`, named by their fingerprint:"
            if docs
            else "No document is included; hash yours and compare with the events' `sha256`:"
        ),
        "",
        "```sh",
        "sha256sum documents/*" if docs else "sha256sum contract.pdf",
        "pdfsig report.pdf        # or any PDF reader: the service seal's PAdES signature",
        "#   → Signature is Valid, and Total document signed (nothing added after the seal)",
        "```",
        "",
        "To make pdfsig (NSS) trust the seal, add the service seal's CA, the last certificate",
        "of `certs/service-seal.pem`, to a fresh NSS database (compare it with the CA the",
        "operator publishes: this copy is only for convenience):",
        "",
        "```sh",
        "awk '/BEGIN CERT/{n++} n>1' certs/service-seal.pem > seal-ca.pem",
        "rm -rf nssdb && mkdir nssdb && certutil -N -d sql:nssdb --empty-password",
        'certutil -A -n sealtrail-ca -t "CT,C,C" -i seal-ca.pem -d sql:nssdb',
        "pdfsig -nssdir sql:nssdb report.pdf",
        "#   → Signature is Valid, Certificate is Trusted",
        "```",
        "",
        "## 7. Nothing left out (the verifiable map)",
        "",
    ]
    if ev.maps is None:
        out += [
            f"Checkpoint {t} was sealed before Sealtrail's verifiable map: this package cannot",
            "prove that it holds every event (the chains of section 3 prove only that nothing",
            "is missing between a stream's first and last event shown).",
            "",
        ]
        return "\n".join(out + _facts_section())
    out += [
        f"The note of checkpoint {t} commits, in its signed line `sealtrail-map/v1 <base64>`,",
        "to a map from each stream to its head (number of events, last index and leaf hash)",
        "and from each document fingerprint to a running hash over every event naming it",
        "(Sealtrail's docs/MAP.md). `proofs/map.json` proves those values against that root:",
        (
            "so the stream's last event here *is* its last event as of the checkpoint, "
            if ev.selection.kind == "stream"
            else "a query package proves no stream complete, only its documents' events; "
        ),
        "and each document's listed events (some perhaps outside this package, by index and",
        "leaf hash only) are all the events naming it.",
        "",
        "```sh",
        _MAP_SCRIPT,
        "```",
        "",
    ]
    return "\n".join(out + _facts_section())


def _facts_section() -> list[str]:
    """VERIFY.md's last section: the report's embedded facts against the files (§8.10)."""
    return [
        "## 8. What the report lists is what the package proves",
        "",
        "The sealed report carries, as an embedded file `sealtrail-facts.json` (JSON, RFC 8785),",
        "the facts it lists: every event with its leaf hash, the document fingerprints, the",
        "target checkpoint (size, root, map root), the selection, the log and its key. The seal",
        "covers them; `pdfsig` above must say **Total document signed**, else a later update may",
        "have replaced them. Extract them (poppler's `pdfdetach`) and compare with the files:",
        "",
        "```sh",
        "pdfdetach -list report.pdf                 # → 1: sealtrail-facts.json",
        "pdfdetach -savefile sealtrail-facts.json -o sealtrail-facts.json report.pdf",
        _FACTS_SCRIPT,
        "#   → report facts OK",
        "```",
        "",
    ]


#: VERIFY.zh-CN.md: each section's heading and what it checks, in Simplified Chinese
_ZH_SECTIONS: dict[str, tuple[str, str]] = {
    "1": (
        "1. 解压，并按清单核对每个文件",
        "manifest.json 列出其余每个文件的 SHA-256；缺少、改动或未列出的文件都说明证据包被改过。"
        "把 PKG 设为你下载的证据包文件名（或作为 $1 传入）。",
    ),
    "2": (
        "2. 账本对每个检查点的签名（Ed25519）",
        "certs/ledger.pub 是账本的公钥，请与运营方公开发布的公钥比对：整个证据包都以它为基础。"
        "对每个 checkpoints/*.note 重复以下命令；"
        "note 的第 2 行是树大小，第 3 行是根哈希（base64）。",
    ),
    "3": (
        "3. 事件、事件哈希、哈希链与默克尔证明",
        "每个 events/<序号>.json 是事件的规范字节（RFC 8785）；叶哈希 = SHA-256(0x00 ‖ 这些字节)。"
        "同一事件流中，每个事件的 prev 是前一事件的叶哈希（首个事件为 null），第一个脚本检查"
        "每个流的哈希链；第二个脚本检查每个事件到目标检查点的包含证明和检查点之间的一致性证明"
        "（RFC 9162 §2.1.3.2、§2.1.4.2）。",
    ),
    "4": (
        "4. 检查点上的可信时间（RFC 3161）",
        "每个 checkpoints/<大小>.tst 是对整个 .note 文件的时间戳。请用 TSA 自己公布的根证书核验"
        "（certs/tsa-roots.pem 只是副本）。事件最迟在包含它的最早检查点的时间戳时刻已经存在。",
    ),
    "5": (
        "5. 区块链锚定",
        "用该链的任一 JSON-RPC 节点（设 RPC 为你自己的节点地址）查询交易回执、区块和合约的 "
        "anchorOf；回执中的 Anchored 事件的 topics 与数据、预期值见下方命令中的注释"
        "（英文版 VERIFY.md 同节有逐项说明）。",
    ),
    "6": (
        "6. 文件与报告",
        "事件以 SHA-256 指纹指明文件：对你的文件计算 SHA-256 并与事件中的 sha256 比对。"
        "pdfsig 检查报告上的服务印章（PAdES）签名；把 certs/service-seal.pem 中最后一张证书"
        "（服务印章的 CA，请与运营方公布的 CA 比对）加入 NSS 数据库后，pdfsig 应显示"
        "“Certificate is Trusted”。",
    ),
    "7": (
        "7. 没有遗漏（可验证映射）",
        "检查点的签名 note 中 sealtrail-map/v1 一行承诺了一个映射：每个事件流的最新事件，"
        "以及每个文件指纹对应的全部事件。proofs/map.json 针对该根证明这些值，从而证明本包"
        "收齐了该流截至检查点的全部事件，以及所列文件的全部事件。",
    ),
    "8": (
        "8. 报告所列即证据包所证明",
        "盖章的报告内嵌 sealtrail-facts.json（RFC 8785 JSON），列出事件及其叶哈希、文件指纹、"
        "目标检查点、选择范围、日志及其公钥；印章覆盖这些内容（pdfsig 须显示 Total document "
        "signed）。用 pdfdetach 取出后与证据包文件比对。",
    ),
}


def verify_zh_md(ev: Evidence, included_documents: Iterable[str]) -> str:
    """The VERIFY.zh-CN.md text: VERIFY.md's sections in Simplified Chinese, with the very
    same commands (so one test runs both)."""
    en = verify_md(ev, included_documents)
    out = [
        "# 手工核验本 Sealtrail 证据包",
        "",
        "以下步骤只需要 unzip、sha256sum、openssl（3.0 及以上）、python3（标准库）、curl，"
        "以及 poppler 的 pdfsig、pdfdetach 和 NSS 的 certutil（Debian：poppler-utils、"
        "libnss3-tools）。格式规范见 Sealtrail 的 docs/FORMAT.md 第 8 节；"
        "`sealtrail verify <证据包>.zip` 一次完成全部检查。",
        "",
        f"本证据包含日志 `{ev.origin}` 的 {len(ev.events)} 个事件，均已证明包含在检查点 "
        f"{ev.target.size} 中。",
        "",
    ]
    for section in en.split("\n## ")[1:]:
        number = section.split(".", 1)[0]
        heading, prose = _ZH_SECTIONS.get(number, (section.split("\n", 1)[0], ""))
        out += [f"## {heading}", "", prose, ""]
        for block in section.split("```sh\n")[1:]:
            out += ["```sh", block.split("```", 1)[0].rstrip("\n"), "```", ""]
    return "\n".join(out)
