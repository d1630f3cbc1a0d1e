/**
 * Real Streamable HTTP servers as child processes, for the HTTP client tests:
 * the SDK fixture (`test/fixtures/sdk-http-server.ts`), the reference
 * `@modelcontextprotocol/server-everything` in `streamableHttp` mode, and our
 * own server (`mcp-actors serve --http 0`). All bind 127.0.0.1 only.
 *
 * Plus `settled()`: wait until the process holds no more resources than a
 * baseline (sockets close a loop turn after `destroy()`), to check for leaks.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { get as httpGet } from "node:http"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const SDK_FIXTURE = fileURLToPath(new URL("../fixtures/sdk-http-server.ts", import.meta.url))
const REPORT_PORT = fileURLToPath(new URL("../fixtures/report-listen-port.cjs", import.meta.url))
const FORCE_LOCALHOST = fileURLToPath(new URL("../conformance/force-localhost.cjs", import.meta.url))
const EVERYTHING = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))

export interface ChildServer {
  readonly url: string
  readonly child: ChildProcess
  readonly output: Array<string>
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>
  /** SIGTERM (then SIGKILL after 3 s) and wait for the exit. */
  stop(): Promise<void>
}

/** Spawn and wait until a line of stdout/stderr matches `ready` (its first group, or the line, is the URL). */
const spawnServer = async (
  args: ReadonlyArray<string>,
  ready: RegExp,
  toUrl: (match: RegExpExecArray) => string,
  env: NodeJS.ProcessEnv = {}
): Promise<ChildServer> => {
  const child = spawn(process.execPath, [...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  const output: Array<string> = []
  const exited = once(child, "exit")
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 15 s: ${output.join("")}`)), 15_000)
    const onData = (chunk: Buffer) => {
      const text = chunk.toString()
      output.push(text)
      for (const line of text.split("\n")) {
        const m = ready.exec(line)
        if (m) {
          clearTimeout(timer)
          resolve(toUrl(m))
        }
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code}) before it was ready: ${output.join("")}`))
    })
  })
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    const t = signal === "SIGTERM" ? setTimeout(() => child.kill("SIGKILL"), 3_000) : undefined
    await exited
    if (t !== undefined) clearTimeout(t)
  }
  return { url, child, output, kill: () => end("SIGKILL"), stop: () => end("SIGTERM") }
}

/** The SDK fixture; `args` as its CLI takes them (`--port N --events --retry MS --no-get --json --stateless`). */
export const spawnSdkServer = (args: ReadonlyArray<string> = []): Promise<ChildServer> =>
  spawnServer([SDK_FIXTURE, ...(args.includes("--port") ? [] : ["--port", "0"]), ...args], /^LISTENING (\S+)/, (m) => m[1]!)

/** server-everything in streamableHttp mode on a free 127.0.0.1 port (PORT=0 + preloads that pin the host and report the port). */
export const spawnEverything = (): Promise<ChildServer> =>
  spawnServer(
    ["--require", FORCE_LOCALHOST, "--require", REPORT_PORT, EVERYTHING, "streamableHttp"],
    /^LISTENING (\d+)/,
    (m) => `http://127.0.0.1:${m[1]}/mcp`,
    { PORT: "0" }
  )

/** Our own server (`mcp-actors serve --http 0`, the demo server). */
export const spawnOurServer = (extra: ReadonlyArray<string> = []): Promise<ChildServer> =>
  spawnServer([CLI, "serve", "--http", "0", ...extra], /^(http:\/\/127\.0\.0\.1:\d+\/mcp)/, (m) => m[1]!)

/** Stats of the SDK fixture (`GET /__stats`). */
export const sdkStats = async (url: string): Promise<{ initialize: number; posts: number; gets: number; deletes: number; notFound: number; increments: number; methods: Array<string>; lastEventIds: Array<string> }> => {
  // node:http without keep-alive: no pooled socket is left behind to spoil leak checks.
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpGet(new URL("/__stats", url), { agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => resolve(text))
      res.on("error", reject)
    })
    req.on("error", reject)
  })
  return JSON.parse(body) as never
}

const counts = (list: ReadonlyArray<string>): Map<string, number> => {
  const m = new Map<string, number>()
  for (const x of list) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}

/**
 * Resolve once `process.getActiveResourcesInfo()` holds nothing beyond
 * `baseline` (per resource type); reject with what is left after `ms`.
 */
export const settled = async (baseline: ReadonlyArray<string>, ms = 1_000): Promise<void> => {
  const base = counts(baseline)
  const deadline = Date.now() + ms
  for (;;) {
    const extra: Array<string> = []
    for (const [type, n] of counts(process.getActiveResourcesInfo())) {
      if (n > (base.get(type) ?? 0)) extra.push(`${type}×${n - (base.get(type) ?? 0)}`)
    }
    if (extra.length === 0) return
    if (Date.now() > deadline) throw new Error(`resources still held: ${extra.join(", ")}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
