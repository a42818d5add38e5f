// Sealtrail SDK for Node.js: an API client and local verification (proofs, checkpoints, the
// verifiable map, callback signatures). Types: index.d.ts.
export * from "./client.js";
export * from "./verify.js";
export * from "./webhooks.js";
