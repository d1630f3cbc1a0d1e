/**
 * The public error classes that were plain `Error` subclasses are `Schema.TaggedError`s
 * (docs/architecture.md "One error family"): `WsConnectError`, `PolicyParseError`,
 * `ReplayError` and the handler-facing `McpError` each carry a `_tag` an Effect program can `catchTag`, and stay what
 * Promise callers caught before: an `Error` of their class, with the same message
 * and fields. Each is raised here the way a user meets it (a refused upgrade on a
 * real socket, a policy that does not parse, a record that is not one).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { connectWs } from "../src/client/connectWs.ts"
import { parseRecord, ReplayError } from "../src/inspect/replay.ts"
import { PolicyParseError } from "../src/policy/CedarPolicySet.ts"
import { Policy } from "../src/policy/Policy.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { WsConnectError } from "../src/transports/wsClient.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { ErrorCode, McpError } from "../src/protocol/errors.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const caught = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error("did not throw")
}

/** What an Effect program recovers by tag: the error's fields, or "not caught". */
const byTag = <E extends { readonly _tag: string }>(tag: E["_tag"], error: E) =>
  Effect.runSync(Effect.fail(error).pipe(
    Effect.catchTag(tag as never, (e: E) => Effect.succeed(`caught ${e._tag}`)),
    Effect.catch(() => Effect.succeed("not caught"))
  ))

describe("tagged public errors", () => {
  it("WsConnectError: a refused upgrade (real socket) rejects with it, HTTP status and message as before, catchable by tag", async () => {
    const ws = await makeWsServer(new McpServer({ name: "s", version: "1" }), { port: 0, path: "/mcp" })
    try {
      const e = await connectWs(ws.url.replace(/\/mcp$/, "/elsewhere")).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(WsConnectError)
      expect(e).toBeInstanceOf(Error)
      const w = e as WsConnectError
      expect(w._tag).toBe("WsConnectError")
      expect(w.name).toBe("WsConnectError")
      expect(w.status).toBe(404)
      expect(w.message).toBe("WebSocket upgrade refused: HTTP 404")
      expect(byTag("WsConnectError", w)).toBe("caught WsConnectError")
    } finally {
      await ws.close()
    }
  })

  it("PolicyParseError: line, column, reason and the `source:line:column: reason` message as before, catchable by tag", () => {
    const e = caught(() => Policy.parse(`permit(principal, action, resource);\n\npermit(principal, action,\n  resource) when { context.x === 1 };`, "bad.cedar"))
    expect(e).toBeInstanceOf(PolicyParseError)
    expect(e).toBeInstanceOf(Error)
    const p = e as PolicyParseError
    expect(p._tag).toBe("PolicyParseError")
    expect(p.source).toBe("bad.cedar")
    expect(p.line).toBe(4)
    expect(typeof p.column).toBe("number")
    expect(p.message).toBe(`bad.cedar:4:${p.column}: ${p.reason}`)
    expect(byTag("PolicyParseError", p)).toBe("caught PolicyParseError")
    // Without a place, the message is `source: reason`.
    const y = caught(() => Policy.parse(`rules: [\n`, "broken.yaml")) as PolicyParseError
    expect(y._tag).toBe("PolicyParseError")
    expect(y.message.startsWith("broken.yaml")).toBe(true)
  })

  it("ReplayError: a record that is not one is refused with it, message as before, catchable by tag", () => {
    const e = caught(() => parseRecord("{not json"))
    expect(e).toBeInstanceOf(ReplayError)
    expect(e).toBeInstanceOf(Error)
    const r = e as ReplayError
    expect(r._tag).toBe("ReplayError")
    expect(r.message).toMatch(/^not JSON: /)
    expect(byTag("ReplayError", r)).toBe("caught ReplayError")
    const notARecord = caught(() => parseRecord({ format: "nothing" })) as ReplayError
    expect(notARecord._tag).toBe("ReplayError")
    expect(notARecord.message).toMatch(/not an mcp-actors record/)
  })

  it("McpError: the positional constructor handlers use is kept; tagged, yieldable, and a handler's throw still reaches the peer with its code and data", async () => {
    const e = new McpError(ErrorCode.InvalidParams, "bad input", { field: "x" })
    expect(e).toBeInstanceOf(McpError)
    expect(e).toBeInstanceOf(Error)
    expect(e._tag).toBe("McpError")
    expect(e.name).toBe("McpError")
    expect([e.code, e.message, e.data]).toEqual([-32602, "bad input", { field: "x" }])
    expect(e.toRpcError()).toEqual({ code: -32602, message: "bad input", data: { field: "x" } })
    expect(new McpError(-32601, "no data").toRpcError()).toEqual({ code: -32601, message: "no data" })
    expect(byTag("McpError", e)).toBe("caught McpError")
    // Yieldable in an Effect handler: `return yield* new McpError(…)` fails with it.
    const failed = Effect.runSync(Effect.gen(function*() {
      return yield* new McpError(ErrorCode.ResourceNotFound, "gone")
    }).pipe(Effect.catchTag("McpError", (x) => Effect.succeed(x.code))))
    expect(failed).toBe(-32002)
    // Thrown by a handler, over a real session: the peer gets the code, message and data.
    const server = new McpServer({ name: "s", version: "1" }).tool({ name: "refuse", inputSchema: { type: "object" } }, () => {
      throw new McpError(-32004, "slow down", { retryAfterMs: 5 })
    })
    const [st, ct] = makeMemoryTransportPair()
    serveTransport(server, st)
    const client = await ClientSession.connect(ct)
    const got = await client.callTool("refuse", {}).catch((x: unknown) => x)
    expect(got).toMatchObject({ code: -32004, message: "slow down", data: { retryAfterMs: 5 } })
    await client.close()
  })
})
