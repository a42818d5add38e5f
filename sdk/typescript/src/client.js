// A small client of the Sealtrail HTTP API (docs: GET /v1/openapi.json; method names are the
// document's operationIds). Uses the global fetch of Node 18+. Errors are SealtrailApiError
// carrying the problem+json body.

export class SealtrailApiError extends Error {
  constructor(status, problem) {
    super(`${status} ${problem?.title ?? ""}: ${problem?.detail ?? ""}`.trim());
    this.name = "SealtrailApiError";
    this.status = status;
    this.problem = problem;
    this.code = typeof problem?.type === "string" ? problem.type.split("/").pop() : undefined;
  }
}

const seg = (v) => encodeURIComponent(String(v));

export class SealtrailClient {
  /** `baseUrl`: the service's origin (e.g. https://evidence.example.com); `apiKey`: a bearer key. */
  constructor(baseUrl, apiKey, { timeoutMs = 30000, fetch: fetchImpl = globalThis.fetch } = {}) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.timeoutMs = timeoutMs;
    this.fetch = fetchImpl;
  }

  async request(method, path, { query, body, headers = {} } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    const h = { Accept: "application/json", ...headers };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    let payload;
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await this.fetch(url, { method, headers: h, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await resp.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { title: "not JSON", detail: text.slice(0, 200) };
    }
    if (!resp.ok) throw new SealtrailApiError(resp.status, json);
    return json;
  }

  /** POST /v1/events — append one event; `idempotencyKey` makes a retry return the original. */
  appendEvent(event, { idempotencyKey } = {}) {
    return this.request("POST", "/v1/events", { body: event, headers: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {} });
  }

  /** POST /v1/events/batch — append events atomically. */
  appendEvents(events) {
    return this.request("POST", "/v1/events/batch", { body: { events } });
  }

  /** GET /v1/events — query (auditors). */
  listEvents(filters = {}) {
    return this.request("GET", "/v1/events", { query: filters });
  }

  /** GET /v1/events/{index}. */
  getEvent(index) {
    return this.request("GET", `/v1/events/${seg(index)}`);
  }

  /** GET /v1/events/{index}/proof — inclusion proof to checkpoint `size` (default latest). */
  getEventProof(index, { size } = {}) {
    return this.request("GET", `/v1/events/${seg(index)}/proof`, { query: { size } });
  }

  /** GET /v1/streams/{stream}. */
  getStream(stream, { tenant, limit, cursor } = {}) {
    return this.request("GET", `/v1/streams/${seg(stream)}`, { query: { tenant, limit, cursor } });
  }

  /** GET /v1/streams/{stream}/map-proof — the stream's head in a checkpoint's map. */
  getStreamMapProof(stream, { size, tenant } = {}) {
    return this.request("GET", `/v1/streams/${seg(stream)}/map-proof`, { query: { size, tenant } });
  }

  /** GET /v1/checkpoints/latest. */
  getLatestCheckpoint() {
    return this.request("GET", "/v1/checkpoints/latest");
  }

  /** GET /v1/checkpoints/{size}. */
  getCheckpoint(size) {
    return this.request("GET", `/v1/checkpoints/${seg(size)}`);
  }

  /** GET /v1/checkpoints/consistency?from=&to=. */
  getConsistencyProof(from, to) {
    return this.request("GET", "/v1/checkpoints/consistency", { query: { from, to } });
  }

  /** GET /v1/public/fingerprints/{sha256} (no key needed). */
  getPublicFingerprint(sha256) {
    return this.request("GET", `/v1/public/fingerprints/${seg(sha256)}`);
  }

  /** GET /v1/envelopes/{id}. */
  getEnvelope(id) {
    return this.request("GET", `/v1/envelopes/${seg(id)}`);
  }

  /** GET /v1/seal-requests/{id}. */
  getSealRequest(id) {
    return this.request("GET", `/v1/seal-requests/${seg(id)}`);
  }
}
