/**
 * The modern and the legacy call in one process, hot: our client and our demo server over an
 * in-process pair of text ends (the JSON text both ways, as over stdio, no pipes), `tools/call` with the host's call options,
 * alternating in blocks. Prints µs per call (the client and the server together) per era and round,
 * and modern − legacy. `--cpu-prof` on the command line profiles it.
 *
 *   node bench/modernHot.ts [--calls N] [--rounds N] [--tool echo|slow0] [--root CHECKOUT]
 */
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { nonNegative, values } = scriptArgs("Usage: node bench/modernHot.ts [--calls N] [--rounds N] [--root CHECKOUT]", {
  calls: { type: "string" },
  rounds: { type: "string" },
  root: { type: "string" }
})
const CALLS = Math.max(1, nonNegative("calls") ?? 20_000)
const ROUNDS = Math.max(1, nonNegative("rounds") ?? 8)
const ROOT = (values as { readonly root?: string }).root ?? fileURLToPath(new URL("..", import.meta.url))
const load = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(ROOT, path)).href) as T

type Client = { request(method: string, params?: object, options?: object): Promise<unknown>; close(): Promise<void> }
const { makeDemoServer } = await load<{ makeDemoServer: () => unknown }>("examples/demo.ts")
const { serveTransport } = await load<{ serveTransport: (server: unknown, t: unknown, o?: object) => unknown }>("src/server/serveTransport.ts")
const { ModernClient } = await load<{ ModernClient: { create(t: unknown, o: object): Client } }>("src/client/ModernClient.ts")
const { ClientSession } = await load<{ ClientSession: { connect(t: unknown, o: object): Promise<Client> } }>("src/client/ClientSession.ts")

const clientOptions = {
  clientInfo: { name: "mcp-actors-host", version: "0.1.0" },
  keepalive: false,
  requestTimeoutMs: 60_000,
  onElicitation: () => ({ action: "decline" }),
  onSampling: () => Promise.reject(new Error("no")),
  onRoots: () => ({ roots: [] })
}
const INPUTS = { roots: {}, elicitation: { form: {}, url: {} } }
const noProgress = (): void => {}
const callOptions = () => ({ timeoutMs: 60_000, onProgress: noProgress, resetTimeoutOnProgress: true, signal: new AbortController().signal, logLevel: "debug", inputCapabilities: INPUTS })

/** Two in-process ends that deliver each frame's text a microtask later, as the memory pair does, and take text as stdio does (`sendText`). */
type Handlers = { onFrame(text: string): void; onClose(closed: { expected: boolean; reason: string }): void }
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
const pair = () => {
  const [c, s] = textPair()
  serveTransport(makeDemoServer(), s)
  return c
}
const modern = ModernClient.create(pair(), clientOptions)
const legacy = await ClientSession.connect(pair(), clientOptions)
const params = { name: "echo", arguments: { text: "hi" } }
const run = async (c: Client, n: number): Promise<number> => {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await c.request("tools/call", params, callOptions())
  return Number(process.hrtime.bigint() - t0) / 1000 / n
}
await run(modern, CALLS / 2)
await run(legacy, CALLS / 2)
const m: Array<number> = []
const l: Array<number> = []
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    m.push(await run(modern, CALLS))
    l.push(await run(legacy, CALLS))
  } else {
    l.push(await run(legacy, CALLS))
    m.push(await run(modern, CALLS))
  }
}
const med = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
console.log(`hot, in-memory, echo: modern ${med(m).toFixed(2)} µs/call, legacy ${med(l).toFixed(2)}, modern − legacy (paired) ${med(m.map((x, i) => x - l[i]!)).toFixed(2)} (${Math.min(...m.map((x, i) => x - l[i]!)).toFixed(2)}..${Math.max(...m.map((x, i) => x - l[i]!)).toFixed(2)})`)
await Promise.all([modern.close(), legacy.close()])
process.exit(0)
