/**
 * The servers the inspector benches measure: the real `mcp-actors serve --http 0`
 * process in one of the inspector's modes, with its watcher (if any) in
 * another process, and a local OTLP receiver that counts bytes.
 *   off       no inspector
 *   aa        no inspector either: a second "off" process, the A/A control (what two processes of the same code read apart)
 *   idle      --inspect, nobody watching (the default `--inspect-record watched`: nothing followed until a page comes)
 *   always    --inspect --inspect-record always, nobody watching (every session followed and recorded for a later page)
 *   page      --inspect and a page's feed (`/feed?definitions=0`, the lean feed the page reads,
 *             from another process with a browser's Origin): what "a page open" costs
 *   watched   --inspect and a feed client (`mcp-actors inspect URL --json`, another
 *             process) reading every message (the full, Stately-format feed)
 * A `+otel` suffix adds `--otlp URL` (the receiver).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { ROOT, sleep } from "./lib.ts"

export interface InspectServer {
  readonly mode: string
  readonly pid: number
  readonly url: string
  /** Stop it; an inspected server is first asked whether its inspector recorded a session's steps (throws if not). */
  readonly stop: () => Promise<void>
  /** Lines the watcher received so far. */
  readonly feedLines: () => number
}

export interface OtlpReceiver {
  readonly url: string
  readonly bytes: () => number
  readonly close: () => void
}

/** A local OTLP/HTTP endpoint that answers 200 and counts what it receives. */
export const otlpReceiver = async (): Promise<OtlpReceiver> => {
  let bytes = 0
  const server: Server = createServer((req, res) => {
    req.on("data", (c: Buffer) => (bytes += c.length))
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bytes: () => bytes, close: () => server.close() }
}

const waitClose = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("close", () => r())))

/** The page's feed from another process: the lean WebSocket the page opens, one line out per message received. */
export const PAGE_FEED = `
const { WebSocket } = require("ws");
const page = new URL(process.argv[1]);
const ws = new WebSocket("ws://" + page.host + "/feed?definitions=0&token=" + page.searchParams.get("token"), { origin: page.origin, perMessageDeflate: false });
ws.on("message", (d) => { const t = String(d); let n = 1; for (let i = t.indexOf("\\n"); i >= 0; i = t.indexOf("\\n", i + 1)) n++; process.stdout.write("\\n".repeat(n)) });
ws.on("close", () => process.exit(0));
process.on("SIGTERM", () => ws.terminate());
`

/**
 * Start `serve --http 0` from `checkout` (default: this one) in `label`'s mode
 * (`off`, `idle`, `page`, `watched`, each optionally `+otel`), pinned by `prefix`.
 */
export const startInspectServer = async (
  label: string,
  options: { readonly prefix?: ReadonlyArray<string>; readonly otlpUrl?: string; readonly checkout?: string; readonly env?: NodeJS.ProcessEnv } = {}
): Promise<InspectServer> => {
  const mode = label.replace("+otel", "")
  const inspected = mode !== "off" && mode !== "aa"
  const otel = label.endsWith("+otel")
  const main = join(options.checkout ?? ROOT, "src", "cli", "main.ts")
  const argv = [...(options.prefix ?? []), process.execPath, main, "serve", "--http", "0",
    ...(inspected ? ["--inspect"] : []), ...(mode === "always" ? ["--inspect-record", "always"] : []), ...(otel && options.otlpUrl !== undefined ? ["--otlp", options.otlpUrl] : [])]
  const srv = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], ...(options.env === undefined ? {} : { env: options.env }) })
  let err = ""
  const ready = await new Promise<{ url: string; inspector?: string }>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`server did not start: ${err}`)), 30_000)
    srv.stderr!.setEncoding("utf8").on("data", (c: string) => {
      err += c
      const url = /serving Streamable HTTP on (\S+)/.exec(err)?.[1]
      const insp = /inspector on (\S+)/.exec(err)?.[1]
      if (url !== undefined && (!inspected || insp !== undefined)) {
        clearTimeout(t)
        ok({ url, ...(insp === undefined ? {} : { inspector: insp }) })
      }
    })
    srv.once("exit", (code) => fail(new Error(`server exited ${code}: ${err}`)))
  })
  srv.stdout!.resume()
  let lines = 0
  let feed: ChildProcess | undefined
  if (mode === "watched" || mode === "page") {
    feed = mode === "watched"
      ? spawn(process.execPath, [main, "inspect", ready.inspector!, "--json"], { stdio: ["ignore", "pipe", "ignore"] })
      : spawn(process.execPath, ["-e", PAGE_FEED, ready.inspector!], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
    feed.stdout!.setEncoding("utf8").on("data", (c: string) => {
      for (let i = c.indexOf("\n"); i >= 0; i = c.indexOf("\n", i + 1)) lines++
    })
    // connected: the feed's first message (the snapshot) arrived
    for (let i = 0; i < 100 && lines === 0; i++) await sleep(100)
  }
  return {
    mode: label, pid: srv.pid!, url: ready.url, feedLines: () => lines,
    stop: async () => {
      if (ready.inspector !== undefined) await assertRecorded(label, ready.inspector, mode !== "idle")
      feed?.kill("SIGTERM")
      if (feed) await waitClose(feed)
      srv.kill("SIGTERM")
      await waitClose(srv)
    }
  }
}

/**
 * That the inspector followed the sessions (some session's view recorded its steps, `initialize`, `initialized`)
 * where its mode says it does, and followed none where it says not (`idle`, nobody watching).
 * Why: a bench whose inspector lists sessions without following their charts reads the plumbing, not the model
 * (the in-process toggle bench did until s30, its inspector started after the endpoint).
 */
const assertRecorded = async (label: string, inspectorUrl: string, expected: boolean): Promise<void> => {
  const url = new URL(inspectorUrl)
  const res = await fetch(`${url.origin}/actors`, { headers: { authorization: `Bearer ${url.searchParams.get("token")}` } })
  const { messages } = (await res.json()) as { messages: ReadonlyArray<{ type: string; machine?: string; recent?: ReadonlyArray<unknown> }> }
  const followed = messages.some((m) => m.type === "@mcp-actors.session" && m.machine === "legacyServerSession" && (m.recent?.length ?? 0) >= 2)
  if (followed !== expected) {
    throw new Error(expected
      ? `${label}: the inspector recorded no session's steps: the bench would read its plumbing, not its model`
      : `${label}: the inspector recorded sessions nobody watched: "idle" would read "always"`)
  }
}

/**
 * CPU ns process `pid` has used so far, all its threads (the main thread, GC
 * helpers, libuv's pool): the sum of each task's `schedstat` run time, exact
 * where `/proc/PID/stat` counts 10 ms ticks.
 */
export const processCpuNs = (pid: number): number => {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0])
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns
}
