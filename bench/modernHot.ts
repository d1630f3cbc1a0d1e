/**
 * The modern (2026-07-28) and the legacy call in one process, hot, alternating in blocks; prints µs per
 * call per era (median over rounds) and modern − legacy paired by round. Two modes:
 *
 *   node bench/modernHot.ts [--calls N] [--rounds N] [--root CHECKOUT]
 *       our client and our demo server over an in-process pair of text ends (the JSON text both ways,
 *       `sendText` taken as over stdio, no pipes): `tools/call echo` with the host's client and call
 *       options (src/host/ServerConnection.ts, McpHost.ts), the modern client's ids `"m1"`, `"m2"`, …
 *       as `connectAuto`'s. The client and the server together.
 *
 *   node bench/modernHot.ts --server [--calls N] [--rounds N] [--root CHECKOUT]
 *       the server alone: request lines in (as our client writes them for the host: 400-byte modern
 *       requests, 121-byte legacy ones on an initialized session), response text out.
 *
 * `--root CHECKOUT`: that checkout's code instead of this one's (run both for a before/after).
 * `node --cpu-prof bench/modernHot.ts …` profiles it.
 */
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { HOST_CLIENT_OPTIONS, hostCallOptions } from "./hostCallOptions.ts"

const { nonNegative, values } = scriptArgs("Usage: node bench/modernHot.ts [--server] [--calls N] [--rounds N] [--root CHECKOUT]", {
  server: { type: "boolean" },
  calls: { type: "string" },
  rounds: { type: "string" },
  root: { type: "string" }
})
const SERVER_ONLY = (values as { readonly server?: boolean }).server === true
const CALLS = Math.max(1, nonNegative("calls") ?? 20_000)
const ROUNDS = Math.max(1, nonNegative("rounds") ?? 10)
const ROOT = (values as { readonly root?: string }).root ?? fileURLToPath(new URL("..", import.meta.url))
const load = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(ROOT, path)).href) as T

type Client = { request(method: string, params?: object, options?: object): Promise<unknown>; close(): Promise<void> }
type Handlers = { onFrame(text: string): void; onClose(closed: { expected: boolean; reason: string }): void }
const { makeDemoServer } = await load<{ makeDemoServer: () => unknown }>("examples/demo.ts")
const { serveTransport } = await load<{ serveTransport: (server: unknown, t: unknown, o?: object) => unknown }>("src/server/serveTransport.ts")

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const report = (what: string, modern: ReadonlyArray<number>, legacy: ReadonlyArray<number>) => {
  const d = modern.map((x, i) => x - legacy[i]!)
  console.log(`${what}: modern ${median(modern).toFixed(2)} µs/call, legacy ${median(legacy).toFixed(2)}, modern − legacy (paired) ${median(d).toFixed(2)} (${Math.min(...d).toFixed(2)}..${Math.max(...d).toFixed(2)})`)
}
/** Rounds alternate which era goes first; the first two blocks warm up. */
const alternate = async (modern: (n: number) => Promise<number> | number, legacy: (n: number) => Promise<number> | number) => {
  await modern(CALLS)
  await legacy(CALLS)
  const m: Array<number> = []
  const l: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      m.push(await modern(CALLS))
      l.push(await legacy(CALLS))
    } else {
      l.push(await legacy(CALLS))
      m.push(await modern(CALLS))
    }
  }
  return [m, l] as const
}

/** Two in-process ends that deliver each frame's text a microtask later, as the memory pair does, and take text as stdio does (`sendText`). */
const textPair = () => {
  const handlers: Array<Handlers | undefined> = [undefined, undefined]
  let closed = false
  const end = (self: 0 | 1) => {
    const deliver = (text: string) => queueMicrotask(() => {
      if (!closed) handlers[1 - self]?.onFrame(text)
    })
    return {
      kind: "memory",
      authoritativeLiveness: true,
      start: (h: Handlers) => void (handlers[self] = h),
      send: (message: unknown) => deliver(JSON.stringify(message)),
      sendText: deliver,
      close: () => {
        if (!closed) {
          closed = true
          for (const h of handlers) h?.onClose({ expected: true, reason: "closed" })
        }
        return Promise.resolve()
      }
    }
  }
  return [end(0), end(1)] as const
}

const clientAndServer = async () => {
  const { ModernClient } = await load<{ ModernClient: { create(t: unknown, o: object): Client } }>("src/client/ModernClient.ts")
  const { ClientSession } = await load<{ ClientSession: { connect(t: unknown, o: object): Promise<Client> } }>("src/client/ClientSession.ts")
  const clientOptions = HOST_CLIENT_OPTIONS
  const callOptions = hostCallOptions
  const pair = () => {
    const [c, s] = textPair()
    serveTransport(makeDemoServer(), s)
    return c
  }
  // Ids "m1", "m2", … as `connectAuto`'s modern client sends them (src/client/messageClientWire.ts).
  const modern = ModernClient.create(pair(), { ...clientOptions, idPrefix: "m" })
  const legacy = await ClientSession.connect(pair(), clientOptions)
  const params = { name: "echo", arguments: { text: "hi" } }
  const run = (c: Client) => async (n: number): Promise<number> => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await c.request("tools/call", params, callOptions())
    return Number(process.hrtime.bigint() - t0) / 1000 / n
  }
  const [m, l] = await alternate(run(modern), run(legacy))
  report("hot, client and server over an in-process text pair, echo", m, l)
  await Promise.all([modern.close(), legacy.close()])
}

const serverAlone = async () => {
  const session = () => {
    let h: Handlers | undefined
    let last = ""
    serveTransport(makeDemoServer(), {
      kind: "stdio",
      authoritativeLiveness: true,
      start: (handlers: Handlers) => void (h = handlers),
      send: (message: unknown) => void (last = JSON.stringify(message)),
      close: () => Promise.resolve()
    })
    return {
      feed: (line: string) => h!.onFrame(line),
      get last() {
        return last
      }
    }
  }
  const modern = session()
  const legacy = session()
  legacy.feed(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: { roots: {}, sampling: {}, elicitation: { form: {}, url: {} } }, clientInfo: { name: "mcp-actors-host", version: "0.1.0" } } }))
  legacy.feed(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
  await new Promise((resolve) => setTimeout(resolve, 10))
  // The text our client writes for the host's calls (bench/modernUpstream.ts's options), with `echo`.
  const P = "io.modelcontextprotocol/"
  const modernLine = (i: number) =>
    `{"jsonrpc":"2.0","id":"m${i}","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"${P}protocolVersion":"2026-07-28","${P}clientCapabilities":{"elicitation":{"form":{},"url":{}},"roots":{}},"${P}clientInfo":{"name":"mcp-actors-host","version":"0.1.0"},"${P}logLevel":"debug","progressToken":"m${i}"}}}`
  const legacyLine = (i: number) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":${i}}}}`
  let next = 1
  const run = (s: ReturnType<typeof session>, line: (i: number) => string) => (n: number): number => {
    // Distinct ids (a request in flight keeps its id taken), made before the clock starts.
    const lines = Array.from({ length: n }, () => line(next++))
    const t0 = process.hrtime.bigint()
    for (const l of lines) s.feed(l)
    return Number(process.hrtime.bigint() - t0) / 1000 / n
  }
  const [m, l] = await alternate(run(modern, modernLine), run(legacy, legacyLine))
  if (!modern.last.includes('"resultType":"complete"') || !legacy.last.includes('"text":"hi"')) throw new Error(`unexpected answers: ${modern.last} ${legacy.last}`)
  report("hot, the server alone (request text in, response text out), echo", m, l)
}

await (SERVER_ONLY ? serverAlone() : clientAndServer())
process.exit(0)
