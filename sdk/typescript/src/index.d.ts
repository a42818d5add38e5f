// Types of the Sealtrail SDK for Node.js (the implementation is plain ESM: src/*.js).

export class VerifyError extends Error {
  readonly code: string;
  constructor(code: string, message: string);
}

export class SealtrailApiError extends Error {
  readonly status: number;
  readonly problem: { type?: string; title?: string; status?: number; detail?: string } | undefined;
  /** The problem's stable code (the last segment of its `type`), e.g. "not_found". */
  readonly code: string | undefined;
}

export type Hex = string;
export type SizeLike = number | bigint;

export interface Actor { id: string; name?: string | null; org?: string | null; role?: string | null }
export interface DocumentRef { name?: string | null; sha256: Hex }
export interface EventInput {
  stream: string;
  type: string;
  actor: Actor;
  documents?: DocumentRef[];
  occurred_at?: string | null;
  client_event_id?: string | null;
  attributes?: Record<string, string | number | boolean | null>;
}
export interface Event extends Required<Omit<EventInput, "actor" | "documents">> {
  v: 1; index: number; tenant: string; actor: Required<Actor>; documents: Required<DocumentRef>[];
  recorded_at: string; salt: string; prev: Hex | null; leaf_hash: Hex; duplicate?: boolean;
}
export interface Checkpoint { size: number; root: Hex; note: string; created_at: string }
export interface InclusionProof {
  type: "inclusion"; index: number; size: number; leaf_hash: Hex; root: Hex; proof: Hex[]; checkpoint: Checkpoint;
}
export interface ConsistencyProof {
  type: "consistency"; old_size: number; new_size: number; old_root: Hex; new_root: Hex; proof: Hex[];
  old_checkpoint: Checkpoint; new_checkpoint: Checkpoint;
}
export interface MapProofJson { leaf: { key_hash: Hex; value_hash: Hex } | null; siblings: Hex[] }
export interface StreamMapProof {
  tenant: string; stream: string; size: number; root: Hex;
  value: { count: number; last_index: number; hash: Hex }; proof: MapProofJson; checkpoint: Checkpoint;
}
export interface VerifiedCheckpoint { origin: string; size: bigint; root: Uint8Array; mapRoot: Uint8Array | null }
export interface VerifierKey { name: string; keyHash: Uint8Array; publicKey: unknown; text: string }

export class SealtrailClient {
  constructor(baseUrl: string, apiKey?: string, options?: { timeoutMs?: number; fetch?: typeof fetch });
  request(method: string, path: string, options?: { query?: Record<string, unknown>; body?: unknown; headers?: Record<string, string> }): Promise<any>;
  appendEvent(event: EventInput, options?: { idempotencyKey?: string }): Promise<Event>;
  appendEvents(events: EventInput[]): Promise<{ events: Event[] }>;
  listEvents(filters?: Record<string, string | number>): Promise<{ events: Event[]; next_cursor: string | null }>;
  getEvent(index: number): Promise<Event>;
  getEventProof(index: number, options?: { size?: number }): Promise<InclusionProof>;
  getStream(stream: string, options?: { tenant?: string; limit?: number; cursor?: string }): Promise<any>;
  getStreamMapProof(stream: string, options?: { size?: number; tenant?: string }): Promise<StreamMapProof>;
  getLatestCheckpoint(): Promise<Checkpoint & { timestamp: any; anchor: any }>;
  getCheckpoint(size: number): Promise<Checkpoint & { timestamp: any; anchor: any }>;
  getConsistencyProof(from: number, to?: number): Promise<ConsistencyProof>;
  getPublicFingerprint(sha256: Hex): Promise<any>;
  getEnvelope(id: string): Promise<any>;
  getSealRequest(id: string): Promise<any>;
}

export function hexToBytes(hex: string): Uint8Array;
export function bytesToHex(bytes: Uint8Array): string;
export function base64ToBytes(b64: string): Uint8Array;
export function sha256(bytes: Uint8Array): Uint8Array;
export function hex32(v: string, what?: string): Uint8Array;
export function leafHash(data: Uint8Array): Uint8Array;
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array;
export function inclusionProofSize(index: SizeLike, size: SizeLike): number;
export function consistencyProofSize(oldSize: SizeLike, newSize: SizeLike): number;
/** RFC 9162 §2.1.3.2; throws VerifyError. */
export function verifyInclusion(leaf: Uint8Array, index: SizeLike, size: SizeLike, proof: Uint8Array[], root: Uint8Array): void;
/** RFC 9162 §2.1.4.2; throws VerifyError. */
export function verifyConsistency(oldSize: SizeLike, newSize: SizeLike, oldRoot: Uint8Array, newRoot: Uint8Array, proof: Uint8Array[]): void;
export function parseVerifierKey(vkey: string): VerifierKey;
export function openNote(note: string, keys: (string | VerifierKey)[]): { text: string; verified: string[] };
export function mapRootOf(extensions: string[]): Uint8Array | null;
export function verifyCheckpoint(note: string, verifierKey: string | VerifierKey): VerifiedCheckpoint;
export function verifyInclusionAnswer(answer: InclusionProof, verifierKey: string | VerifierKey, leafHashHex?: Hex): VerifiedCheckpoint;
export function verifyConsistencyAnswer(answer: ConsistencyProof, verifierKey: string | VerifierKey): { old: VerifiedCheckpoint; new: VerifiedCheckpoint };
export function streamKey(tenant: string, stream: string): Uint8Array;
export function documentKey(sha256: Uint8Array): Uint8Array;
export function mapKeyHash(key: Uint8Array): Uint8Array;
export function mapValue(kind: 1 | 2, count: SizeLike, lastIndex: SizeLike, hash: Uint8Array): Uint8Array;
export function documentValue(events: { index: SizeLike; leafHash: Uint8Array }[]): Uint8Array;
export function parseMapProof(obj: unknown): { siblings: Uint8Array[]; leaf: { keyHash: Uint8Array; valueHash: Uint8Array } | null };
export function verifyMapInclusion(root: Uint8Array, key: Uint8Array, value: Uint8Array, proof: MapProofJson): void;
export function verifyMapNonInclusion(root: Uint8Array, key: Uint8Array, proof: MapProofJson): void;
export function verifyStreamMapAnswer(answer: StreamMapProof, verifierKey: string | VerifierKey, head?: { count: SizeLike; lastIndex: SizeLike; leafHash: Hex }): VerifiedCheckpoint;

export type CallbackHeaders = Headers | Record<string, string | string[] | undefined>;
export function signCallback(secret: string, id: string, timestamp: string, body: string | Uint8Array): string;
/** Standard Webhooks: checks webhook-id/-timestamp/-signature; returns the parsed payload. */
export function verifyCallback(secret: string, headers: CallbackHeaders, body: string | Uint8Array, options?: { now?: number; toleranceSeconds?: number }): any;
