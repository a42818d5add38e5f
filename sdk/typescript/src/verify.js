// Sealtrail local verification for Node.js: pure functions over bytes, no network, no clock.
// docs/FORMAT.md §3 (RFC 9162 inclusion and consistency proofs), §5 (checkpoints: C2SP
// tlog-checkpoint in a C2SP signed note, Ed25519), docs/MAP.md §1-6 (the verifiable map).
// Every check returns normally or throws VerifyError with a stable `code` and a got-versus-want
// message. Only node:crypto is used.

import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";

export class VerifyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "VerifyError";
    this.code = code;
  }
}

const enc = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/;

// -- bytes ---------------------------------------------------------------------------------------

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new VerifyError("malformed", `not hex: ${String(hex).slice(0, 16)}`);
  }
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

export function bytesToHex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

/** Strict standard base64 (padding required): anything else is refused, never skipped. */
export function base64ToBytes(b64) {
  if (typeof b64 !== "string" || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new VerifyError("malformed", `not standard base64: ${String(b64).slice(0, 16)}`);
  }
  const out = Uint8Array.from(Buffer.from(b64, "base64"));
  if (Buffer.from(out).toString("base64") !== b64) {
    throw new VerifyError("malformed", "base64 is not canonical");
  }
  return out;
}

function concat(...parts) {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

function equal(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

export function sha256(bytes) {
  return Uint8Array.from(createHash("sha256").update(bytes).digest());
}

function hash32(v, what) {
  if (!(v instanceof Uint8Array) || v.length !== 32) {
    throw new VerifyError("bad_hash_size", `${what} has ${v && v.length} bytes, want 32`);
  }
  return v;
}

/** A 64-hex-digit string (either case, as the API answers) as 32 bytes. */
export function hex32(v, what = "hash") {
  if (typeof v !== "string" || !/^[0-9a-fA-F]{64}$/.test(v)) {
    throw new VerifyError("malformed", `${what}: want 64 hex digits`);
  }
  return hexToBytes(v);
}

function size(v, what) {
  if (typeof v === "bigint") {
    if (v < 0n || v >= 1n << 64n) throw new VerifyError("malformed", `${what} out of range: ${v}`);
    return v;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new VerifyError("malformed", `${what} is not a non-negative integer`);
  return BigInt(v);
}

// -- RFC 9162 §2.1: hashing ------------------------------------------------------------------

/** RFC 9162 §2.1.1: SHA-256(0x00 || data). */
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

/** RFC 9162 §2.1.1: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

function bitLength(n) {
  let b = 0;
  while (n > 0n) {
    b++;
    n >>= 1n;
  }
  return b;
}

function popCount(n) {
  let c = 0;
  while (n > 0n) {
    c += Number(n & 1n);
    n >>= 1n;
  }
  return c;
}

/** Number of hashes in PATH(index, size). Requires 0 <= index < size. */
export function inclusionProofSize(index, treeSize) {
  const i = size(index, "index");
  const n = size(treeSize, "size");
  const inner = bitLength(i ^ (n - 1n));
  return inner + popCount(i >> BigInt(inner));
}

/** Number of hashes in PROOF(oldSize, newSize). Requires 0 < oldSize <= newSize. */
export function consistencyProofSize(oldSize, newSize) {
  const m = size(oldSize, "old_size");
  const n = size(newSize, "new_size");
  if (m === n) return 0;
  const shift = BigInt(bitLength(m & -m) - 1);
  const a = (m - 1n) >> shift;
  const b = (n - 1n) >> shift;
  const inner = bitLength(a ^ b);
  return (m === 1n << shift ? 0 : 1) + inner + popCount(a >> BigInt(inner));
}

/**
 * RFC 9162 §2.1.3.2: `leaf` (32 bytes) is entry `index` of the tree of `treeSize` leaves with
 * `root`. Requires 0 <= index < treeSize and exactly the RFC's number of proof hashes.
 */
export function verifyInclusion(leaf, index, treeSize, proof, root) {
  hash32(leaf, "leaf hash");
  hash32(root, "root");
  if (!Array.isArray(proof)) throw new VerifyError("malformed", "proof: want an array");
  proof.forEach((p, i) => hash32(p, `proof[${i}]`));
  const i = size(index, "index");
  const n = size(treeSize, "size");
  if (i >= n) throw new VerifyError("index_beyond_size", `index is beyond size: ${i} >= ${n}`);
  const want = inclusionProofSize(i, n);
  if (proof.length !== want) {
    throw new VerifyError("wrong_proof_size", `wrong proof size ${proof.length}, want ${want}`);
  }
  let fn = i;
  let sn = n - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new VerifyError("wrong_proof_size", "proof is longer than the path");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("wrong_proof_size", "proof is shorter than the path");
  if (!equal(r, root)) {
    throw new VerifyError("root_mismatch", `calculated root ${bytesToHex(r)} does not match ${bytesToHex(root)}`);
  }
}

/**
 * RFC 9162 §2.1.4.2: the tree of `newSize` with `newRoot` extends the tree of `oldSize` with
 * `oldRoot`. Policy (docs/FORMAT.md §3.2): old > new refused; equal sizes need an empty proof
 * and equal roots; a proof from the empty tree is refused.
 */
export function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  hash32(oldRoot, "old_root");
  hash32(newRoot, "new_root");
  if (!Array.isArray(proof)) throw new VerifyError("malformed", "proof: want an array");
  proof.forEach((p, i) => hash32(p, `proof[${i}]`));
  const m = size(oldSize, "old_size");
  const n = size(newSize, "new_size");
  if (n < m) throw new VerifyError("sizes_out_of_order", `new_size ${n} < old_size ${m}`);
  if (m === n) {
    if (proof.length) throw new VerifyError("wrong_proof_size", `wrong proof size ${proof.length}, want 0`);
    if (!equal(oldRoot, newRoot)) throw new VerifyError("root_mismatch", "equal sizes but roots differ");
    return;
  }
  if (m === 0n) throw new VerifyError("empty_old_tree", "a consistency proof from the empty tree is meaningless");
  const want = consistencyProofSize(m, n);
  if (proof.length !== want) {
    throw new VerifyError("wrong_proof_size", `wrong proof size ${proof.length}, want ${want}`);
  }
  const path = (m & (m - 1n)) === 0n ? [oldRoot, ...proof] : [...proof];
  let fn = m - 1n;
  let sn = n - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new VerifyError("wrong_proof_size", "proof is longer than the path");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("wrong_proof_size", "proof is shorter than the path");
  if (!equal(fr, oldRoot)) throw new VerifyError("root_mismatch", `calculated old root ${bytesToHex(fr)} does not match`);
  if (!equal(sr, newRoot)) throw new VerifyError("root_mismatch", `calculated new root ${bytesToHex(sr)} does not match`);
}

// -- C2SP signed notes and checkpoints (docs/FORMAT.md §5) --------------------------------------

const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const MAX_SIGNATURES = 100;

/** Parse a verifier key `<name>+<8 hex key hash>+<base64(0x01 || 32-byte Ed25519 key)>`. */
export function parseVerifierKey(vkey) {
  if (typeof vkey !== "string") throw new VerifyError("bad_key", "a verifier key is a string");
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!m) throw new VerifyError("bad_key", "want <name>+<8 hex key hash>+<base64 key>");
  const [, name, hashHex, b64] = m;
  let raw;
  try {
    raw = base64ToBytes(b64);
  } catch {
    throw new VerifyError("bad_key", "key is not standard base64");
  }
  if (raw.length !== 33 || raw[0] !== 1) {
    throw new VerifyError("bad_key", `want 0x01 and a 32-byte Ed25519 key, got ${raw.length} bytes`);
  }
  const keyHash = sha256(concat(enc.encode(name + "\n"), raw)).slice(0, 4);
  if (bytesToHex(keyHash) !== hashHex) {
    throw new VerifyError("bad_key", `key hash ${hashHex} does not match the key (${bytesToHex(keyHash)})`);
  }
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(raw.slice(1))]), format: "der", type: "spki" });
  return { name, keyHash, publicKey, text: vkey };
}

/**
 * Open a C2SP signed note with trusted verifier keys (strings or parsed): returns
 * {text, verified: [key names]}. Signatures by unknown keys are ignored; a signature by a
 * trusted key that does not verify, a malformed note, or no verified signature throws.
 */
export function openNote(note, keys) {
  const trusted = keys.map((k) => (typeof k === "string" ? parseVerifierKey(k) : k));
  if (typeof note !== "string") throw new VerifyError("bad_note", "a note is a string");
  if (/[\x00-\x09\x0b-\x1f\x7f]/.test(note) || /[\ud800-\udfff]/.test(note.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) {
    throw new VerifyError("bad_note", "note has control characters other than newline");
  }
  if (!note.endsWith("\n")) throw new VerifyError("bad_note", "note does not end with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new VerifyError("bad_note", "no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const sigText = note.slice(split + 2);
  if (sigText === "") throw new VerifyError("bad_note", "no signature lines");
  const lines = sigText.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new VerifyError("bad_note", `more than ${MAX_SIGNATURES} signature lines`);
  const message = Buffer.from(text, "utf8");
  const verified = [];
  for (const line of lines) {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new VerifyError("bad_note", `malformed signature line ${JSON.stringify(line.slice(0, 40))}`);
    const sig = base64ToBytes(m[2]);
    if (sig.length < 5) throw new VerifyError("bad_note", "signature too short");
    for (const k of trusted) {
      if (k.name !== m[1] || !equal(sig.slice(0, 4), k.keyHash)) continue;
      if (sig.length !== 68 || !cryptoVerify(null, message, k.publicKey, Buffer.from(sig.slice(4)))) {
        throw new VerifyError("bad_signature", `the signature by ${k.name} does not verify`);
      }
      if (!verified.includes(k.name)) verified.push(k.name);
    }
  }
  if (!verified.length) throw new VerifyError("no_signature", "no signature by a trusted key");
  return { text, verified };
}

/** The map root named by a checkpoint's extension lines (FORMAT.md §5.1), or null. */
export function mapRootOf(extensions) {
  let found = null;
  for (const line of extensions) {
    const sp = line.indexOf(" ");
    const word = sp < 0 ? line : line.slice(0, sp);
    if (word !== "sealtrail-map/v1") continue;
    if (found !== null) throw new VerifyError("bad_note", "more than one sealtrail-map/v1 line");
    const arg = sp < 0 ? "" : line.slice(sp + 1);
    if (!/^[A-Za-z0-9+/]{43}=$/.test(arg)) throw new VerifyError("bad_note", "malformed sealtrail-map/v1 line");
    found = base64ToBytes(arg);
  }
  return found;
}

/**
 * Verify a checkpoint note signed by the ledger's verifier key (FORMAT.md §5): returns
 * {origin, size (bigint), root (32 bytes), mapRoot (32 bytes or null)}.
 */
export function verifyCheckpoint(note, verifierKey) {
  const key = typeof verifierKey === "string" ? parseVerifierKey(verifierKey) : verifierKey;
  const { text } = openNote(note, [key]);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new VerifyError("bad_note", `checkpoint has ${lines.length} lines, want at least 3`);
  const [origin, sizeText, rootB64] = lines;
  if (origin !== key.name) throw new VerifyError("wrong_origin", `origin ${origin} is not the key's name ${key.name}`);
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText) || BigInt(sizeText) >= 1n << 64n) {
    throw new VerifyError("bad_note", `bad size line ${JSON.stringify(sizeText.slice(0, 24))}`);
  }
  const root = base64ToBytes(rootB64);
  if (root.length !== 32) throw new VerifyError("bad_note", `root has ${root.length} bytes, want 32`);
  const ext = lines.slice(3);
  if (ext.some((l) => l === "")) throw new VerifyError("bad_note", "empty extension line");
  return { origin, size: BigInt(sizeText), root, mapRoot: mapRootOf(ext) };
}

// -- the answers of the API, checked end to end ------------------------------------------------

function proofHashes(list, what) {
  if (!Array.isArray(list) || list.length > 64) throw new VerifyError("malformed", `${what}: want an array of at most 64 hashes`);
  return list.map((h, i) => hex32(h, `${what}[${i}]`));
}

/**
 * Verify an inclusion proof as `GET /v1/events/{index}/proof` answers it: the checkpoint note
 * is signed by `verifierKey`, its size and root are the proof's, and the leaf is included.
 * `leafHashHex` (optional) is the leaf hash the caller expects (e.g. from its stored event).
 * Returns the verified checkpoint.
 */
export function verifyInclusionAnswer(answer, verifierKey, leafHashHex) {
  if (answer === null || typeof answer !== "object") throw new VerifyError("malformed", "want an object");
  if (answer.type !== "inclusion") throw new VerifyError("malformed", "type: want inclusion");
  if (!answer.checkpoint || typeof answer.checkpoint.note !== "string") {
    throw new VerifyError("malformed", "checkpoint.note: want the signed note");
  }
  const cp = verifyCheckpoint(answer.checkpoint.note, verifierKey);
  const n = size(answer.size, "size");
  if (cp.size !== n) throw new VerifyError("size_mismatch", `proof is to size ${n}, the note says ${cp.size}`);
  const leaf = hex32(answer.leaf_hash, "leaf_hash");
  if (leafHashHex !== undefined && !equal(leaf, hex32(leafHashHex, "expected leaf hash"))) {
    throw new VerifyError("leaf_mismatch", "the proof is for another leaf");
  }
  verifyInclusion(leaf, answer.index, n, proofHashes(answer.proof, "proof"), cp.root);
  return cp;
}

/**
 * Verify a consistency proof as `GET /v1/checkpoints/consistency` answers it: both notes are
 * signed by `verifierKey`, sizes and roots come from the notes, and the proof links them.
 * Returns {old, new} verified checkpoints.
 */
export function verifyConsistencyAnswer(answer, verifierKey) {
  if (answer === null || typeof answer !== "object") throw new VerifyError("malformed", "want an object");
  if (answer.type !== "consistency") throw new VerifyError("malformed", "type: want consistency");
  const older = verifyCheckpoint(answer.old_checkpoint?.note, verifierKey);
  const newer = verifyCheckpoint(answer.new_checkpoint?.note, verifierKey);
  if (older.size !== size(answer.old_size, "old_size") || newer.size !== size(answer.new_size, "new_size")) {
    throw new VerifyError("size_mismatch", "the sizes are not the notes'");
  }
  verifyConsistency(older.size, newer.size, older.root, newer.root, proofHashes(answer.proof, "proof"));
  return { old: older, new: newer };
}

// -- the verifiable map (docs/MAP.md) -------------------------------------------------------------

const TAG = (name) => enc.encode(`sealtrail/map/v1/${name}\0`);
const KEY_TAG = TAG("key");
const VALUE_TAG = TAG("value");
const LEAF_TAG = TAG("leaf");
const NODE_TAG = TAG("node");
const EMPTY_TAG = TAG("empty");
const DOC_CHAIN_TAG = TAG("doc-chain");

function u64(n) {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(size(n, "u64"));
  return out;
}

function u16(n) {
  return Uint8Array.of(n >> 8, n & 0xff);
}

/** MAP.md §1: the key of stream (tenant, stream). */
export function streamKey(tenant, stream) {
  const t = enc.encode(tenant);
  const s = enc.encode(stream);
  if (t.length < 1 || t.length > 255 || s.length < 1 || s.length > 4096) {
    throw new VerifyError("malformed", "tenant or stream length out of range");
  }
  return concat(Uint8Array.of(1), u16(t.length), t, u16(s.length), s);
}

/** MAP.md §1: the key of a document, from its 32-byte SHA-256. */
export function documentKey(sha) {
  return concat(Uint8Array.of(2), hash32(sha, "document fingerprint"));
}

/** MAP.md §1: H(key tag || key) with its first bit replaced by the kind bit. */
export function mapKeyHash(key) {
  if (!(key instanceof Uint8Array) || key.length < 2 || (key[0] !== 1 && key[0] !== 2)) {
    throw new VerifyError("malformed", "not a map key");
  }
  const h = sha256(concat(KEY_TAG, key));
  h[0] = (h[0] & 0x7f) | ((key[0] === 2 ? 1 : 0) << 7);
  return h;
}

/** MAP.md §2: the 49-byte value `kind || u64 count || u64 last_index || hash32`. */
export function mapValue(kind, count, lastIndex, hash) {
  const c = size(count, "count");
  const l = size(lastIndex, "last_index");
  if (c < 1n || c > l + 1n) throw new VerifyError("malformed", `need 1 <= count <= last_index + 1, got ${c}, ${l}`);
  return concat(Uint8Array.of(kind), u64(c), u64(l), hash32(hash, "value hash32"));
}

/** MAP.md §2: a document's value from the events naming it, [{index, leafHash}] in log order. */
export function documentValue(events) {
  if (!events.length) throw new VerifyError("malformed", "a document value needs at least one event");
  let chain = new Uint8Array(32);
  let last = -1n;
  for (const { index, leafHash: leaf } of events) {
    const i = size(index, "index");
    if (i <= last) throw new VerifyError("malformed", `indices not increasing: ${i} after ${last}`);
    chain = sha256(concat(DOC_CHAIN_TAG, chain, u64(i), hash32(leaf, "leaf hash")));
    last = i;
  }
  return mapValue(2, events.length, last, chain);
}

function hex64(v, name) {
  if (typeof v !== "string" || !HEX64.test(v)) throw new VerifyError("malformed", `${name}: want 64 lowercase hex digits`);
  return hexToBytes(v);
}

function exactly(obj, keys, name) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new VerifyError("malformed", `${name}: want an object`);
  const got = Object.keys(obj);
  if (got.length !== keys.length || !keys.every((k) => got.includes(k))) {
    throw new VerifyError("malformed", `${name}: want exactly the members ${keys.join(", ")}`);
  }
}

/** MAP.md §6, parsing: every field checked before use. */
export function parseMapProof(obj) {
  exactly(obj, ["leaf", "siblings"], "proof");
  if (!Array.isArray(obj.siblings)) throw new VerifyError("malformed", "proof.siblings: want an array");
  if (obj.siblings.length > 256) throw new VerifyError("too_many_siblings", `${obj.siblings.length} siblings, want at most 256`);
  if (obj.siblings.length === 0) throw new VerifyError("no_siblings", "proof has no siblings");
  const siblings = obj.siblings.map((s, i) => hex64(s, `proof.siblings[${i}]`));
  let leaf = null;
  if (obj.leaf !== null) {
    exactly(obj.leaf, ["key_hash", "value_hash"], "proof.leaf");
    leaf = { keyHash: hex64(obj.leaf.key_hash, "proof.leaf.key_hash"), valueHash: hex64(obj.leaf.value_hash, "proof.leaf.value_hash") };
  }
  return { siblings, leaf };
}

function bit(k, depth) {
  return (k[depth >> 3] >> (7 - (depth & 7))) & 1;
}

function foldMap(k, proof) {
  const n = proof.siblings.length;
  let r = proof.leaf === null ? sha256(EMPTY_TAG) : sha256(concat(LEAF_TAG, proof.leaf.keyHash, proof.leaf.valueHash));
  for (let i = 0; i < n; i++) {
    const s = proof.siblings[i];
    r = bit(k, n - 1 - i) ? sha256(concat(NODE_TAG, s, r)) : sha256(concat(NODE_TAG, r, s));
  }
  return r;
}

function checkMapRoot(root, k, proof) {
  const got = foldMap(k, proof);
  if (!equal(got, root)) throw new VerifyError("root_mismatch", `calculated map root ${bytesToHex(got)} does not match ${bytesToHex(root)}`);
}

/** MAP.md §6.1: the map with `root` maps `key` to `value` (bytes); `proofJson` as served. */
export function verifyMapInclusion(root, key, value, proofJson) {
  hash32(root, "map root");
  const proof = parseMapProof(proofJson);
  const k = mapKeyHash(key);
  if (!(value instanceof Uint8Array) || value.length !== 49 || value[0] !== key[0]) {
    throw new VerifyError("value_mismatch", "value is not a 49-byte value of the key's kind");
  }
  if (proof.leaf === null) throw new VerifyError("no_leaf", "the proof ends at an empty subtree: it proves absence");
  if (!equal(proof.leaf.keyHash, k)) throw new VerifyError("key_mismatch", "the proof is for another key");
  if (!equal(proof.leaf.valueHash, sha256(concat(VALUE_TAG, value)))) {
    throw new VerifyError("value_mismatch", "the proof is for another value");
  }
  checkMapRoot(root, k, proof);
}

/** MAP.md §6.2: the map with `root` holds no value for `key`. */
export function verifyMapNonInclusion(root, key, proofJson) {
  hash32(root, "map root");
  const proof = parseMapProof(proofJson);
  const k = mapKeyHash(key);
  if (proof.leaf !== null) {
    if (equal(proof.leaf.keyHash, k)) throw new VerifyError("key_present", "the proof shows the key present");
    for (let d = 0; d < proof.siblings.length; d++) {
      if (bit(proof.leaf.keyHash, d) !== bit(k, d)) throw new VerifyError("leaf_off_path", "the leaf is off the key's path");
    }
  }
  checkMapRoot(root, k, proof);
}

/**
 * Verify `GET /v1/streams/{stream}/map-proof`: the note is signed by `verifierKey` and has a map
 * line, and the stream's head (count, last event's index and leaf hash) is in that map.
 * `head` (optional) {count, lastIndex, leafHash hex} is what the caller's own events say; by
 * default the answer's `value` is checked. The map root is taken from the note, never `root`.
 */
export function verifyStreamMapAnswer(answer, verifierKey, head) {
  if (answer === null || typeof answer !== "object") throw new VerifyError("malformed", "want an object");
  const cp = verifyCheckpoint(answer.checkpoint?.note, verifierKey);
  if (cp.mapRoot === null) throw new VerifyError("no_map", "the checkpoint was sealed before the map");
  if (cp.size !== size(answer.size, "size")) throw new VerifyError("size_mismatch", "size is not the note's");
  const v = answer.value;
  const want = head ?? (v && { count: v.count, lastIndex: v.last_index, leafHash: v.hash });
  if (!want) throw new VerifyError("malformed", "value: want the stream's head");
  const value = mapValue(1, want.count, want.lastIndex, hex32(want.leafHash, "head leaf hash"));
  verifyMapInclusion(cp.mapRoot, streamKey(answer.tenant, answer.stream), value, answer.proof);
  return cp;
}
