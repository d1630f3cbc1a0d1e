/**
 * The fuzzing oracle (test/fuzz/oracle.ts) is itself code: these pin its verdicts on
 * hand-written frames, show that `judge` rejects wrong replies, and check that the
 * generators (test/fuzz/frames.ts) reach every hostile category.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type FrameGen, frameArb, IdSource, materialize, PROTO_NAMES } from "./fuzz/frames.ts"
import { type Expectation, FRESH, judge, oracle, type SessionModel } from "./fuzz/oracle.ts"

const OPTS = { maxMessageBytes: 1_024 }
const OPERATING: SessionModel = { phase: "operating", version: "2025-11-25" }
const BATCHING: SessionModel = { phase: "operating", version: "2025-03-26" }
const expectFor = (frame: string | object, model: SessionModel = OPERATING): Expectation =>
  oracle(Buffer.from(typeof frame === "string" ? frame : JSON.stringify(frame)), model, OPTS)
const labels = (e: Expectation) => e.outcomes.map((o) => o.label)
const rpcError = (id: unknown, code: number) => ({ jsonrpc: "2.0", id, error: { code, message: "m" } })

describe("oracle verdicts", () => {
  it("every Object.prototype name as a method → -32601 (operating), never a crash code", () => {
    for (const method of PROTO_NAMES) {
      const e = expectFor({ jsonrpc: "2.0", id: 1, method })
      expect(labels(e), method).toEqual(["-32601"])
      expect(judge(e, [rpcError(1, -32601)]).ok).toBe(true)
      expect(judge(e, [rpcError(1, -32603)]).ok).toBe(false)
      expect(judge(e, []).ok).toBe(false)
    }
  })

  it("prototype names as tool and prompt names → -32602; as a modern _meta or capability key they are just keys", () => {
    expect(labels(expectFor({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "constructor", arguments: {} } }))).toEqual(["-32602"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: 3, method: "prompts/get", params: { name: "__proto__" } }))).toEqual(["-32602"])
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { toString: {} }, valueOf: 1 }
    const e = expectFor({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "echo", arguments: { text: "hi" }, _meta: meta } }, FRESH)
    expect(judge(e, [{ jsonrpc: "2.0", id: 4, result: { content: [{ type: "text", text: "hi" }], resultType: "complete" } }]).ok).toBe(true)
    expect(judge(e, [{ jsonrpc: "2.0", id: 4, result: { content: [{ type: "text", text: "hi" }] } }]).ok).toBe(false) // modern: resultType required
  })

  it("malformed percent-encoding in a resource URI → -32602, a missing resource → -32002 (legacy) / -32602 (modern)", () => {
    expect(labels(expectFor({ jsonrpc: "2.0", id: 5, method: "resources/read", params: { uri: "demo://greeting/%ZZ" } }))).toEqual(["-32602"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: 6, method: "resources/read", params: { uri: "demo://missing" } }))).toEqual(["-32002"])
    const modern = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    expect(labels(expectFor({ jsonrpc: "2.0", id: 7, method: "resources/read", params: { uri: "demo://missing", _meta: modern } }))).toEqual(["-32602"])
  })

  it("parse errors, invalid requests, notifications, ids", () => {
    expect(labels(expectFor("{not json"))).toEqual(["-32700"])
    expect(labels(expectFor("\uFEFF{}"))).toEqual(["-32700"]) // the BOM is not JSON
    expect(labels(expectFor("42"))).toEqual(["-32600"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: null, method: "ping" }))).toEqual(["-32600"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: 1.5, method: "ping" }))).toEqual(["-32600"])
    expect(labels(expectFor({ jsonrpc: "2.0", method: "nope/nope", params: 7 }))).toEqual(["none"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: 8, method: "ping", params: [1] }))).toEqual(["-32602"])
    expect(labels(expectFor({ jsonrpc: "2.0", id: "r", result: {} }))).toEqual(["none"])
    const e = expectFor({ jsonrpc: "2.0", id: -3, method: "ping" }, FRESH)
    expect(judge(e, [{ jsonrpc: "2.0", id: -3, result: {} }]).ok).toBe(true)
    expect(judge(e, [{ jsonrpc: "2.0", id: "-3", result: {} }]).ok).toBe(false)
  })

  it("lifecycle: fresh → initializing → operating; requests too early get -32600; a second initialize -32600", () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2099-01-01", capabilities: { constructor: {} }, clientInfo: { name: "x", version: "1" } } }
    const e = expectFor(init, FRESH)
    expect(e.next).toEqual({ phase: "initializing", version: "2025-11-25" })
    expect(labels(expectFor({ jsonrpc: "2.0", id: 2, method: "tools/list" }, e.next))).toEqual(["-32600"])
    expect(expectFor({ jsonrpc: "2.0", method: "notifications/initialized" }, e.next).next).toEqual({ phase: "operating", version: "2025-11-25" })
    expect(labels(expectFor(init, OPERATING))).toEqual(["-32600"])
  })

  it("depth: served up to the served limit, refused from the rejected one (never -32603)", () => {
    const nested = (d: number) => "[".repeat(d) + "]".repeat(d)
    expect(labels(expectFor(`{"jsonrpc":"2.0","id":9,"method":"ping","params":{"a":${nested(40)}}}`))).toEqual(["result"])
    const deep = oracle(Buffer.from(`{"jsonrpc":"2.0","id":9,"method":"ping","params":{"a":${nested(5_000)}}}`), OPERATING, { maxMessageBytes: 100_000 })
    expect(labels(deep)).toEqual(["-32600|-32602"])
    expect(judge(deep, [rpcError(9, -32603)]).ok).toBe(false)
  })

  it("batches: one array on 2025-03-26 (initialize inside → -32600), -32600 elsewhere", () => {
    const b = [{ jsonrpc: "2.0", id: 1, method: "ping" }, { jsonrpc: "2.0", method: "x" }, { jsonrpc: "2.0", id: 2, method: "initialize", params: {} }]
    const e = expectFor(b, BATCHING)
    expect(labels(e)).toEqual(["batch"])
    expect(judge(e, [[{ jsonrpc: "2.0", id: 2, error: { code: -32600, message: "m" } }, { jsonrpc: "2.0", id: 1, result: {} }]]).ok).toBe(true)
    // Two separate messages are not one array.
    expect(judge(e, [{ jsonrpc: "2.0", id: 1, result: {} }, rpcError(2, -32600)]).ok).toBe(false)
    expect(labels(expectFor(b, OPERATING))).toEqual(["-32600"])
    expect(labels(expectFor([{ jsonrpc: "2.0", method: "a" }], BATCHING))).toEqual(["none"])
    // A notification too deep to serve, next to nothing that needs an answer: an array, or no answer at all.
    const deepNote = `[{"jsonrpc":"2.0","method":"logging/setLevel","params":{"level":${"[".repeat(1_200)}${"]".repeat(1_200)}}},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"no"}}]`
    const silent = oracle(Buffer.from(deepNote), BATCHING, { maxMessageBytes: 100_000 })
    // (Or refused whole for its depth.)
    expect(labels(silent)).toEqual(["-32600|-32602", "batch", "none"])
    expect(judge(silent, []).ok).toBe(true)
    // A request in the batch still needs the array.
    const withRequest = oracle(Buffer.from(deepNote.replace('"id":7,"error":{"code":-32000,"message":"no"}', '"id":7,"method":"ping"')), BATCHING, { maxMessageBytes: 100_000 })
    expect(labels(withRequest)).toEqual(["-32600|-32602", "batch"])
  })

  it("oversized and invalid UTF-8 frames", () => {
    expect(labels(expectFor({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(2_000) } }))).toEqual(["-32600"])
    const bad = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a'), Buffer.from([0xff]), Buffer.from('"}}}')])
    const e = oracle(bad, OPERATING, OPTS)
    expect(labels(e)).toEqual(["-32700", "result"]) // refused, or read with U+FFFD
    expect(judge(e, [{ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "a\uFFFD" }] } }]).ok).toBe(true)
  })

  it("a request reusing an in-flight id → -32600", () => {
    const e = oracle(Buffer.from('{"jsonrpc":"2.0","id":"h","method":"ping"}'), OPERATING, { ...OPTS, inFlight: new Set(["h"]) })
    expect(labels(e)).toEqual(["-32600"])
  })
})

describe("generators", () => {
  it("no generated id equals a harness id (seed 2026 generated the string id \"s#4928\", prefix \"s\")", () => {
    const ids = new IdSource()
    const own = new Set<string>()
    for (const gen of fc.sample(frameArb({ maxMessageBytes: 4_096, batches: true }), { seed: 2026, numRuns: 3_000 })) {
      own.add(ids.own("s"))
      for (const frame of materialize(gen, ids).frames) {
        let parsed: unknown
        try {
          parsed = JSON.parse(Buffer.from(frame).toString("utf8"))
        } catch {
          continue
        }
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
          if (typeof m === "object" && m !== null) expect(own.has((m as { id?: unknown }).id as string)).toBe(false)
        }
      }
    }
    expect(own.size).toBe(3_000)
  })

  it("reach every hostile category within 3,000 seeded frames", () => {
    const seen = new Set<string>()
    const classify = (g: FrameGen): void => {
      seen.add(g.t)
      if (g.t === "msg") {
        if (typeof g.method === "string" && PROTO_NAMES.includes(g.method)) seen.add("protoMethod")
        if (g.id.t === "lit") seen.add("badId")
        const p = g.params as { name?: unknown; _meta?: unknown } | undefined
        if (p && typeof p === "object" && typeof p.name === "string" && PROTO_NAMES.includes(p.name)) seen.add("protoName")
        if (p && typeof p === "object" && p._meta !== undefined) seen.add("meta")
      }
      if (g.t === "badUtf8") classify(g.inner)
    }
    for (const g of fc.sample(frameArb({ maxMessageBytes: 1_024 }), { seed: 42, numRuns: 3_000 })) classify(g)
    for (const c of ["msg", "batch", "value", "raw", "badUtf8", "dup", "protoMethod", "badId", "protoName", "meta"]) expect(seen, c).toContain(c)
    // Deterministic: the same seed, the same frames.
    const ids = new IdSource()
    const a = fc.sample(frameArb({ maxMessageBytes: 1_024 }), { seed: 7, numRuns: 50 }).map((g) => Buffer.from(materialize(g, ids).frames[0]!).toString("hex"))
    const ids2 = new IdSource()
    const b = fc.sample(frameArb({ maxMessageBytes: 1_024 }), { seed: 7, numRuns: 50 }).map((g) => Buffer.from(materialize(g, ids2).frames[0]!).toString("hex"))
    expect(a).toEqual(b)
  })

  it("never generate an id equal to one of the harness's own (a string id with prefix \"s\" once passed for sentinel s#281)", () => {
    const ids = new IdSource()
    const seen = new Set<unknown>()
    for (let i = 0; i < 500; i++) {
      for (const id of [ids.next({ t: "str", prefix: "s" }), ids.own("s"), ids.next({ t: "str", prefix: "h" }), ids.own("h"), ids.next({ t: "str", prefix: "s#1" })]) {
        expect(seen.has(id), String(id)).toBe(false)
        seen.add(id)
      }
    }
    expect(seen.has("s#2")).toBe(true)
    expect(seen.has("s#1")).toBe(true) // generated, with prefix "s": looks like a sentinel id, and is not one
  })
})
