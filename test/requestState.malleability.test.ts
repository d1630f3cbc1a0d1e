/**
 * MRTR `requestState` accepts only the exact string the server issued (issue 8,
 * part 5). The MAC used to be decoded with Node's lenient base64url decoder, so
 * a changed last character (spare bits), appended `=`/`==`/space/`!`, an
 * inserted `.`, or `+/` for `-_` all verified as the same state. Each variant
 * must now be -32602 "requestState failed verification", over a raw memory
 * peer against our server, while the canonical string still resumes.
 */
import { describe, expect, it } from "vitest"
import { ErrorCode } from "../src/protocol/errors.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeRequestStateKey, openRequestState, sealRequestState } from "../src/server/requestState.ts"
import { rawPeer } from "./support/rawPeer.ts"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/** Every listed malleation of a sealed state (`payload.mac`), each different from it. */
const malleations = (sealed: string): ReadonlyArray<readonly [string, string]> => {
  const dot = sealed.indexOf(".")
  const mac = sealed.slice(dot + 1)
  const last = ALPHABET.indexOf(mac.at(-1)!)
  const out: Array<readonly [string, string]> = []
  // A 32-byte MAC is 43 characters: the last one carries 4 bits and 2 spare ones.
  for (const flip of [1, 2, 3]) out.push([`last character ${flip}`, `${sealed.slice(0, -1)}${ALPHABET[last ^ flip]!}`])
  out.push(["appended =", `${sealed}=`], ["appended ==", `${sealed}==`], ["appended space", `${sealed} `], ["appended !", `${sealed}!`])
  out.push(["inserted .", `${sealed.slice(0, dot + 10)}.${sealed.slice(dot + 10)}`])
  out.push(["+/ for -_", `${sealed.slice(0, dot + 1)}${mac.replaceAll("-", "+").replaceAll("_", "/")}`])
  for (const [, v] of out) expect(v).not.toBe(sealed)
  return out
}

const hasUrlSafeChar = (sealed: string) => /[-_]/.test(sealed.slice(sealed.indexOf(".") + 1))

describe("requestState: only the canonical encoding verifies", () => {
  it("openRequestState refuses every malleation and accepts the canonical string", () => {
    const key = makeRequestStateKey("a shared secret", 60_000)
    const request = { method: "tools/call", params: { name: "stepwise" } }
    // A state whose MAC has a `-` or `_`, so that the `+/` variant really differs.
    let now = 1_000
    let sealed = sealRequestState(key, { state: "s" }, request, now)
    while (!hasUrlSafeChar(sealed)) sealed = sealRequestState(key, { state: "s" }, request, ++now)
    expect(openRequestState(key, sealed, request, now)).toEqual({ ok: true, state: "s", answers: undefined })
    for (const [what, variant] of malleations(sealed)) {
      expect(openRequestState(key, variant, request, now), what).toEqual({ ok: false, reason: "failed verification" })
    }
  })

  it("over the wire: each variant is -32602, the canonical string still resumes the handler", async () => {
    const ran: Array<string | undefined> = []
    const server = new McpServer({ name: "mrtr", version: "1.0.0", requestStateSecret: "a shared secret" })
      .tool({ name: "stepwise" }, (_args, ctx) => {
        ran.push(ctx.requestState)
        if (ctx.requestState === undefined) ctx.inputRequired({ requestState: "step-1" })
        return { content: [{ type: "text", text: `resumed from ${ctx.requestState}` }] }
      })
    // The session's time source: seals carry a millisecond expiry, so moving it makes each seal differ.
    let now = 1_000_000
    const peer = rawPeer(server, { now: () => now })
    let id = 0
    const call = (requestState?: string) => peer.ask({
      jsonrpc: "2.0",
      id: ++id,
      method: "tools/call",
      params: {
        name: "stepwise",
        ...(requestState === undefined ? {} : { requestState }),
        _meta: { [META_PROTOCOL_VERSION]: "2026-07-28", [META_CLIENT_CAPABILITIES]: {} }
      }
    })
    let sealed = ""
    for (let i = 0; i < 50 && !hasUrlSafeChar(sealed); i++) {
      const first = await call()
      expect(first.result).toMatchObject({ resultType: "input_required" })
      sealed = first.result.requestState as string
      now += 1
    }
    expect(hasUrlSafeChar(sealed)).toBe(true)
    ran.length = 0
    for (const [what, variant] of malleations(sealed)) {
      const refused = await call(variant)
      expect(refused.error, what).toEqual({ code: ErrorCode.InvalidParams, message: "Invalid params: requestState failed verification" })
    }
    expect(ran).toEqual([]) // the handler never ran with a malleated state
    const resumed = await call(sealed)
    expect(resumed.result.content).toEqual([{ type: "text", text: "resumed from step-1" }])
  })
})
