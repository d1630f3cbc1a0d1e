/**
 * The gateway's modern fast path (`GatewayOptions.modernFastPath`): a modern request
 * whose client declared none of elicitation, sampling and roots can never be answered
 * `input_required`, so it goes straight to the host instead of through an MRTR relay.
 *
 * Two gateways on one host, one with the fast path (the default) and one without, each
 * behind a policy guard writing an audit trail (on a fixed clock), get the same modern
 * frames from a raw WebSocket peer: every frame they send back (progress, logs,
 * results, tool errors, protocol errors) and every audit record must be the same,
 * against a legacy and a modern upstream. The upstream asks for roots, an elicitation
 * and a sample in one tool (the undeclared answers: none, declined, refused), reports
 * progress and logs in another, and a third waits for its cancellation, which both
 * paths must pass on. The counts say which path each gateway took, so the comparison
 * cannot pass by both taking the same one.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { AuditLog } from "../src/policy/AuditLog.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { McpError } from "../src/protocol/errors.ts"
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"

/** The upstream: plain results, tool errors, protocol errors, inputs it asks for, progress and logs, and a call that waits for its cancellation. */
const upstream = (cancelled: (reason: string) => void, started: () => void) =>
  new McpServer({ name: "up", version: "1.0.0" })
    .tool({ name: "echo", inputSchema: { type: "object" } }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))
    .tool({ name: "fails", inputSchema: { type: "object" } }, () => ({ content: [{ type: "text", text: "no" }], isError: true }))
    .tool({ name: "throws", inputSchema: { type: "object" } }, () => {
      throw new McpError(-32602, "bad thing", { why: "because" })
    })
    .tool({ name: "inputs", inputSchema: { type: "object" } }, async (_args, ctx) => {
      // Each input answered, or refused with a code the tool can act on (and carry on).
      const refused = (e: unknown) => {
        // A modern upstream's first ask is an MRTR signal, not a refusal: let it through.
        if (typeof (e as { code?: unknown }).code !== "number") throw e
        return `refused (${(e as { code: number }).code})`
      }
      const roots = await ctx.listRoots().then((r) => JSON.stringify(r.roots), refused)
      const answer = await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } }).then((r) => String(r.action), refused)
      const sample = await ctx.createMessage({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 }).then(() => "answered", refused)
      return { content: [{ type: "text", text: `roots=${roots} elicitation=${answer} sampling=${sample}` }] }
    })
    .tool({ name: "chatty", inputSchema: { type: "object" } }, async (_args, ctx) => {
      await ctx.progress(1, 2, "half")
      ctx.log("info", { step: 1 }, "chatty")
      await ctx.progress(2, 2, "done")
      return { content: [{ type: "text", text: "said it all" }] }
    })
    .tool({ name: "waits", inputSchema: { type: "object" } }, (_args, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          cancelled(String(ctx.signal.reason instanceof Error ? ctx.signal.reason.message : ctx.signal.reason))
          reject(new Error("cancelled"))
        }, { once: true })
        started()
      }))

/** A raw WebSocket peer: what it was sent, and `call` (send a frame, resolve with every frame received up to the response with its id). */
const rawPeer = async (url: string) => {
  const socket = new WebSocket(url, ["mcp"], { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    socket.once("open", resolve)
    socket.once("error", reject)
  })
  let frames: Array<Record<string, unknown>> = []
  let waiting: { readonly id: unknown; readonly done: (frames: Array<Record<string, unknown>>) => void } | undefined
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>
    frames.push(message)
    if (waiting !== undefined && message.id === waiting.id && !("method" in message)) {
      const w = waiting
      waiting = undefined
      const got = frames
      frames = []
      w.done(got)
    }
  })
  return {
    call: (frame: Record<string, unknown>): Promise<Array<Record<string, unknown>>> =>
      new Promise((done) => {
        waiting = { id: frame.id, done }
        socket.send(JSON.stringify(frame))
      }),
    send: (frame: Record<string, unknown>) => socket.send(JSON.stringify(frame)),
    close: () => socket.terminate()
  }
}

const meta = (caps: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  [META_PROTOCOL_VERSION]: "2026-07-28",
  [META_CLIENT_CAPABILITIES]: caps,
  [META_CLIENT_INFO]: { name: "raw", version: "1.0.0" },
  [META_LOG_LEVEL]: "debug",
  ...extra
})

const callFrame = (id: number, name: string, args: Record<string, unknown>, caps: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, _meta: meta(caps, extra) }
})

// The first test compares the two audit trails byte for byte (hash chains from seq 1): it runs before
// the others add to them. (A suite option describe.each's types leave out; vitest honours it.)
const inOrder = { timeout: 60_000, shuffle: false }
describe.each(["legacy", "2026-07-28"] as const)("gateway modern fast path = the MRTR relay, upstream %s", inOrder, (protocol) => {
  let dir: string
  let server: WsServerHandle
  let host: McpHost
  const cancels: Array<string> = []
  let onStarted: () => void = () => {}
  let onCancelled: () => void = () => {}
  const gateways: Record<"fast" | "full", { gateway: Gateway; ws: WsServerHandle; audit: AuditLog; auditFile: string }> = {} as never

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gateway-fastpath-"))
    server = await makeWsServer(upstream((r) => (cancels.push(r), onCancelled()), () => onStarted()), { port: 0 })
    host = await startHost({ mcpServers: { up: { url: server.url, protocol, keepalive: false } } }, { stateFile: false })
    for (const kind of ["fast", "full"] as const) {
      // A fixed clock for the audit trail and the guard: the two trails can only differ by what was decided and done.
      const auditFile = join(dir, `${kind}.audit.jsonl`)
      const audit = AuditLog.open(auditFile, { now: () => 0 })
      const engine = new PolicyEngine(Policy.parse("default: allow\n", `${kind}.yaml`), { now: () => 0 })
      const gateway = makeGateway(host, {
        modernFastPath: kind === "fast",
        guard: (name, route) => policyGuard({ engine, server: name ?? "host", audit, now: () => 0, ...(route === undefined ? {} : { route }) })
      })
      gateways[kind] = { gateway, ws: await serveGatewayWs(gateway, { port: 0 }), audit, auditFile }
    }
  })
  afterAll(async () => {
    for (const g of Object.values(gateways)) {
      await g.ws.close()
      g.gateway.close()
      g.audit.close()
    }
    await host?.close()
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** The same frames to both gateways, one request at a time: what each sent back. */
  const both = async (frames: ReadonlyArray<Record<string, unknown>>) => {
    const out: Record<"fast" | "full", Array<Array<Record<string, unknown>>>> = { fast: [], full: [] }
    for (const kind of ["fast", "full"] as const) {
      const peer = await rawPeer(gateways[kind].ws.url)
      try {
        for (const frame of frames) out[kind].push(await peer.call(frame))
      } finally {
        peer.close()
      }
    }
    return out
  }

  it("a client that declared no inputs: the same frames back on both paths, and only the fast gateway skipped the relay", async () => {
    const before = { fast: { ...gateways.fast.gateway.modernCounts }, full: { ...gateways.full.gateway.modernCounts } }
    // The gateways (and their audit trails) are shared with the other tests: count this test's records only.
    const auditedCalls = () => readFileSync(gateways.fast.auditFile, "utf8").split("\n").filter((l) => l.includes(`"type":"call"`)).length
    for (const g of Object.values(gateways)) g.audit.flush()
    const callsBefore = auditedCalls()
    const frames = [
      callFrame(1, "up__echo", { text: "hello" }),
      callFrame(2, "up__fails", {}),
      callFrame(3, "up__throws", {}),
      callFrame(4, "up__inputs", {}),
      callFrame(5, "up__chatty", {}, {}, { progressToken: "p5" }),
      callFrame(6, "up__nope", {})
    ]
    const out = await both(frames)
    expect(out.fast).toEqual(out.full)
    // What the wire says, so that "equal" is not "equally broken".
    const [echo, fails, throws, inputs, chatty, nope] = out.fast
    expect(echo!.at(-1)).toMatchObject({ id: 1, result: { resultType: "complete", content: [{ type: "text", text: "hello" }] } })
    expect(fails!.at(-1)).toMatchObject({ id: 2, result: { isError: true, content: [{ type: "text", text: "no" }] } })
    expect(throws!.at(-1)).toMatchObject({ id: 3, error: { code: -32602, message: "bad thing", data: { why: "because" } } })
    // Roots none, elicitation declined, sampling refused: a legacy upstream (capabilities fixed at initialize) gets the
    // refusal as an error answer; a modern one is told, per request, that this client cannot sample, so it never asks
    // (an MRTR input response could not carry a refusal): its tool sees -32021 and carries on.
    expect(inputs!.at(-1)).toMatchObject({
      id: 4,
      result: {
        content: [{
          type: "text",
          text: protocol === "legacy"
            ? expect.stringMatching(/^roots=\[\] elicitation=decline sampling=refused \(-\d+\)$/)
            : "roots=[] elicitation=decline sampling=refused (-32021)"
        }]
      }
    })
    // The client's log level (debug) goes upstream with the call: a modern upstream's log comes through too.
    expect(chatty!.map((f) => f.method ?? "response")).toEqual(["notifications/progress", "notifications/message", "notifications/progress", "response"])
    expect(chatty![0]).toMatchObject({ params: { progressToken: "p5", progress: 1, total: 2, message: "half" } })
    expect(chatty![1]).toMatchObject({ params: { level: "info", logger: "chatty", data: { step: 1 } } })
    expect(nope!.at(-1)).toMatchObject({ id: 6, error: { code: -32602 } })
    // Five calls reached a tool of the gateway (the unknown name did not): the fast gateway relayed none of them.
    expect(gateways.fast.gateway.modernCounts).toEqual({ direct: before.fast.direct + 5, relayed: before.fast.relayed })
    expect(gateways.full.gateway.modernCounts).toEqual({ direct: before.full.direct, relayed: before.full.relayed + 5 })
    // The same audit trail, record for record (hash chain included: the clock is fixed).
    for (const g of Object.values(gateways)) g.audit.flush()
    const fast = readFileSync(gateways.fast.auditFile, "utf8")
    // Every request is audited (the unknown name too: the guard runs before the lookup).
    expect(auditedCalls()).toBe(callsBefore + 6)
    expect(fast).toBe(readFileSync(gateways.full.auditFile, "utf8"))
  })

  it("cancelling a fast-path call cancels the upstream call, as the relay does", async () => {
    for (const kind of ["fast", "full"] as const) {
      const peer = await rawPeer(gateways[kind].ws.url)
      try {
        const started = new Promise<void>((resolve) => (onStarted = resolve))
        const cancelledBefore = cancels.length
        const upstreamCancelled = new Promise<void>((resolve) => (onCancelled = resolve))
        peer.send(callFrame(10, "up__waits", {}))
        await started
        peer.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 10, reason: "user gave up" } })
        await upstreamCancelled
        expect(cancels.length).toBe(cancelledBefore + 1)
        // The call was cancelled, so it gets no response; the next one still does.
        const after = await peer.call(callFrame(11, "up__echo", { text: "still here" }))
        expect(after.map((f) => f.id)).toEqual([11])
      } finally {
        peer.close()
      }
    }
  })

  it("a client that declared an input, or a retry, takes the relay on the fast gateway too", async () => {
    const before = { ...gateways.fast.gateway.modernCounts }
    const peer = await rawPeer(gateways.fast.ws.url)
    try {
      // Declared roots: the relay asks for them (an input_required round).
      const round = await peer.call(callFrame(20, "up__inputs", {}, { roots: {} }))
      expect(round.at(-1)).toMatchObject({ id: 20, result: { resultType: "input_required" } })
      const { inputRequests, requestState } = (round.at(-1)!.result as { inputRequests: Record<string, { method: string }>; requestState: string })
      expect(Object.values(inputRequests).map((r) => r.method)).toEqual(["roots/list"])
      // The retry declares nothing, but carries the relay's requestState: it must go back to that relay, not the fast path.
      const key = Object.keys(inputRequests)[0]!
      const retry = await peer.call({ ...callFrame(21, "up__inputs", {}), params: { ...callFrame(21, "up__inputs", {}).params, inputResponses: { [key]: { roots: [{ uri: "file:///w", name: "w" }] } }, requestState } })
      expect(retry.at(-1)).toMatchObject({
        id: 21,
        result: {
          content: [{
            type: "text",
            text: protocol === "legacy"
              ? expect.stringMatching(/^roots=\[\{"uri":"file:\/\/\/w","name":"w"\}\] elicitation=decline sampling=refused \(-\d+\)$/)
              : 'roots=[{"uri":"file:///w","name":"w"}] elicitation=decline sampling=refused (-32021)'
          }]
        }
      })
      // And a plain call after it takes the fast path again.
      expect((await peer.call(callFrame(22, "up__echo", { text: "y" }))).at(-1)).toMatchObject({ id: 22, result: { content: [{ type: "text", text: "y" }] } })
    } finally {
      peer.close()
    }
    expect(gateways.fast.gateway.modernCounts).toEqual({ direct: before.direct + 1, relayed: before.relayed + 2 })
  })
})
