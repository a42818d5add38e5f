// Sealtrail verification core for the browser: pure functions over bytes, no network.
// docs/FORMAT.md §1.4 (canonical bytes, leaf hash), §3 (RFC 9162 Merkle proofs), §5 (checkpoint
// notes signed with Ed25519). Every check throws VerifyError (code, got-versus-want message) or
// returns normally; nothing here reads the clock or the DOM.

export class VerifyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "VerifyError";
    this.code = code;
  }
}

const enc = new TextEncoder();

export function hasWebCrypto() {
  return typeof crypto !== "undefined" && crypto.subtle !== undefined;
}

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new VerifyError("bad_hex", `not hex: ${String(hex).slice(0, 16)}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function base64ToBytes(b64) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new VerifyError("bad_base64", `not standard base64: ${b64.slice(0, 16)}`);
  }
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function bytesToBase64(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256 of a File or Blob, as hex (the whole file is read in this browser, never sent). */
export async function fileSha256(file) {
  return bytesToHex(await sha256(new Uint8Array(await file.arrayBuffer())));
}

// -- canonical bytes (RFC 8785 / JCS for the event subset: no floats) — FORMAT.md §1.4 -------

/** The JCS encoding of ``value``. JCS serialises strings and integers exactly as ECMAScript's
 * JSON.stringify does, and sorts keys by UTF-16 code units, as Array.prototype.sort does. */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new VerifyError("not_canonical", `number ${value} is not an integer within ±(2^53-1)`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  throw new VerifyError("not_canonical", `cannot encode a ${typeof value}`);
}

/** RFC 9162 §2.1.1: SHA-256(0x00 || bytes). */
export async function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0), bytes));
}

/** The leaf hash of an event as the API shows it (the stored object plus ``leaf_hash``). */
export async function eventLeafHash(eventJson) {
  const body = { ...eventJson };
  delete body.leaf_hash;
  return leafHash(enc.encode(canonicalJson(body)));
}

async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// -- RFC 9162 §2.1.3.2 inclusion proofs -------------------------------------------------------

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

/** The proof length RFC 9162 implies for (index, size). Requires 0 <= index < size. */
export function inclusionProofSize(index, size) {
  const i = BigInt(index);
  const n = BigInt(size);
  const inner = bitLength(i ^ (n - 1n));
  return inner + popCount(i >> BigInt(inner));
}

/**
 * Check that ``leaf`` (32 bytes) is entry ``index`` of the tree of ``size`` with ``root``.
 * Requires 0 <= index < size; hashes are Uint8Array(32). Throws VerifyError, returns nothing.
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  for (const [what, h] of [["leaf hash", leaf], ["root", root], ...proof.map((p, i) => [`proof[${i}]`, p])]) {
    if (!(h instanceof Uint8Array) || h.length !== 32) {
      throw new VerifyError("bad_hash_size", `${what} has ${h ? h.length : 0} bytes, want 32`);
    }
  }
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || size < 1) {
    throw new VerifyError("bad_index", `index ${index} or size ${size} out of range`);
  }
  if (index >= size) {
    throw new VerifyError("index_beyond_size", `index is beyond size: ${index} >= ${size}`);
  }
  const want = inclusionProofSize(index, size);
  if (proof.length !== want) {
    throw new VerifyError("wrong_proof_size", `wrong proof size ${proof.length}, want ${want}`);
  }
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new VerifyError("wrong_proof_size", "proof is longer than the path");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("wrong_proof_size", "proof is shorter than the path");
  if (!equal(r, root)) {
    throw new VerifyError(
      "root_mismatch",
      `calculated root ${bytesToHex(r)} does not match expected root ${bytesToHex(root)}`,
    );
  }
}

// -- checkpoints: C2SP signed notes with Ed25519 — FORMAT.md §5 -------------------------------

/** Parse a verifier key ``<name>+<8 hex>+<base64(0x01 || pubkey)>``. */
export async function parseVerifierKey(vkey) {
  const text = String(vkey).trim();
  // C2SP note keys: the name has no "+" or white space; the base64 key may contain "+".
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) throw new VerifyError("bad_key", "want <name>+<8 hex key hash>+<base64 key>");
  const [, name, hashHex, b64] = m;
  const raw = base64ToBytes(b64);
  if (raw.length !== 33 || raw[0] !== 1) {
    throw new VerifyError("bad_key", `want 0x01 and a 32-byte Ed25519 key, got ${raw.length} bytes`);
  }
  const keyHash = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
  if (bytesToHex(keyHash) !== hashHex) {
    throw new VerifyError("bad_key", `key hash ${hashHex} does not match the key (${bytesToHex(keyHash)})`);
  }
  return { name, keyHash, publicKey: raw.slice(1), text };
}

/**
 * Verify a checkpoint note against a parsed verifier key; return {origin, size, root, mapRoot}
 * (mapRoot: the 32 bytes of its ``sealtrail-map/v1`` line, null for a checkpoint before the map).
 * Throws VerifyError when the note is malformed or no signature line verifies.
 */
export async function verifyCheckpoint(note, key) {
  if (typeof note !== "string" || /[\x00-\x09\x0b-\x1f\x7f]/.test(note)) {
    throw new VerifyError("bad_note", "note has control characters other than newline");
  }
  const split = note.indexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new VerifyError("bad_note", "no blank line before signatures");
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split("\n");
  if (sigLines.length > 100) throw new VerifyError("bad_note", "more than 100 signature lines");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new VerifyError("bad_note", `checkpoint has ${lines.length} lines, want 3`);
  if (lines.slice(3).some((l) => l === "")) throw new VerifyError("bad_note", "empty extension line");
  const [origin, sizeText, rootB64] = lines;
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeText)) throw new VerifyError("bad_note", `bad size ${sizeText}`);
  const root = base64ToBytes(rootB64);
  if (root.length !== 32) throw new VerifyError("bad_note", `root has ${root.length} bytes, want 32`);
  if (origin !== key.name) {
    throw new VerifyError("wrong_origin", `note origin ${origin} is not the key's name ${key.name}`);
  }
  const mapRoot = mapRootOf(lines.slice(3));
  const pub = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new VerifyError("bad_note", `malformed signature line ${line.slice(0, 40)}`);
    if (m[1] !== key.name) continue;
    const sig = base64ToBytes(m[2]);
    if (sig.length !== 68 || !equal(sig.slice(0, 4), key.keyHash)) continue;
    if (await crypto.subtle.verify({ name: "Ed25519" }, pub, sig.slice(4), enc.encode(text))) {
      return { origin, size: Number(sizeText), root, mapRoot };
    }
    throw new VerifyError("bad_signature", "the signature by the verifier key does not verify");
  }
  throw new VerifyError("no_signature", `no signature by ${key.name}+${bytesToHex(key.keyHash)}`);
}

/** The map root named by a checkpoint's extension lines (FORMAT.md §5.1): null when there is
 * no ``sealtrail-map/v1`` line; a repeated or malformed one is refused. */
export function mapRootOf(extensions) {
  let found = null;
  for (const line of extensions) {
    const sp = line.indexOf(" ");
    const word = sp < 0 ? line : line.slice(0, sp);
    if (word !== "sealtrail-map/v1") continue;
    if (found !== null) throw new VerifyError("bad_note", "more than one sealtrail-map/v1 line");
    const arg = sp < 0 ? "" : line.slice(sp + 1);
    if (!/^[A-Za-z0-9+/]{43}=$/.test(arg)) {
      throw new VerifyError("bad_note", "malformed sealtrail-map/v1 line: want 32 bytes of base64");
    }
    found = base64ToBytes(arg);
  }
  return found;
}

// -- the verifiable map — MAP.md §1-6 (keys, values, hashing, proofs) --------------------------

const MAP_TAG = (name) => enc.encode(`sealtrail/map/v1/${name}\0`);
const KEY_TAG = MAP_TAG("key");
const VALUE_TAG = MAP_TAG("value");
const LEAF_TAG = MAP_TAG("leaf");
const NODE_TAG = MAP_TAG("node");
const EMPTY_TAG = MAP_TAG("empty");
const DOC_CHAIN_TAG = MAP_TAG("doc-chain");
const MAX_SIBLINGS = 256;

function u64(n) {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new VerifyError("malformed", `${n} is not a u64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
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
export function documentKey(sha256Bytes) {
  if (!(sha256Bytes instanceof Uint8Array) || sha256Bytes.length !== 32) {
    throw new VerifyError("malformed", "a document fingerprint has 32 bytes");
  }
  return concat(Uint8Array.of(2), sha256Bytes);
}

/** MAP.md §1: H(key tag || key) with its first bit replaced by the kind bit. */
export async function mapKeyHash(key) {
  if (!(key instanceof Uint8Array) || key.length < 1 || (key[0] !== 1 && key[0] !== 2)) {
    throw new VerifyError("malformed", "not a map key");
  }
  const h = await sha256(concat(KEY_TAG, key));
  h[0] = (h[0] & 0x7f) | ((key[0] === 2 ? 1 : 0) << 7);
  return h;
}

/** MAP.md §2: a 49-byte value ``kind || u64 count || u64 last_index || hash32``. */
export function mapValue(kind, count, lastIndex, hash) {
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(lastIndex) || count < 1 || count > lastIndex + 1) {
    throw new VerifyError("malformed", `need 1 <= count <= last_index + 1, got ${count}, ${lastIndex}`);
  }
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new VerifyError("malformed", "hash32 has 32 bytes");
  return concat(Uint8Array.of(kind), u64(count), u64(lastIndex), hash);
}

/** MAP.md §2: the value of a document named by events [{index, leafHash}] in log order. */
export async function documentValue(events) {
  if (!events.length) throw new VerifyError("malformed", "a document value needs at least one event");
  let chain = new Uint8Array(32);
  let last = -1;
  for (const { index, leafHash: leaf } of events) {
    if (!Number.isSafeInteger(index) || index <= last) {
      throw new VerifyError("malformed", `indices not increasing: ${index} after ${last}`);
    }
    chain = await sha256(concat(DOC_CHAIN_TAG, chain, u64(index), leaf));
    last = index;
  }
  return mapValue(2, events.length, last, chain);
}

export async function mapValueHash(value) {
  return sha256(concat(VALUE_TAG, value));
}

const HEX64 = /^[0-9a-f]{64}$/;

function hex64(v, name) {
  if (typeof v !== "string" || !HEX64.test(v)) {
    throw new VerifyError("malformed", `${name}: want 64 lowercase hex digits`);
  }
  return hexToBytes(v);
}

function exactly(obj, keys, name) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new VerifyError("malformed", `${name}: want an object`);
  }
  const got = Object.keys(obj);
  for (const k of got) if (!keys.includes(k)) throw new VerifyError("malformed", `${name}: unknown field ${k.slice(0, 40)}`);
  for (const k of keys) if (!got.includes(k)) throw new VerifyError("malformed", `${name}: field ${k} is missing`);
}

/** MAP.md §5-6: parse the JSON form of a proof, every field checked. */
export function parseMapProof(obj) {
  exactly(obj, ["leaf", "siblings"], "proof");
  if (!Array.isArray(obj.siblings)) throw new VerifyError("malformed", "proof.siblings: want an array");
  if (obj.siblings.length > MAX_SIBLINGS) {
    throw new VerifyError("too_many_siblings", `proof has ${obj.siblings.length} siblings, want at most ${MAX_SIBLINGS}`);
  }
  if (obj.siblings.length === 0) throw new VerifyError("no_siblings", "proof has 0 siblings, want at least 1");
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

/** MAP.md §6.1 step 4: fold a parsed proof up key hash k's path. */
async function foldMap(k, proof) {
  const n = proof.siblings.length;
  let r = proof.leaf === null
    ? await sha256(EMPTY_TAG)
    : await sha256(concat(LEAF_TAG, proof.leaf.keyHash, proof.leaf.valueHash));
  for (let i = 0; i < n; i++) {
    const d = n - 1 - i;
    r = bit(k, d) ? await sha256(concat(NODE_TAG, proof.siblings[i], r)) : await sha256(concat(NODE_TAG, r, proof.siblings[i]));
  }
  return r;
}

async function checkMapRoot(root, k, proof) {
  const got = await foldMap(k, proof);
  if (!equal(got, root)) {
    throw new VerifyError("root_mismatch", `calculated root ${bytesToHex(got)} does not match expected ${bytesToHex(root)}`);
  }
}

function mapRootBytes(root) {
  if (!(root instanceof Uint8Array) || root.length !== 32) throw new VerifyError("malformed", "root has 32 bytes");
}

/** MAP.md §6.1: the map with ``root`` maps ``key`` to ``value`` (bytes); ``proofJson`` as
 * served. Throws VerifyError with the reasons of MAP.md §6 as codes. */
export async function verifyMapInclusion(root, key, value, proofJson) {
  mapRootBytes(root);
  const proof = parseMapProof(proofJson);
  const k = await mapKeyHash(key);
  if (!(value instanceof Uint8Array) || value.length === 0 || value[0] !== key[0]) {
    throw new VerifyError("value_mismatch", "value kind does not match key kind");
  }
  if (proof.leaf === null) throw new VerifyError("no_leaf", "proof ends at an empty subtree: it proves absence");
  if (!equal(proof.leaf.keyHash, k)) {
    throw new VerifyError("key_mismatch", `proof is for key hash ${bytesToHex(proof.leaf.keyHash)}, want ${bytesToHex(k)}`);
  }
  const v = await mapValueHash(value);
  if (!equal(proof.leaf.valueHash, v)) {
    throw new VerifyError("value_mismatch", `proof has value hash ${bytesToHex(proof.leaf.valueHash)}, want ${bytesToHex(v)}`);
  }
  await checkMapRoot(root, k, proof);
}

/** MAP.md §6.2: the map with ``root`` holds no value for ``key``. Throws VerifyError. */
export async function verifyMapNonInclusion(root, key, proofJson) {
  mapRootBytes(root);
  const proof = parseMapProof(proofJson);
  const k = await mapKeyHash(key);
  const n = proof.siblings.length;
  if (proof.leaf !== null) {
    if (equal(proof.leaf.keyHash, k)) throw new VerifyError("key_present", `proof shows key hash ${bytesToHex(k)} in the map`);
    for (let d = 0; d < n; d++) {
      if (bit(proof.leaf.keyHash, d) !== bit(k, d)) {
        throw new VerifyError("leaf_off_path", `leaf key hash does not share the first ${n} bits of ${bytesToHex(k)}`);
      }
    }
  }
  await checkMapRoot(root, k, proof);
}
