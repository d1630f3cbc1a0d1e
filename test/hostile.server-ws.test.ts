/**
 * Hostile WebSocket servers against our client (issue s23): a real `ws` server on
 * 127.0.0.1 (`support/hostileWsServer.ts`) whose answer to `tools/call` misbehaves per
 * mode. What must hold: a typed error for the affected call (or the session, when the
 * socket goes), no crash.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Client } from "../src/client/Client.ts"
import { connectWs, type WsConnectOptions } from "../src/client/connectWs.ts"
import { ConnectionLost, RpcError } from "../src/protocol/requestErrors.ts"
import { resourceCounts, settleToBaseline } from "./support/handles.ts"
import { type HostileWsServer, startHostileWsServer } from "./support/hostileWsServer.ts"

const NEVER = 600_000
let baseline: Record<string, number> = {}
let server: HostileWsServer
beforeAll(async () => {
  server = await startHostileWsServer()
  // What a hostile session may not leave behind once closed: sockets, timers.
  baseline = resourceCounts()
})
afterAll(() => server.close())

const connect = (mode: string, options: WsConnectOptions = {}): Promise<Client> =>
  connectWs(server.url(mode), { requestTimeoutMs: NEVER, initializeTimeoutMs: NEVER, ...options } as WsConnectOptions)

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ text?: string }>).map((c) => c.text ?? "").join("")
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

describe("hostile servers over WebSocket: our client", { timeout: 20_000 }, () => {
  it("frames that are not JSON, 100 000 '[', a batch, a 5 MB frame, stray ids, prototype-named notifications: ignored, the answer taken", async () => {
    const client = await connect("garbage")
    try {
      expect(textOf(await client.callTool("echo", {}))).toBe("echo")
      expect(textOf(await client.callTool("echo", {}))).toBe("echo")
    } finally {
      await client.close()
    }
  })

  it("a binary frame: the socket is closed 1003 and the call fails with ConnectionLost", async () => {
    const client = await connect("binary")
    try {
      const error = await failure(client.callTool("echo", {}))
      expect(error).toBeInstanceOf(ConnectionLost)
      expect((error as Error).message).toBe("tools/call: connection lost (socket closed (1003 MCP over WebSocket uses text frames))")
    } finally {
      await client.close()
    }
  })

  it("the server closes mid-call: ConnectionLost with its close code", async () => {
    const client = await connect("close-mid-call")
    try {
      const error = await failure(client.callTool("echo", {}))
      expect(error).toBeInstanceOf(ConnectionLost)
      expect((error as Error).message).toBe("tools/call: connection lost (socket closed (1011 boom))")
    } finally {
      await client.close()
    }
  })

  it("a response over maxMessageBytes fails its call at once (its id read from the frame's start), the session goes on", async () => {
    const client = await connect("oversized-response")
    try {
      // It was: dropped unread, and the call waited out its deadline.
      const error = await failure(client.callTool("echo", {}))
      expect(error).toBeInstanceOf(RpcError)
      expect((error as Error).message).toMatch(/^invalid response from the server: \d+ bytes, over the client's maxMessageBytes$/)
      expect((await client.listTools()).tools).toEqual([{ name: "echo", inputSchema: { type: "object" } }])
    } finally {
      await client.close()
    }
  })

  it("after all of the above: every socket and timer of the closed clients is released", async () => {
    expect(await settleToBaseline(baseline)).toEqual([])
  })
})
