// The SDK against a live service (started by tests/integration/sdk/test_sdk_live.py, which sets
// SEALTRAIL_URL, SEALTRAIL_KEY (integrator), SEALTRAIL_AUDITOR_KEY, SEALTRAIL_VERIFIER_KEY and
// SEALTRAIL_TENANT). Skipped when SEALTRAIL_URL is unset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  SealtrailClient, SealtrailApiError, VerifyError, verifyInclusionAnswer, verifyConsistencyAnswer,
  verifyStreamMapAnswer, verifyCheckpoint, verifyMapInclusion, verifyMapNonInclusion, documentKey,
  documentValue, hexToBytes,
} from "../src/index.js";

const env = process.env;
const live = { skip: env.SEALTRAIL_URL ? false : "SEALTRAIL_URL not set" };
const sha = (s) => createHash("sha256").update(s).digest("hex");
const stream = `contract:ts-sdk-${process.pid}`;
const doc = sha(`ts-sdk-doc-${process.pid}`);

function event(n) {
  return {
    stream,
    type: n === 0 ? "initiate" : "sign",
    actor: { id: `u-${n}`, name: "Li Lei", org: "Acme Ltd", role: "legal" },
    documents: [{ name: "contract.pdf", sha256: doc }],
    client_event_id: `ts-sdk-${process.pid}-${n}`,
    attributes: { n },
  };
}

async function sealed(client, size) {
  for (let i = 0; i < 200; i++) {
    try {
      const cp = await client.getLatestCheckpoint();
      if (cp.size >= size) return cp;
    } catch (e) {
      if (!(e instanceof SealtrailApiError) || e.status !== 404) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no checkpoint of size ${size}`);
}

function mutateHex(h) {
  return (h[0] === "0" ? "1" : "0") + h.slice(1);
}

test("append, prove, check the checkpoint, consistency and map proofs; tampering is caught", live, async () => {
  const client = new SealtrailClient(env.SEALTRAIL_URL, env.SEALTRAIL_KEY);
  const auditor = new SealtrailClient(env.SEALTRAIL_URL, env.SEALTRAIL_AUDITOR_KEY);
  const vkey = env.SEALTRAIL_VERIFIER_KEY;

  const first = await client.appendEvent(event(0), { idempotencyKey: `ts-sdk-${process.pid}-0` });
  const again = await client.appendEvent(event(0), { idempotencyKey: `ts-sdk-${process.pid}-0` });
  assert.equal(again.index, first.index, "a retry returns the original event");
  const before = await sealed(auditor, first.index + 1);
  const batch = await client.appendEvents([event(1), event(2)]);
  assert.equal(batch.events.length, 2);
  const last = batch.events[1];
  const cp = await sealed(auditor, last.index + 1);

  // inclusion of the last event, to the latest checkpoint
  const got = await auditor.getEvent(last.index);
  assert.equal(got.leaf_hash, last.leaf_hash);
  const proof = await auditor.getEventProof(last.index);
  const verified = verifyInclusionAnswer(proof, vkey, last.leaf_hash);
  assert.ok(verified.size >= BigInt(last.index + 1));
  assert.throws(() => verifyInclusionAnswer(proof, vkey, first.leaf_hash), { code: "leaf_mismatch" });
  if (proof.proof.length) {
    const bad = { ...proof, proof: [mutateHex(proof.proof[0]), ...proof.proof.slice(1)] };
    assert.throws(() => verifyInclusionAnswer(bad, vkey), { code: "root_mismatch" });
  }
  assert.throws(() => verifyInclusionAnswer({ ...proof, index: proof.index + proof.size }, vkey), VerifyError);
  const forged = proof.checkpoint.note.replace(/\n[0-9]+\n/, `\n${proof.size + 1}\n`);
  assert.throws(() => verifyInclusionAnswer({ ...proof, checkpoint: { ...proof.checkpoint, note: forged } }, vkey), { code: "bad_signature" });
  const otherKey = "sealtrail.local/log-000000000000+d3a1a1f7+AR3C5Tqq6nYXQ7q2Vd5b1hNUHh9m4gM0o4vC1yqY6b2s";
  assert.throws(() => verifyInclusionAnswer(proof, otherKey), VerifyError);

  // checkpoints: the latest and one by size verify with the ledger's key
  const detail = await auditor.getCheckpoint(cp.size);
  assert.equal(verifyCheckpoint(detail.note, vkey).size, BigInt(cp.size));

  // consistency from the checkpoint before the batch to the latest
  assert.ok(before.size < cp.size, "the batch was sealed in a later checkpoint");
  {
    const cons = await auditor.getConsistencyProof(before.size, cp.size);
    const both = verifyConsistencyAnswer(cons, vkey);
    assert.equal(both.old.size, BigInt(before.size));
    const swapped = { ...cons, old_checkpoint: cons.new_checkpoint, new_checkpoint: cons.old_checkpoint };
    assert.throws(() => verifyConsistencyAnswer(swapped, vkey), VerifyError);
    if (cons.proof.length) {
      assert.throws(() => verifyConsistencyAnswer({ ...cons, proof: cons.proof.slice(1) }, vkey), VerifyError);
    }
  }

  // the stream's head in the map: what our own appends say it must be
  const head = { count: 3, lastIndex: last.index, leafHash: last.leaf_hash };
  const mp = await client.getStreamMapProof(stream, { size: cp.size });
  verifyStreamMapAnswer(mp, vkey, head);
  assert.throws(() => verifyStreamMapAnswer(mp, vkey, { ...head, count: 2 }), { code: "value_mismatch" });
  assert.throws(() => verifyStreamMapAnswer({ ...mp, stream: stream + "x" }, vkey, head), { code: "key_mismatch" });

  // the public fingerprint answer: the document's events are all of them (MAP.md §7)
  const pub = await new SealtrailClient(env.SEALTRAIL_URL).getPublicFingerprint(doc);
  const pcp = verifyCheckpoint(pub.checkpoint.note, vkey);
  const listed = pub.events.filter((e) => BigInt(e.index) < pcp.size);
  assert.equal(listed.length, 3);
  const value = documentValue(listed.map((e) => ({ index: e.index, leafHash: hexToBytes(e.leaf_hash) })));
  verifyMapInclusion(pcp.mapRoot, documentKey(hexToBytes(doc)), value, pub.map.proof);
  const dropped = documentValue(listed.slice(1).map((e) => ({ index: e.index, leafHash: hexToBytes(e.leaf_hash) })));
  assert.throws(() => verifyMapInclusion(pcp.mapRoot, documentKey(hexToBytes(doc)), dropped, pub.map.proof), { code: "value_mismatch" });
  const unknown = sha(`never-seen-${process.pid}`);
  const none = await new SealtrailClient(env.SEALTRAIL_URL).getPublicFingerprint(unknown);
  assert.deepEqual(none.events, []);
  const ncp = verifyCheckpoint(none.checkpoint.note, vkey);
  verifyMapNonInclusion(ncp.mapRoot, documentKey(hexToBytes(unknown)), none.map.proof);
  assert.throws(() => verifyMapNonInclusion(ncp.mapRoot, documentKey(hexToBytes(doc)), none.map.proof), VerifyError);
});

test("API errors arrive as SealtrailApiError with the problem's code", live, async () => {
  const client = new SealtrailClient(env.SEALTRAIL_URL, env.SEALTRAIL_KEY);
  const auditor = new SealtrailClient(env.SEALTRAIL_URL, env.SEALTRAIL_AUDITOR_KEY);
  await assert.rejects(client.getEventProof(0), (e) => e instanceof SealtrailApiError && e.status === 403 && e.code === "forbidden");
  await assert.rejects(auditor.getEventProof(10 ** 12), (e) => e instanceof SealtrailApiError && e.status === 404 && e.code === "not_found");
  const anonymous = new SealtrailClient(env.SEALTRAIL_URL);
  await assert.rejects(anonymous.appendEvent(event(9)), (e) => e.status === 401);
});
