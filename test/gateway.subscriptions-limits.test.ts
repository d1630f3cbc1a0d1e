/**
 * Policy and limits on resource subscriptions through the host's gateway (the official SDK client
 * over Streamable HTTP for the legacy era, our modern client for `subscriptions/listen`), against
 * our own McpServer over WebSocket whose `resourceSubscriptions` hook records what reaches it:
 * - the policy guard decides a `resources/subscribe` as a read of its URI: a URI the policy denies
 *   (or that no rule permits) is -32003 and never reaches the upstream, hostile URIs included;
 *   `resources/unsubscribe` is never refused; a modern listen's URIs pass the same decision one by
 *   one (rate limits and approvals too, audited as `subscriptions/listen`): a refused URI is left out
 *   of the acknowledgement, whose `_meta` says why with the legacy subscribe's error (our modern
 *   client's `refused`);
 * - a per-session cap (`maxSubscriptionsPerSession`): over it -32014 with `data.limit`, also for a
 *   burst of subscribes sent before any is answered; subscribing again to a held URI is not a new
 *   one; a modern listen is acknowledged for the first URIs up to the cap.
 * Also one McpServer alone (no hook, no guard): the cap holds there too; and one with the client
 * approver: a listen's URI needing approval is refused (a listen cannot ask its client).
 * Waits are on the upstream hook's calls.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ClientSession } from "../src/client/ClientSession.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import type { ModernClient } from "../src/client/ModernClient.ts"
import type { Gateway, GatewayHttpHandle } from "../src/host/gateway.ts"
import type { McpHost } from "../src/host/McpHost.ts"
import type { ApprovalAnswer, PendingApproval } from "../src/policy/ApprovalStore.ts"
import { ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { Approvals } from "../src/policy/Approvals.ts"
import { AuditLog } from "../src/policy/AuditLog.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import { ACKNOWLEDGED_METHOD, META_REFUSED_SUBSCRIPTIONS } from "../src/protocol/subscriptions.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { post, SseReader } from "./support/mcpHttp.ts"
import { type GatewayOverWs, gatewayOverWs } from "./support/gatewayOverWs.ts"

/**
 * Everyone may read mem:// but not the secret (a deny rule); anything else: no rule permits it.
 * mem://t/ask-* needs an approval; mem://t/rl is read (or watched) once an hour.
 */
const POLICY = `
default: deny
rules:
  - { id: mem-read, server: up, resource: "mem://*", effect: allow }
  - { id: secret-deny, server: up, resource: "mem://secret", effect: deny }
  - { id: ask-watch, server: up, resource: "mem://t/ask-*", effect: approve }
rateLimits:
  - { id: rl-watch, resource: "mem://t/rl", limit: 1, window: 1h, per: identity }
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

  let bench: GatewayOverWs
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  let approvals: Approvals
  const dir = mkdtempSync(join(tmpdir(), "subs-limits-"))
  const auditFile = join(dir, "audit.jsonl")
  let audit: AuditLog
  /** The approver's questions, each answered when the test says. */
  const asked: Array<{ readonly pending: PendingApproval; readonly answer: (a: ApprovalAnswer) => void; readonly signal: AbortSignal }> = []
  const questions: Array<() => void> = []
  const auditWaiters: Array<(record: Record<string, unknown>) => void> = []
  /** Resolves once a record matching `test` is appended. */
  const audited = (test: (record: Record<string, unknown>) => boolean): Promise<void> =>
    new Promise((resolve) => {
      const w = (r: Record<string, unknown>) => test(r) && (auditWaiters.splice(auditWaiters.indexOf(w), 1), resolve())
      auditWaiters.push(w)
    })
  const nextQuestion = (): Promise<void> => new Promise((resolve) => (asked.length > 0 ? resolve() : questions.push(resolve)))
  const clients: Array<Client> = []
  const connect = async (): Promise<Client> => {
    const client = new Client({ name: "sdk-limits", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    clients.push(client)
    return client
  }
  const codeOf = (p: Promise<unknown>): Promise<number | "ok"> => p.then(() => "ok" as const, (e: { code: number }) => e.code)

  beforeAll(async () => {
    const engine = new PolicyEngine(Policy.parse(POLICY, "limits.yaml"))
    approvals = new Approvals({ store: ApprovalStore.open(), keepAliveMs: 0 })
    audit = AuditLog.open(auditFile)
    // Each record is an event a test can wait for.
    const append = audit.append.bind(audit)
    audit.append = (fields) => {
      const out = append(fields)
      for (const w of [...auditWaiters]) w(fields as unknown as Record<string, unknown>)
      return out
    }
    const approver = {
      name: "tester",
      ask: (pending: PendingApproval, signal: AbortSignal) =>
        new Promise<ApprovalAnswer>((answer) => {
          asked.push({ pending, answer, signal })
          for (const q of questions.splice(0)) q()
        })
    }
    bench = await gatewayOverWs(upstream, {
      coalesceMs: 10,
      gateway: () => ({
        guard: (server, route) => policyGuard({ engine, server: server ?? "host", audit, approvals, approver, ...(route === undefined ? {} : { route }) }),
        maxSubscriptionsPerSession: 3
      })
    })
    ;({ host, gateway, http } = bench)
  })

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await bench?.close()
    approvals?.close()
    audit?.close()
    rmSync(dir, { recursive: true, force: true })
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

  /** A raw modern listen on the aggregate: its acknowledgement (the first message) and how to end it. */
  const rawListen = (id: number, uris: ReadonlyArray<string>) => {
    const abort = new AbortController()
    // The response starts with the acknowledgement: not awaited here (an approval may hold it).
    const reader = post(http.url, {
      jsonrpc: "2.0",
      id,
      method: "subscriptions/listen",
      params: { notifications: { resourceSubscriptions: uris }, _meta: { [META_PROTOCOL_VERSION]: "2026-07-28", [META_CLIENT_CAPABILITIES]: {} } }
    }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" }, abort.signal).then((res) => new SseReader(res))
    const acknowledged = reader.then((r) => r.nextMessage()).then((m) => {
      expect(m?.message.method).toBe(ACKNOWLEDGED_METHOD)
      return m!.message.params as { notifications: { resourceSubscriptions: Array<string> }; _meta: Record<string, unknown> }
    })
    acknowledged.catch(() => {}) // awaited by the test; a close before it must not be unhandled
    return {
      acknowledged,
      close: async () => {
        abort.abort()
        await reader.then((r) => r.cancel(), () => {})
      }
    }
  }
  const auditRecords = () => (audit.flush(), readFileSync(auditFile, "utf8")).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>)

  it("a modern listen gets the legacy subscribe's decision: a URI over its rate limit or denied is left out, its error in the acknowledgement's _meta", async () => {
    calls.length = 0
    const legacy = await connect()
    // The legacy subscribe takes the hour's one token for mem://t/rl.
    expect(await codeOf(legacy.subscribeResource({ uri: "mem://t/rl" }))).toBe("ok")
    const listen = rawListen(31, ["mem://t/rl", "mem://secret", "mem://a"])
    try {
      const ack = await listen.acknowledged
      expect(ack.notifications).toEqual({ resourceSubscriptions: ["mem://a"] })
      expect(ack._meta[META_REFUSED_SUBSCRIPTIONS]).toEqual([
        { uris: ["mem://t/rl"], error: { code: ErrorCode.RateLimited, message: expect.stringContaining("rl-watch"), data: expect.objectContaining({ policies: ["rl-watch"], retryAfterMs: expect.any(Number) }) } },
        { uris: ["mem://secret"], error: { code: ErrorCode.PolicyDenied, message: expect.stringContaining("secret-deny"), data: { policies: ["secret-deny"] } } }
      ])
      await received("subscribe mem://a")
      expect(calls.filter((c) => c.startsWith("subscribe"))).toEqual(["subscribe mem://t/rl", "subscribe mem://a"])
      // Audited under the listen's own method, as decisions of a read.
      const listenDecisions = auditRecords().filter((r) => r.type === "decision" && r.method === "subscriptions/listen").map((r) => [r.name, r.decision])
      expect(listenDecisions).toEqual([["mem://t/rl", "rateLimited"], ["mem://secret", "deny"], ["mem://a", "allow"]])
      expect(auditRecords().find((r) => r.type === "call" && r.method === "subscriptions/listen" && r.name === "mem://a")).toMatchObject({ outcome: "ok" })
    } finally {
      await listen.close()
      await legacy.unsubscribeResource({ uri: "mem://t/rl" })
    }
    await received("unsubscribe mem://a")
  })

  it("a URI needing approval holds the acknowledgement until the approver answers: approved is acknowledged, rejected is -32003 in _meta", async () => {
    calls.length = 0
    asked.length = 0
    const listen = rawListen(32, ["mem://t/ask-yes", "mem://t/ask-no", "mem://a"])
    try {
      let acked = false
      void listen.acknowledged.then(() => (acked = true))
      for (let n = 0; n < 2; n++) {
        if (asked.length <= n) await nextQuestion()
      }
      expect(asked.map((q) => [q.pending.method, q.pending.target]).sort()).toEqual([["subscriptions/listen", "mem://t/ask-no"], ["subscriptions/listen", "mem://t/ask-yes"]])
      expect(acked).toBe(false)
      expect(calls).toEqual([]) // nothing reached the upstream before the decision
      for (const q of asked) q.answer(q.pending.target === "mem://t/ask-yes" ? { approved: true, by: "tester" } : { approved: false, by: "tester", reason: "not this one" })
      const ack = await listen.acknowledged
      expect(ack.notifications).toEqual({ resourceSubscriptions: ["mem://t/ask-yes", "mem://a"] })
      expect(ack._meta[META_REFUSED_SUBSCRIPTIONS]).toEqual([
        { uris: ["mem://t/ask-no"], error: { code: ErrorCode.PolicyDenied, message: expect.stringContaining("not this one"), data: { policies: ["ask-watch"], approval: "rejected" } } }
      ])
      await received("subscribe mem://t/ask-yes")
    } finally {
      await listen.close()
    }
    await received("unsubscribe mem://t/ask-yes")
    expect(approvals.pending()).toEqual([])
  })

  it("a listen cancelled while its approval waits: the approval is cancelled, nothing is subscribed, the audit says so", async () => {
    calls.length = 0
    asked.length = 0
    const listen = rawListen(33, ["mem://t/ask-gone"])
    await nextQuestion()
    const question = asked[0]!
    const cancelled = new Promise((resolve) => question.signal.addEventListener("abort", resolve, { once: true }))
    const denied = audited((r) => r.name === "mem://t/ask-gone" && r.decision === "deny")
    await listen.close()
    await cancelled
    await denied
    expect(approvals.pending()).toEqual([])
    expect(calls).toEqual([])
    expect(gateway.subscriptionCount()).toBe(0)
    const records = auditRecords().filter((r) => r.method === "subscriptions/listen" && r.name === "mem://t/ask-gone")
    expect(records.map((r) => [r.type, r.decision])).toEqual([["decision", "approve"], ["decision", "deny"]])
    expect(records[1]).toMatchObject({ approval: { outcome: "cancelled" } })
  })

  it("a modern listen is acknowledged only for URIs the caller may read, and for the first ones up to the cap", async () => {
    calls.length = 0
    const modern = await connectHttp(http.url, { era: "modern" })
    try {
      const listen = (modern.client as ModernClient).listen({ resourceSubscriptions: ["mem://secret", "__proto__", "mem://a", "mem://t/20", "mem://t/21", "mem://t/22"] }, { onNotification: () => {} })
      expect(await listen.acknowledged).toEqual({ resourceSubscriptions: ["mem://a", "mem://t/20", "mem://t/21"] })
      // The client reads why the rest were left out (its `_meta`): the policy's -32003, the cap's -32014.
      expect(listen.refused.map((r) => [r.uris, r.error.code])).toEqual([
        [["mem://secret"], ErrorCode.PolicyDenied],
        [["__proto__"], ErrorCode.PolicyDenied],
        [["mem://t/22"], ErrorCode.TooManySubscriptions]
      ])
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

describe("McpServer alone: a modern listen under the client approver", () => {
  it("a URI needing approval is refused (-32003, approval rejected): a listen cannot ask its client, whose answer would come with no retry", async () => {
    const engine = new PolicyEngine(Policy.parse(`
default: deny
rules:
  - { id: read, resource: "mem://*", effect: allow }
  - { id: ask, resource: "mem://asked", effect: approve }
`, "client-approver.yaml"))
    const approvals = new Approvals({ store: ApprovalStore.open(), keepAliveMs: 0 })
    const server = new McpServer({ name: "alone", version: "1.0.0" })
      .resource({ uri: "mem://asked", name: "asked" }, (uri) => ({ contents: [{ uri, text: "x" }] }))
      .resource({ uri: "mem://free", name: "free" }, (uri) => ({ contents: [{ uri, text: "y" }] }))
    server.guard = policyGuard({ engine, server: "alone", approvals })
    const handle = await makeHttpServer(server, { port: 0 })
    const abort = new AbortController()
    try {
      const res = await post(handle.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "subscriptions/listen",
        // It declares elicitation: still nothing can be asked on a listen.
        params: { notifications: { resourceSubscriptions: ["mem://asked", "mem://free"] }, _meta: { [META_PROTOCOL_VERSION]: "2026-07-28", [META_CLIENT_CAPABILITIES]: { elicitation: {} } } }
      }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" }, abort.signal)
      const ack = (await new SseReader(res).nextMessage())?.message
      expect(ack).toMatchObject({ method: ACKNOWLEDGED_METHOD, params: { notifications: { resourceSubscriptions: ["mem://free"] } } })
      expect(ack?.params._meta[META_REFUSED_SUBSCRIPTIONS]).toEqual([
        { uris: ["mem://asked"], error: { code: ErrorCode.PolicyDenied, message: expect.stringContaining("cannot ask the client for input"), data: { policies: ["ask"], approval: "rejected" } } }
      ])
      expect(approvals.pending()).toEqual([])
    } finally {
      abort.abort()
      await handle.close()
      approvals.close()
    }
  })
})
