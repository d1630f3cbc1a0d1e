/**
 * Integrity protection for MRTR `requestState` (2026-07-28/basic/patterns/mrtr.mdx,
 * Server Requirements 4-5): the state comes back through the client, so it is
 * "attacker-controlled input". What the server needs on the retry — the
 * handler's own state and the answers of earlier rounds (a client sends only
 * the inputs of the latest round; the server keeps no memory between them) —
 * is sealed with HMAC-SHA256 under the server's secret, bound to the request it
 * answers (principal, method and tool/prompt name or resource URI) and to an expiry, and
 * opened — or refused — before the handler runs again.
 *
 * What it does not give: confidentiality (the state is readable base64url JSON:
 * put no secrets in it) and single use (a replay within the TTL by the same
 * client passes; the spec leaves one-time redemption to the server).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import type { Params } from "../protocol/jsonrpc.ts"
import type { InputResponses } from "../protocol/mrtr.ts"

export interface RequestStateKey {
  readonly secret: Uint8Array
  readonly ttlMs: number
}

/** A fresh per-process secret: several server processes behind one URL need a shared one (`requestStateSecret`). */
export const makeRequestStateKey = (secret: string | Uint8Array | undefined, ttlMs: number | undefined): RequestStateKey => ({
  secret: secret === undefined ? randomBytes(32) : typeof secret === "string" ? Buffer.from(secret, "utf8") : secret,
  ttlMs: ttlMs ?? 10 * 60_000
})

/** The request a state answers: its method and params, and who asked (the transport's authenticated principal). */
export interface RequestBinding {
  readonly method: string
  readonly params: Params | undefined
  readonly principal?: string | undefined
}

/** What a state is bound to: the principal, the method and the name or URI it acts on. */
const bindingOf = ({ method, params, principal }: RequestBinding): string => {
  const target = params?.name ?? params?.uri
  return `${principal ?? ""}\u0000${method}\u0000${typeof target === "string" ? target : ""}`
}

const mac = (key: RequestStateKey, payload: string): Buffer => createHmac("sha256", key.secret).update(payload).digest()

/** What travels sealed: the handler's state, and the answers gathered in earlier rounds. */
export interface SealedState {
  readonly state?: string | undefined
  readonly answers?: InputResponses | undefined
}

/** Seal `sealed` for the request it answers at `now`. */
export const sealRequestState = (key: RequestStateKey, sealed: SealedState, request: RequestBinding, now: number): string => {
  const body = { s: sealed.state, a: sealed.answers, b: bindingOf(request), e: now + key.ttlMs }
  const payload = Buffer.from(JSON.stringify(body)).toString("base64url")
  return `${payload}.${mac(key, payload).toString("base64url")}`
}

/** The handler's state from a sealed one, or why it is refused (tampered, expired, or for another request). */
export const openRequestState = (
  key: RequestStateKey,
  sealed: string,
  request: RequestBinding,
  now: number
): ({ readonly ok: true } & SealedState) | { readonly ok: false; readonly reason: string } => {
  const dot = sealed.indexOf(".")
  if (dot === -1) return { ok: false, reason: "malformed" }
  const payload = sealed.slice(0, dot)
  // Compared as text, against the one canonical encoding of the expected MAC: Node's
  // base64url decoder is lenient (it skips `=`, spaces, `.`, `!`, takes `+/` for `-_` and
  // ignores spare low bits of the last character), so decoding the client's text first
  // would let many different strings verify as the same state.
  const given = Buffer.from(sealed.slice(dot + 1), "utf8")
  const expected = Buffer.from(mac(key, payload).toString("base64url"), "utf8")
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "failed verification" }
  let body: { readonly s?: unknown; readonly a?: unknown; readonly b?: unknown; readonly e?: unknown }
  try {
    body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
  } catch {
    return { ok: false, reason: "malformed" }
  }
  if ((body.s !== undefined && typeof body.s !== "string") || typeof body.e !== "number") return { ok: false, reason: "malformed" }
  if (body.b !== bindingOf(request)) return { ok: false, reason: "issued for another request" }
  if (now > body.e) return { ok: false, reason: "expired" }
  return { ok: true, state: body.s as string | undefined, answers: body.a as InputResponses | undefined }
}
