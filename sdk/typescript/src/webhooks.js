// Standard Webhooks signature check (https://www.standardwebhooks.com/): the receiver of a
// Sealtrail callback checks `webhook-signature` over "{webhook-id}.{webhook-timestamp}.{body}"
// with HMAC-SHA256 keyed by the base64-decoded secret after `whsec_`, and refuses timestamps
// outside a tolerance (replays). Only node:crypto is used; `now` is a parameter.

import { createHmac, timingSafeEqual } from "node:crypto";
import { VerifyError } from "./verify.js";

const DEFAULT_TOLERANCE_SECONDS = 300;

function header(headers, name) {
  if (headers && typeof headers.get === "function") return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function secretBytes(secret) {
  if (typeof secret !== "string" || !secret.startsWith("whsec_")) {
    throw new VerifyError("bad_secret", "a callback secret starts with whsec_");
  }
  const b64 = secret.slice("whsec_".length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new VerifyError("bad_secret", "the secret is not base64");
  return Buffer.from(b64, "base64");
}

/** The `v1,<base64>` signature of a callback (as a sender computes it). */
export function signCallback(secret, id, timestamp, body) {
  const mac = createHmac("sha256", secretBytes(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body));
  return "v1," + mac.digest("base64");
}

/**
 * Verify a callback: `headers` (a Headers object or a plain object, any case), `body` the raw
 * bytes or string exactly as received. One of the space-separated `v1,` signatures must match
 * (several are sent while a rotated secret overlaps). Returns the parsed JSON payload.
 * Throws VerifyError: missing_header, bad_timestamp, timestamp_out_of_tolerance, bad_signature.
 */
export function verifyCallback(secret, headers, body, { now = Date.now() / 1000, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS } = {}) {
  const id = header(headers, "webhook-id");
  const ts = header(headers, "webhook-timestamp");
  const sigs = header(headers, "webhook-signature");
  if (!id || !ts || !sigs) throw new VerifyError("missing_header", "webhook-id, webhook-timestamp and webhook-signature are required");
  if (!/^[0-9]{1,12}$/.test(ts)) throw new VerifyError("bad_timestamp", "webhook-timestamp: want whole seconds");
  if (Math.abs(now - Number(ts)) > toleranceSeconds) {
    throw new VerifyError("timestamp_out_of_tolerance", `webhook-timestamp ${ts} is more than ${toleranceSeconds} s from now`);
  }
  const want = Buffer.from(signCallback(secret, id, ts, body).slice(3), "base64");
  let ok = false;
  for (const part of String(sigs).split(" ")) {
    const [version, value] = part.split(",", 2);
    if (version !== "v1" || !value) continue;
    const got = Buffer.from(value, "base64");
    if (got.length === want.length && timingSafeEqual(got, want)) ok = true;
  }
  if (!ok) throw new VerifyError("bad_signature", "no webhook-signature matches the secret");
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  return JSON.parse(text);
}
