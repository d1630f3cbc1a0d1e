/**
 * `ModernClient` sends a request's text built from cached parts when its transport takes text
 * (`Transport.sendText`: stdio, WebSocket): the `_meta` every request of the client carries is
 * serialized once per version / log level / input capabilities, not per request. These tests prove the
 * text is byte for byte what the object path (`send(message)`, serialized by the transport) makes of
 * the same request, for every shape of params and options, and that what the fast path cannot build
 * (a caller's own `_meta`, extra `_meta` entries, a class instance) takes the object path.
 */
import { afterEach, describe, expect, it } from "vitest"
import { encode, type JsonRpcMessage, type Params } from "../src/protocol/jsonrpc.ts"
import type { ClientCapabilities } from "../src/protocol/capabilities.ts"
import { ModernClient, type ModernRequestOptions } from "../src/client/ModernClient.ts"
import type { Transport, TransportHandlers } from "../src/transports/Transport.ts"

/** A transport that records each line it would write: `send`'s serialization, or `sendText`'s text (when it takes text). */
const recorder = (takesText: boolean) => {
  const lines: Array<{ readonly via: "send" | "sendText"; readonly line: string }> = []
  let handlers: TransportHandlers | undefined
  const transport: Transport = {
    kind: "memory",
    authoritativeLiveness: true,
    start: (h) => void (handlers = h),
    send: (m: JsonRpcMessage) => void lines.push({ via: "send", line: encode(m) }),
    ...(takesText ? { sendText: (text: string) => void lines.push({ via: "sendText", line: text }) } : {}),
    close: () => {
      handlers?.onClose({ expected: true, reason: "closed" })
      return Promise.resolve()
    }
  }
  return { transport, lines }
}

const clients: Array<ModernClient> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close({ drainMs: 0 })
})

const narrow: ClientCapabilities = { roots: {}, elicitation: { form: {}, url: {} } }
class Box {
  readonly value: number
  constructor(value: number) {
    this.value = value
  }
}

/** Requests of every shape: [method, params, options]. */
const requests: ReadonlyArray<readonly [string, Params | undefined, ModernRequestOptions]> = [
  ["tools/list", undefined, {}],
  ["tools/call", { name: "echo", arguments: { text: "hi \"there\" \u2028 ✓" } }, {}],
  ["tools/call", { name: "slow", arguments: { ms: 1 } }, { onProgress: () => {}, logLevel: "debug", inputCapabilities: narrow }],
  ["tools/call", { name: "slow", arguments: { ms: 1 } }, { onProgress: () => {}, logLevel: "debug", inputCapabilities: narrow }],
  ["tools/call", { name: "x", arguments: {}, skipped: undefined }, { resetTimeoutOnProgress: true }],
  ["resources/read", {}, { logLevel: "warning" }],
  ["prompts/get", { name: "p", arguments: { a: "1" } }, { inputCapabilities: {} }],
  // The object path: a caller's own `_meta`, extra `_meta` entries, a params object that is not plain.
  ["tools/call", { name: "m", arguments: {}, _meta: { traceparent: "00-abc-def-01" } }, {}],
  ["tools/call", { name: "m", arguments: {} }, { meta: { "io.example/extra": 1 } }],
  ["tools/call", new Box(3) as unknown as Params, {}]
]

const sendAll = (client: ModernClient) => {
  for (const [method, params, options] of requests) client.request(method, params, options).catch(() => {})
}

describe("ModernClient: a request's text from cached parts", () => {
  it("is byte for byte the object path's serialization, request by request; only what it cannot build takes the object path", async () => {
    const withText = recorder(true)
    const without = recorder(false)
    const a = ModernClient.create(withText.transport, { idPrefix: "m", logLevel: "info", capabilities: { sampling: {} } })
    const b = ModernClient.create(without.transport, { idPrefix: "m", logLevel: "info", capabilities: { sampling: {} } })
    clients.push(a, b)
    sendAll(a)
    sendAll(b)
    expect(without.lines.every((l) => l.via === "send")).toBe(true)
    expect(withText.lines.map((l) => l.line)).toEqual(without.lines.map((l) => l.line))
    // The fast path for every plain request, the object path for the last three.
    expect(withText.lines.map((l) => l.via)).toEqual([...Array(requests.length - 3).fill("sendText"), "send", "send", "send"])
    // And the text is the request: the protocol's `_meta` with this request's token.
    expect(JSON.parse(withText.lines[2]!.line)).toEqual({
      jsonrpc: "2.0",
      id: "m3",
      method: "tools/call",
      params: {
        name: "slow",
        arguments: { ms: 1 },
        _meta: {
          "io.modelcontextprotocol/protocolVersion": expect.any(String),
          "io.modelcontextprotocol/clientCapabilities": expect.any(Object),
          "io.modelcontextprotocol/clientInfo": expect.any(Object),
          "io.modelcontextprotocol/logLevel": "debug",
          progressToken: "m3"
        }
      }
    })
  })

  it("numeric ids (no prefix) and a client without a log level give the same bytes too", async () => {
    const withText = recorder(true)
    const without = recorder(false)
    const a = ModernClient.create(withText.transport, {})
    const b = ModernClient.create(without.transport, {})
    clients.push(a, b)
    sendAll(a)
    sendAll(b)
    expect(withText.lines.map((l) => l.line)).toEqual(without.lines.map((l) => l.line))
    expect(JSON.parse(withText.lines[0]!.line).id).toBe(1)
  })
})
