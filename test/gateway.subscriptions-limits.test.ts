/**
 * Policy and limits on resource subscriptions through the host's gateway (the official SDK client
 * over Streamable HTTP for the legacy era, our modern client for `subscriptions/listen`), against
 * our own McpServer over WebSocket whose `resourceSubscriptions` hook records what reaches it:
 * - the policy guard decides a `resources/subscribe` as a read of its URI: a URI the policy denies
 *   (or that no rule permits) is -32003 and never reaches the upstream, hostile URIs included;
 *   `resources/unsubscribe` is never refused; a modern listen is acknowledged only for what the
 *   caller may read;
 * - a per-session cap (`maxSubscriptionsPerSession`): over it -32014 with `data.limit`, also for a
 *   burst of subscribes sent before any is answered; subscribing again to a held URI is not a new
 *   one; a modern listen is acknowledged for the first URIs up to the cap.
 * Also one McpServer alone (no hook, no guard): the cap holds there too.
 * Waits are on the upstream hook's calls.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ClientSession } from "../src/client/ClientSession.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import type { ModernClient } from "../src/client/ModernClient.ts"
import { type Gateway, type GatewayHttpHandle, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

/** Everyone may read mem:// but not the secret (a deny rule); anything else: no rule permits it. */
const POLICY = `
default: deny
rules:
  - { id: mem-read, server: up, resource: "mem://*", effect: allow }
  - { id: secret-deny, server: up, resource: "mem://secret", effect: deny }
`

describe("gateway: policy and limits on resource subscriptions", { timeout: 30_000, shuffle: false }, () => {
  const upstream = new McpServer({ name: "up", version: "1.0.0" })
    .resource({ uri: "mem://a", name: "a" }, (uri) => ({ contents: [{ uri, text: "a" }] }))
    .resource({ uri: "mem://secret", name: "secret" }, (uri) => ({ contents: [{ uri, text: "s3cret" }] }))
    .resourceTemplate({ uriTemplate: "mem://t/{id}", name: "t" }, (uri) => ({ contents: [{ uri, text: "t" }] }))
  /** What the upstream received, in order (`subscribe URI`, `unsubscribe URI`). */
  const calls: Array<string> = []
  const waiters: Array<() => void> = []
  const received = (entry: string): Promise<void> =>
    new Promise((resolve) => {
      const check = () => calls.includes(entry)
      if (check()) return resolve()
      const w = () => check() && (waiters.splice(waiters.indexOf(w), 1), resolve())
      waiters.push(w)
    })
  /** While set, the upstream answers a subscribe only once it resolves. */
  let hold: Promise<void> | undefined
  upstream.resourceSubscriptions = {
    subscribe: async (uri) => {
      calls.push(`subscribe ${uri}`)
      for (const w of [...waiters]) w()
      if (hold !== undefined) await hold
    },
    unsubscribe: (uri) => {
      calls.push(`unsubscribe ${uri}`)
      for (const w of [...waiters]) w()
    }
  }

  let ws: WsServerHandle
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  const clients: Array<Client> = []
  const connect = async (): Promise<Client> => {
    const client = new Client({ name: "sdk-limits", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    clients.push(client)
    return client
  }
  const codeOf = (p: Promise<unknown>): Promise<number | "ok"> => p.then(() => "ok" as const, (e: { code: number }) => e.code)

  beforeAll(async () => {
    ws = await makeWsServer(upstream, { port: 0 })
    host = await startHost({ mcpServers: { up: { url: ws.url, protocol: "legacy" } } }, { stateFile: false, coalesceMs: 10 })
    const engine = new PolicyEngine(Policy.parse(POLICY, "limits.yaml"))
    gateway = makeGateway(host, {
      guard: (server, route) => policyGuard({ engine, server: server ?? "host", ...(route === undefined ? {} : { route }) }),
      maxSubscriptionsPerSession: 3
    })
    http = await serveGatewayHttp(gateway, { port: 0 })
  })

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await http?.close()
    gateway?.close()
    await host?.close()
    await ws?.close()
  })

  it("a URI the policy denies, or that no rule permits, cannot be subscribed (-32003, never upstream), hostile URIs included; unsubscribe is never refused", async () => {
    calls.length = 0
    const client = await connect()
    expect(await codeOf(client.subscribeResource({ uri: "mem://a" }))).toBe("ok")
    await expect(client.subscribeResource({ uri: "mem://secret" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["secret-deny"] } })
    // The same URI is not readable either: one decision for both.
    await expect(client.readResource({ uri: "mem://secret" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    const hostile = ["__proto__", "constructor", "toString", "", "file:///etc/passwd", "javascript:alert(1)", `x://${"a".repeat(10_000)}`, "mem\u0000://a"]
    for (const uri of hostile) expect([uri.slice(0, 20), await codeOf(client.subscribeResource({ uri }))]).toEqual([uri.slice(0, 20), ErrorCode.PolicyDenied])
    // Served by nobody: no rule names it for its (fallback) server, so the guard refuses it before any
    // routing, as a read: a denied caller learns nothing about what exists.
    expect(await codeOf(client.subscribeResource({ uri: "mem://nobody/serves" }))).toBe(ErrorCode.PolicyDenied)
    expect(await codeOf(client.unsubscribeResource({ uri: "mem://secret" }))).toBe("ok")
    expect(await codeOf(client.unsubscribeResource({ uri: "__proto__" }))).toBe("ok")
    expect(await codeOf(client.unsubscribeResource({ uri: "mem://a" }))).toBe("ok")
    await received("unsubscribe mem://a")
    expect(calls).toEqual(["subscribe mem://a", "unsubscribe mem://a"])
    expect(gateway.subscriptionCount()).toBe(0)
  })

  it("the per-session cap: over it -32014 with data.limit; a held URI again is not a new one; another session has its own; unsubscribing makes room", async () => {
    calls.length = 0
    const one = await connect()
    for (const id of [1, 2, 3]) expect(await codeOf(one.subscribeResource({ uri: `mem://t/${id}` }))).toBe("ok")
    await expect(one.subscribeResource({ uri: "mem://t/4" })).rejects.toMatchObject({ code: ErrorCode.TooManySubscriptions, data: { limit: 3 } })
    expect(await codeOf(one.subscribeResource({ uri: "mem://t/1" }))).toBe("ok")
    const two = await connect()
    expect(await codeOf(two.subscribeResource({ uri: "mem://t/4" }))).toBe("ok")
    expect(await codeOf(one.unsubscribeResource({ uri: "mem://t/1" }))).toBe("ok")
    expect(await codeOf(one.subscribeResource({ uri: "mem://t/5" }))).toBe("ok")
    expect(calls.filter((c) => c.startsWith("subscribe")).sort()).toEqual(["subscribe mem://t/1", "subscribe mem://t/2", "subscribe mem://t/3", "subscribe mem://t/4", "subscribe mem://t/5"])
    expect(gateway.subscriptionCount()).toBe(4)
    for (const id of [2, 3, 5]) await one.unsubscribeResource({ uri: `mem://t/${id}` })
    await two.unsubscribeResource({ uri: "mem://t/4" })
    expect(gateway.subscriptionCount()).toBe(0)
    expect(host.resourceSubscriptions()).toEqual([])
  })

  it("a burst of subscribes sent before any is answered cannot pass the cap: those under way count", async () => {
    calls.length = 0
    let release!: () => void
    hold = new Promise((resolve) => (release = resolve))
    const client = await connect()
    const answers = [10, 11, 12, 13, 14].map((id) => codeOf(client.subscribeResource({ uri: `mem://t/${id}` })))
    // Two are refused at once while three wait upstream.
    const refused = await Promise.race([Promise.all([answers[3]!, answers[4]!]), received("subscribe mem://t/13").then(() => "a fourth reached the upstream")])
    expect(refused).toEqual([ErrorCode.TooManySubscriptions, ErrorCode.TooManySubscriptions])
    await received("subscribe mem://t/12")
    hold = undefined
    release()
    expect(await Promise.all(answers)).toEqual(["ok", "ok", "ok", ErrorCode.TooManySubscriptions, ErrorCode.TooManySubscriptions])
    expect(calls.filter((c) => c.startsWith("subscribe")).length).toBe(3)
    for (const id of [10, 11, 12]) await client.unsubscribeResource({ uri: `mem://t/${id}` })
    expect(host.resourceSubscriptions()).toEqual([])
  })

  it("a modern listen is acknowledged only for URIs the caller may read, and for the first ones up to the cap", async () => {
    calls.length = 0
    const modern = await connectHttp(http.url, { era: "modern" })
    try {
      const listen = (modern.client as ModernClient).listen({ resourceSubscriptions: ["mem://secret", "__proto__", "mem://a", "mem://t/20", "mem://t/21", "mem://t/22"] }, { onNotification: () => {} })
      expect(await listen.acknowledged).toEqual({ resourceSubscriptions: ["mem://a", "mem://t/20", "mem://t/21"] })
      await received("subscribe mem://t/21")
      expect(calls.filter((c) => c.startsWith("subscribe")).sort()).toEqual(["subscribe mem://a", "subscribe mem://t/20", "subscribe mem://t/21"])
      listen.close()
      await received("unsubscribe mem://t/21")
    } finally {
      await modern.close()
    }
  })
})

describe("McpServer alone: the per-session cap without a hook", () => {
  it("maxSubscriptionsPerSession: over it -32014 with data.limit; a held URI again and an unsubscribe are fine; the default is 1 000", async () => {
    const server = new McpServer({ name: "alone", version: "1.0.0", maxSubscriptionsPerSession: 2, capabilities: { resources: { subscribe: true } } })
      .resourceTemplate({ uriTemplate: "mem://t/{id}", name: "t" }, (uri) => ({ contents: [{ uri, text: "t" }] }))
    expect(new McpServer({ name: "d", version: "1" }).maxSubscriptionsPerSession).toBe(1_000)
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const served = serveTransport(server, serverSide)
    const session = await ClientSession.connect(clientSide)
    try {
      await session.subscribeResource("mem://t/1")
      await session.subscribeResource("mem://t/2")
      await session.subscribeResource("mem://t/1")
      await expect(session.subscribeResource("mem://t/3")).rejects.toMatchObject({ code: ErrorCode.TooManySubscriptions, data: { limit: 2 } })
      await session.unsubscribeResource("mem://t/2")
      await session.subscribeResource("mem://t/3")
      await expect(session.subscribeResource(`mem://t/${"x".repeat(100_000)}`)).rejects.toMatchObject({ code: ErrorCode.TooManySubscriptions })
    } finally {
      await session.close()
      await served.ended
    }
  })
})
