/**
 * The HTTP client re-sends a `notifications/initialized` lost on the way
 * (machines/httpExchange.ts `canRepostInitialized`, commit 8c8c205), over a real
 * socket: a raw node:http server destroys the socket of the first
 * `notifications/initialized` POST (the client sees "socket hang up"). The client
 * POSTs it again after the reconnect backoff, and the call waiting behind the
 * init gate then succeeds — the server refuses any request of a session it has no
 * `initialized` for, as a real server does. A server that drops it every time ends
 * the connection after `maxAttempts` re-sends, with the reason.
 *
 * The backoff is the client's own timer: on a simulated clock, moved only once the
 * client has armed it (an event, not a poll); the drops are real socket events.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import type { Clock } from "../src/protocol/clock.ts"
import { listenHttp } from "../src/transports/http/listenHttp.ts"
import { countingClock } from "./support/countingClock.ts"
import { settled } from "./support/httpPeers.ts"

/** The reconnect backoff of these tests: a delay no other timer of the client uses. */
const BACKOFF_MS = 777
const reconnect = { initialDelayMs: BACKOFF_MS, maxDelayMs: BACKOFF_MS, factor: 1, maxAttempts: 2 }

/** A simulated clock that reports each arming of the backoff timer: `armed()` resolves at the next one not yet taken. */
const backoffClock = () => {
  const sim = countingClock()
  let arms = 0
  let taken = 0
  let wake: (() => void) | undefined
  const clock: Clock = {
    now: sim.clock.now,
    clearTimeout: sim.clock.clearTimeout,
    setTimeout: (fn, ms) => {
      const h = sim.clock.setTimeout(fn, ms)
      if (ms === BACKOFF_MS) {
        arms++
        wake?.()
      }
      return h
    }
  }
  const armed = async (): Promise<void> => {
    while (arms <= taken) await new Promise<void>((resolve) => (wake = resolve))
    taken++
  }
  return { clock, armed, increment: sim.increment, get arms() { return arms } }
}

interface Seen { readonly method: string | undefined; readonly outcome: "answered" | "dropped" }

/** A raw MCP endpoint that drops the socket of the first `drops` `notifications/initialized` POSTs. */
const droppingServer = async (drops: number) => {
  const seen: Array<Seen> = []
  const initialized = new Set<string>()
  let dropped = 0
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(JSON.stringify(body))
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const rpc = text === "" ? undefined : (JSON.parse(text) as { id?: number | string; method?: string; params?: { name?: string } })
      const sid = req.headers["mcp-session-id"] as string | undefined
      if (req.method === "GET") {
        res.writeHead(405)
        return res.end()
      }
      if (req.method === "DELETE") {
        res.writeHead(200)
        return res.end()
      }
      if (rpc?.method === "notifications/initialized" && dropped < drops) {
        dropped++
        seen.push({ method: rpc.method, outcome: "dropped" })
        return req.socket.destroy() // the client has sent it; no answer ever comes
      }
      seen.push({ method: rpc?.method, outcome: "answered" })
      if (rpc?.method === "initialize") {
        return json(res, 200, {
          jsonrpc: "2.0",
          id: rpc.id,
          result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "dropping", version: "1" } }
        }, { "mcp-session-id": "s-1" })
      }
      if (rpc?.method === "notifications/initialized") {
        if (sid !== undefined) initialized.add(sid)
        res.writeHead(202)
        return res.end()
      }
      if (rpc?.id === undefined) {
        res.writeHead(202)
        return res.end()
      }
      // As a real server: nothing but ping before the session's notifications/initialized.
      if (sid === undefined || !initialized.has(sid)) {
        return json(res, 400, { jsonrpc: "2.0", id: rpc.id, error: { code: -32600, message: "Invalid Request: sent before notifications/initialized" } })
      }
      return json(res, 200, { jsonrpc: "2.0", id: rpc.id, result: { content: [{ type: "text", text: `echo ${rpc.params?.name}` }] } })
    })
  })
  const { port, urlHost } = await listenHttp(server, 0, "127.0.0.1")
  return {
    url: `http://${urlHost}:${port}/mcp`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

describe("HTTP client: a lost notifications/initialized is sent again (real socket)", { timeout: 60_000 }, () => {
  it("the first one's socket is destroyed: the client re-sends it after the backoff, and the call waiting behind the gate succeeds", async () => {
    const server = await droppingServer(1)
    const baseline = process.getActiveResourcesInfo()
    const time = backoffClock()
    const client = await connectHttp(server.url, { clock: time.clock, reconnect })
    const call = client.callTool("hello")
    // The drop reached the client: its re-send waits for the backoff (without the re-send, the call
    // leaves the gate at once and the server refuses it: that outcome wins the race and fails here).
    const first = await Promise.race([time.armed().then(() => "backoff armed"), call.then(() => "call answered", (e: unknown) => `call failed: ${String(e)}`)])
    expect(first).toBe("backoff armed")
    expect(server.seen.filter((s) => s.method === "tools/call")).toEqual([]) // the gate holds the call meanwhile
    time.increment(BACKOFF_MS)
    const result = await call
    expect((result.content as ReadonlyArray<{ text: string }>)[0]!.text).toBe("echo hello")
    expect(server.seen.map((s) => `${s.method} ${s.outcome}`)).toEqual([
      "initialize answered",
      "notifications/initialized dropped",
      "notifications/initialized answered",
      "tools/call answered"
    ])
    expect(time.arms).toBe(1)
    await client.close()
    await settled(baseline)
    await server.close()
  })

  it("dropped every time: after maxAttempts re-sends the connection has failed, with the reason; the waiting call fails too", async () => {
    const server = await droppingServer(Number.POSITIVE_INFINITY)
    const baseline = process.getActiveResourcesInfo()
    const time = backoffClock()
    const client = await connectHttp(server.url, { clock: time.clock, reconnect })
    const call = client.callTool("hello").then(() => "answered", (e: unknown) => e)
    for (let i = 0; i < reconnect.maxAttempts; i++) {
      const next = await Promise.race([
        time.armed().then(() => "backoff armed"),
        client.ended.then((e) => `ended: ${e.reason}`),
        call.then((v) => `call settled first: ${String(v)}`)
      ])
      expect(next).toBe("backoff armed")
      time.increment(BACKOFF_MS)
    }
    const end = await client.ended
    expect(end.expected).toBe(false)
    expect(end.reason).toMatch(/notifications\/initialized was not delivered \(3 attempts\)/)
    const failed = await call
    expect(failed).toBeInstanceOf(Error)
    expect(String(failed)).toMatch(/notifications\/initialized was not delivered/)
    expect(server.seen.map((s) => `${s.method} ${s.outcome}`)).toEqual([
      "initialize answered",
      "notifications/initialized dropped",
      "notifications/initialized dropped",
      "notifications/initialized dropped"
    ]) // 1 + maxAttempts POSTs, and no tools/call ever left the gate
    expect(time.arms).toBe(reconnect.maxAttempts)
    await client.close()
    await settled(baseline)
    await server.close()
  })
})
