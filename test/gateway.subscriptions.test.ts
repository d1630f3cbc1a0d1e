/**
 * Resource subscriptions through the host and the gateway, with real peers: server-everything over
 * stdio (it declares `resources.subscribe`, logs each subscribe and unsubscribe it receives, and sends
 * `notifications/resources/updated` for every subscribed URI at once when its
 * `toggle-subscriber-updates` tool starts the updates, then every 5 s), the official SDK client over
 * Streamable HTTP on the aggregate (`/mcp`) and on `/mcp/everything`.
 *
 * - both endpoints advertise `resources.subscribe: true`; two sessions subscribing one URI make one
 *   upstream subscription (the upstream logs one subscribe), and each session hears the update;
 * - subscribing twice and unsubscribing what was not subscribed are accepted; unknown and
 *   prototype-name URIs get -32002, a missing uri -32602, and the host's tables are unchanged;
 * - kill -9 of the upstream: while it restarts a subscribe is refused at once (ServerUnavailable);
 *   when it is back the host subscribes again on the new generation and the update arrives again,
 *   also to a modern client's `subscriptions/listen` opened while it was down;
 * - each session's end (DELETE) leaves its subscriptions; the last one unsubscribes upstream (the
 *   upstream logs it) and the host's and gateway's tables are empty;
 * - the host API's subscribers and a gateway session share one upstream subscription;
 * - a modern client's listen: only subscribable URIs acknowledged, updates on the stream;
 * - an upstream without `resources.subscribe` (the official SDK's McpServer): -32601, typed.
 * Waits are on events (notifications, host events); nothing here is timed by us.
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { EmptyResultSchema, McpError, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, type GatewayHttpHandle, HOST_ERROR_META, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { ServerUnavailable, SubscriptionUnsupported } from "../src/host/errors.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import type { ModernClient } from "../src/client/ModernClient.ts"
import { type SdkHttpServer, startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { processGroupAlive, serverPidUnder } from "./support/processes.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

/** A client whose `notifications/resources/updated` can be awaited, one by one. */
interface Subscriber {
  readonly client: Client
  readonly transport: StreamableHTTPClientTransport
  /** Resolves with the next update of `uri` (those before this call are not counted). */
  nextUpdate(uri: string): Promise<void>
}

describe("gateway: resource subscriptions through the host", { timeout: 90_000, shuffle: false }, () => { // each test builds on the one before
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  let pgid: number
  /** The upstream's log lines (its subscribe / unsubscribe acknowledgements). */
  const logs: Array<string> = []
  const subscribers: Array<Subscriber> = []
  let all: Subscriber
  let one: Subscriber
  let uri: string

  const connect = async (url: string): Promise<Subscriber> => {
    const client = new Client({ name: "sdk-client", version: "1.0.0" })
    const waiting = new Map<string, Array<() => void>>()
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      const w = waiting.get(n.params.uri) ?? []
      waiting.delete(n.params.uri)
      for (const resolve of w) resolve()
    })
    const transport = new StreamableHTTPClientTransport(new URL(url))
    await client.connect(transport)
    const s: Subscriber = {
      client,
      transport,
      nextUpdate: (u) => new Promise((resolve) => waiting.set(u, [...(waiting.get(u) ?? []), resolve]))
    }
    subscribers.push(s)
    return s
  }

  /** Make server-everything send its updates now: its toggle tool sends them at once when it starts them. */
  const poke = async () => {
    for (let i = 0; i < 2; i++) {
      const r = await host.callTool("everything__toggle-subscriber-updates", {})
      if (JSON.stringify(r.content).includes("Started")) return
    }
    throw new Error("the updates did not start")
  }
  const subscribeLogs = (u: string) => logs.filter((l) => l.startsWith("Received Subscribe Resource request for URI: ") && l.includes(u)).length
  const unsubscribeLogs = (u: string) => logs.filter((l) => l.startsWith("Received Unsubscribe Resource request: ") && l.includes(u)).length

  beforeAll(async () => {
    host = await startHost({
      // A backoff of 3 s: long enough to be seen restarting, short enough for the test.
      mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"], restart: { backoff: { initialMs: 3_000, maxMs: 3_000, jitter: 0 } } } }
    }, { stateFile: false, onStderr: () => {}, coalesceMs: 10 })
    host.on("notification", ({ notification }) => {
      const data = (notification.params as { data?: unknown } | undefined)?.data
      if (notification.method === "notifications/message" && typeof data === "string") logs.push(data)
    })
    pgid = host.connection("everything")!.pid!
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })

  afterAll(async () => {
    for (const s of subscribers) await s.client.close()
    await http?.close()
    gateway?.close()
    await host?.close()
    expect(processGroupAlive(pgid)).toBe(false)
  })

  it("both endpoints advertise resources.subscribe; two sessions on one URI make one upstream subscription, and each hears the update", async () => {
    all = await connect(http.url)
    one = await connect(`${http.url}/everything`)
    expect(host.canSubscribe("everything")).toBe(true)
    expect(all.client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true, listChanged: true })
    expect(one.client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true, listChanged: true })
    uri = (await all.client.listResources()).resources[0]!.uri

    await all.client.subscribeResource({ uri })
    await one.client.subscribeResource({ uri })
    // Twice from the same session: accepted, nothing more upstream.
    await all.client.subscribeResource({ uri })
    expect(host.resourceSubscriptions()).toEqual([{ server: "everything", uri, subscribers: 2, generation: host.status()[0]!.generation }])
    expect(await hostReaches(host, () => subscribeLogs(uri) === 1, 10_000)).toBe(true)

    const updates = [all.nextUpdate(uri), one.nextUpdate(uri)]
    await poke()
    await Promise.all(updates)
    expect(subscribeLogs(uri)).toBe(1)
  })

  it("hostile URIs get -32002, a missing uri -32602, unsubscribing what was not subscribed is accepted; the tables stay as they were", async () => {
    const before = host.resourceSubscriptions()
    for (const s of [all, one]) {
      for (const bad of ["constructor", "__proto__", "toString", "demo://nope", ""]) {
        const e = await s.client.subscribeResource({ uri: bad }).then(() => undefined, (x: unknown) => x)
        expect(e).toBeInstanceOf(McpError)
        expect((e as McpError).code).toBe(-32002)
        expect((e as McpError).data).toMatchObject({ uri: bad, [HOST_ERROR_META]: { _tag: "UnknownName" } })
        await expect(s.client.unsubscribeResource({ uri: bad })).resolves.toEqual({})
      }
      await expect(s.client.request({ method: "resources/subscribe", params: {} } as never, EmptyResultSchema)).rejects.toMatchObject({ code: -32602 })
    }
    // A session that never subscribed unsubscribes a URI others hold: nothing changes for them.
    const third = await connect(http.url)
    await expect(third.client.unsubscribeResource({ uri })).resolves.toEqual({})
    expect(host.resourceSubscriptions()).toEqual(before)
    // The host API refuses the same way, typed.
    await expect(host.subscribeResource("constructor")).rejects.toMatchObject({ _tag: "UnknownName", kind: "resource" })
    await expect(host.subscribeResource(uri, { server: "__proto__" })).rejects.toMatchObject({ _tag: "UnknownName", kind: "server" })
    await expect(host.unsubscribeResource("__proto__")).resolves.toBeUndefined()
    expect(host.resourceSubscriptions()).toEqual(before)
  })

  it("kill -9: a subscribe while it restarts is refused at once; after the restart the host subscribes again and the update arrives again", async () => {
    const generation = host.status()[0]!.generation
    const refusedAtOnce: Array<Promise<unknown>> = []
    // The host API, asked in the very event that says it is restarting: refused, typed, without waiting.
    const off = host.on("status", ({ server }) => {
      if (server.state === "restarting") refusedAtOnce.push(host.subscribeResource("demo://resource/dynamic/text/2").then(() => undefined, (e: unknown) => e))
    })
    process.kill(serverPidUnder(pgid)!, "SIGKILL")
    expect(await hostReaches(host, () => host.status()[0]!.state === "restarting", 20_000)).toBe(true)
    off()
    expect(await refusedAtOnce[0]).toBeInstanceOf(ServerUnavailable)
    // Through the gateway: -32603 with the typed refusal in data.
    const t0 = Date.now()
    const e = await all.client.subscribeResource({ uri: "demo://resource/dynamic/text/3" }).then(() => undefined, (x: unknown) => x)
    expect(Date.now() - t0).toBeLessThan(2_500) // not the 3 s backoff
    expect(e).toBeInstanceOf(McpError)
    expect((e as McpError).code).toBe(-32603)
    expect((e as McpError).data).toMatchObject({ [HOST_ERROR_META]: { _tag: "ServerUnavailable", server: "everything", state: "restarting" } })
    // The subscription stays wanted while it is down.
    expect(host.resourceSubscriptions()).toEqual([{ server: "everything", uri, subscribers: 2, generation }])
    // A modern client's listen meanwhile: acknowledged (everything can be subscribed to), subscribed once it is back.
    const modern = await connectHttp(http.url, { era: "modern" })
    const dynamic = "demo://resource/dynamic/text/5"
    let heard!: () => void
    const onStream = new Promise<void>((resolve) => (heard = resolve))
    const listen = (modern.client as ModernClient).listen({ resourceSubscriptions: [dynamic] }, {
      onNotification: (n) => {
        if (n.method === "notifications/resources/updated" && (n.params as { uri?: unknown } | undefined)?.uri === dynamic) heard()
      }
    })
    expect(await listen.acknowledged).toEqual({ resourceSubscriptions: [dynamic] })
    expect(host.status()[0]!.state).toBe("restarting") // still down: the listen's subscribe waits for the restart

    // Back up: subscribed again on the new generation (the new process logs a subscribe), the listen's URI too.
    expect(await hostReaches(host, () => host.status()[0]!.state === "ready" && subscribeLogs(uri) === 2 && subscribeLogs(dynamic) === 1, 30_000)).toBe(true)
    expect(await hostReaches(host, () => host.resourceSubscriptions().every((s) => s.generation === host.status()[0]!.generation), 10_000)).toBe(true)
    expect(host.status()[0]!.generation).toBeGreaterThan(generation)
    const updates = [all.nextUpdate(uri), one.nextUpdate(uri), onStream]
    await poke()
    await Promise.all(updates)
    listen.close()
    expect(await hostReaches(host, () => unsubscribeLogs(dynamic) === 1 && host.resourceSubscriptions().length === 1, 10_000)).toBe(true)
    await modern.close()
  })

  it("each session's end leaves its subscriptions; the last one unsubscribes upstream, and nothing is left in the host or the gateway", async () => {
    await one.transport.terminateSession()
    expect(await hostReaches(host, () => host.resourceSubscriptions()[0]?.subscribers === 1, 10_000)).toBe(true)
    expect(unsubscribeLogs(uri)).toBe(0)
    await all.transport.terminateSession()
    expect(await hostReaches(host, () => host.resourceSubscriptions().length === 0 && unsubscribeLogs(uri) === 1, 10_000)).toBe(true)
    expect(gateway.subscriptionCount()).toBe(0)
  })

  it("the host API: subscribed once per URI across its callers and a gateway session, updates to each, unsubscribed with the last", async () => {
    const viaApi: Array<string> = []
    const other = {}
    await host.subscribeResource(uri, { onUpdated: (u) => viaApi.push(`api ${u.uri}`) })
    await host.subscribeResource(uri, { subscriber: other, onUpdated: (u) => viaApi.push(`other ${u.uri}`) })
    const session = await connect(http.url)
    await session.client.subscribeResource({ uri })
    expect(host.resourceSubscriptions()).toEqual([{ server: "everything", uri, subscribers: 3, generation: host.status()[0]!.generation }])
    expect(await hostReaches(host, () => subscribeLogs(uri) === 3, 10_000)).toBe(true) // one more upstream subscribe for all three
    const update = session.nextUpdate(uri)
    await poke()
    await update
    expect(await hostReaches(host, () => viaApi.includes(`api ${uri}`) && viaApi.includes(`other ${uri}`), 10_000)).toBe(true)
    await host.unsubscribeResource(uri)
    await host.unsubscribeResource(uri, { subscriber: other })
    expect(unsubscribeLogs(uri)).toBe(1)
    await session.client.unsubscribeResource({ uri })
    expect(host.resourceSubscriptions()).toEqual([])
    expect(await hostReaches(host, () => unsubscribeLogs(uri) === 2, 10_000)).toBe(true)
    expect(gateway.subscriptionCount()).toBe(0)
  })

  it("a modern client's subscriptions/listen: subscribable URIs acknowledged (unknown ones not), subscribed upstream while the stream lasts, updates on the stream", async () => {
    const modern = await connectHttp(http.url, { era: "modern" })
    try {
      let updated!: () => void
      const update = new Promise<void>((resolve) => (updated = resolve))
      const sub = (modern.client as ModernClient).listen({ resourceSubscriptions: [uri, "constructor", "demo://nope"] }, {
        onNotification: (n) => {
          if (n.method === "notifications/resources/updated" && (n.params as { uri?: unknown } | undefined)?.uri === uri) updated()
        }
      })
      expect(await sub.acknowledged).toEqual({ resourceSubscriptions: [uri] })
      expect(await hostReaches(host, () => host.resourceSubscriptions().length === 1 && subscribeLogs(uri) === 4, 10_000)).toBe(true)
      await poke()
      await update
      expect(gateway.subscriptionCount()).toBe(1)
      sub.close()
      expect(await hostReaches(host, () => host.resourceSubscriptions().length === 0 && unsubscribeLogs(uri) === 3, 10_000)).toBe(true)
      expect(gateway.subscriptionCount()).toBe(0)
    } finally {
      await modern.close()
    }
  })
})

describe("gateway: an upstream that cannot be subscribed to", { timeout: 60_000 }, () => {
  let sdk: SdkHttpServer
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  const clients: Array<Client> = []
  const connect = async (url: string) => {
    const client = new Client({ name: "sdk-client", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    sdk = await startSdkHttpServer({}) // the official SDK's McpServer: resources, no `subscribe`
    host = await startHost({
      mcpServers: { sdk: { url: sdk.url }, everything: { command: process.execPath, args: [EVERYTHING, "stdio"] } }
    }, { stateFile: false, onStderr: () => {}, coalesceMs: 10 })
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })

  afterAll(async () => {
    for (const c of clients) await c.close()
    await http?.close()
    gateway?.close()
    await host?.close()
    await sdk?.close()
  })

  it("/mcp/sdk advertises subscribe: false and refuses with -32601; the aggregate (everything can) advertises true and refuses that resource with -32601, typed", async () => {
    expect(host.canSubscribe("sdk")).toBe(false)
    expect(host.canSubscribe("everything")).toBe(true)
    // The per-server endpoint: the capability is not advertised, so the method is not there (the session's own -32601).
    const one = await connect(`${http.url}/sdk`)
    expect(one.getServerCapabilities()?.resources).toMatchObject({ subscribe: false, listChanged: true })
    await expect(one.subscribeResource({ uri: "test://hello" })).rejects.toMatchObject({ code: -32601, message: expect.stringContaining("resources.subscribe") })
    // The aggregate can subscribe (everything), but not to sdk's resource: -32601 naming the server, the typed form in data.
    const all = await connect(http.url)
    expect(all.getServerCapabilities()?.resources).toMatchObject({ subscribe: true, listChanged: true })
    const e = await all.subscribeResource({ uri: "test://hello" }).then(() => undefined, (x: unknown) => x)
    expect(e).toBeInstanceOf(McpError)
    expect((e as McpError).code).toBe(-32601)
    expect((e as McpError).message).toContain("sdk does not support resource subscriptions")
    expect((e as McpError).data).toMatchObject({ uri: "test://hello", [HOST_ERROR_META]: { _tag: "SubscriptionUnsupported", server: "sdk", uri: "test://hello" } })
    await expect(all.unsubscribeResource({ uri: "test://hello" })).resolves.toEqual({})
    await expect(host.subscribeResource("test://hello")).rejects.toBeInstanceOf(SubscriptionUnsupported)
    expect(host.resourceSubscriptions()).toEqual([])
    expect(gateway.subscriptionCount()).toBe(0)
  })
})
