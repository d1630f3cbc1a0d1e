/**
 * Interop: the MCP Inspector CLI (`@modelcontextprotocol/inspector-cli` 1.0.3,
 * a real client we did not write, on the official TS SDK) drives our demo
 * server over stdio (as a child process) and over Streamable HTTP (our server
 * in-process). Each CLI run is one initialize → (logging/setLevel) → method →
 * close, printing the method's result as JSON on stdout.
 *
 * All eight CLI runs start at once in `beforeAll`; the tests then check what
 * each printed, and what the HTTP server saw.
 *
 * The CLI's 1.0.3 bug (inspector #1334, #1503; conformance.md §8): its inner
 * entry `build/index.js` loads its own package.json (for the client identity)
 * with `import(fs.existsSync("../package.json") ? "../package.json" : "../../package.json")`.
 * `existsSync` resolves against the working directory, `import()` against the
 * module, so from most working directories it takes the second path and fails
 * with `Cannot find module …/@modelcontextprotocol/package.json`. We run the
 * inner entry with its own directory (`build/`) as the working directory, where
 * both resolve against the same base, so the check and the import agree and
 * the import loads the package's own package.json, as intended. Nothing is
 * written into node_modules and no step is needed after `npm ci`; the only
 * consequence is that every path we pass (the stdio server's script) is
 * absolute. The `clientInfo` assertion below shows the right file was loaded.
 */
import { execFile } from "node:child_process"
import type { IncomingMessage, ServerResponse } from "node:http"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { waitFor } from "./support/mcpHttp.ts"

const INSPECTOR = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/inspector-cli/build/index.js", import.meta.url))
const INSPECTOR_DIR = dirname(INSPECTOR)
const OUR_CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const STDIO_SERVER = [process.execPath, OUR_CLI, "serve", "--stdio"]

interface Run {
  readonly args: ReadonlyArray<string>
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** One inspector CLI run; never rejects (the exit code is checked by the tests). */
const inspector = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    execFile(process.execPath, [INSPECTOR, ...args], { cwd: INSPECTOR_DIR, timeout: 90_000, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ args, code, signal: error?.signal ?? null, stdout, stderr, ms: Math.round(performance.now() - t0) })
    })
  })

/** The JSON result the run printed, after checking it exited 0. */
const result = (run: Run): unknown => {
  expect({ code: run.code, signal: run.signal }, `inspector ${run.args.join(" ")}\nstderr: ${run.stderr}`).toEqual({ code: 0, signal: null })
  return JSON.parse(run.stdout)
}

/** The four calls, as inspector CLI arguments after the target. */
const CALLS = {
  toolsList: ["--method", "tools/list"],
  echo: ["--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=hello"],
  readme: ["--method", "resources/read", "--uri", "demo://readme"],
  greet: ["--method", "prompts/get", "--prompt-name", "greet", "--prompt-args", "name=Ada"]
} as const
type CallName = keyof typeof CALLS

const EXPECTED_ECHO_TOOL = {
  name: "echo",
  description: "Echo the text back",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  annotations: { readOnlyHint: true, idempotentHint: true }
}

/** Exact results, the same over either transport. */
const checkResults = (runs: Readonly<Record<CallName, Run>>): void => {
  const list = result(runs.toolsList) as { tools: Array<{ name: string }> }
  expect(list.tools.map((t) => t.name)).toStrictEqual(["echo", "count", "log", "slow"])
  expect(list.tools[0]).toStrictEqual(EXPECTED_ECHO_TOOL)
  expect(result(runs.echo)).toStrictEqual({ content: [{ type: "text", text: "hello" }] })
  expect(result(runs.readme)).toStrictEqual({
    contents: [{ uri: "demo://readme", mimeType: "text/plain", text: "mcp-actors demo server" }]
  })
  expect(result(runs.greet)).toStrictEqual({
    messages: [{ role: "user", content: { type: "text", text: "Please greet Ada." } }]
  })
}

/** One HTTP request as the server saw it. */
interface Seen {
  readonly method: string
  /** The request's `Mcp-Session-Id` (none on initialize). */
  readonly sid: string | undefined
  readonly res: ServerResponse
}

const runAll = async (target: ReadonlyArray<string>): Promise<Record<CallName, Run>> => {
  const names = Object.keys(CALLS) as Array<CallName>
  const runs = await Promise.all(names.map((n) => inspector([...target, ...CALLS[n]])))
  return Object.fromEntries(names.map((n, i) => [n, runs[i]!])) as Record<CallName, Run>
}

describe("interop: MCP Inspector CLI 1.0.3 against our server", { shuffle: false }, () => { // the last test closes the sessions the others inspect
  let handle: HttpServerHandle
  const seen: Array<Seen> = []
  let stdio: Record<CallName, Run>
  let http: Record<CallName, Run>

  beforeAll(async () => {
    handle = await makeHttpServer(makeDemoServer(), {})
    handle.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const sid = req.headers["mcp-session-id"]
      seen.push({ method: req.method ?? "", sid: typeof sid === "string" ? sid : undefined, res })
    })
    const t0 = performance.now()
    ;[stdio, http] = await Promise.all([runAll(STDIO_SERVER), runAll([handle.url, "--transport", "http"])])
    const wallMs = Math.round(performance.now() - t0)
    const line = (label: string, r: Record<CallName, Run>) =>
      `${label}: ${Object.entries(r).map(([n, run]) => `${n} ${run.ms} ms`).join(", ")}`
    console.info(`inspector-cli, 8 runs in parallel: ${wallMs} ms\n${line("stdio", stdio)}\n${line("http", http)}`)
  }, 120_000)

  afterAll(async () => {
    await handle?.close({ drainMs: 0 })
  })

  it("stdio (`mcp-actors serve --stdio` as the command): tools/list, tools/call echo, resources/read, prompts/get", () => {
    checkResults(stdio)
  })

  it("Streamable HTTP (--transport http): the same four calls", () => {
    checkResults(http)
  })

  it("HTTP: one session per run, every exchange answered 2xx and finished, and the CLI never sends DELETE", async () => {
    // Every response (the SSE GET stream included) is over once the CLI has exited.
    await Promise.all(seen.map((s) => s.res.closed || new Promise((resolve) => s.res.once("close", resolve))))
    const summary = seen.map((s) => `${s.method} ${s.sid ?? "-"} ${s.res.statusCode}`).join("\n")
    expect(seen.filter((s) => s.res.statusCode < 200 || s.res.statusCode >= 300).length, summary).toBe(0)
    // initialize: the only requests without a session id.
    expect(seen.filter((s) => s.sid === undefined).map((s) => [s.method, s.res.statusCode]), summary).toStrictEqual(
      Array.from({ length: 4 }, () => ["POST", 200])
    )
    const sids = [...new Set(seen.flatMap((s) => s.sid ?? []))]
    expect(sids, summary).toHaveLength(4)
    const of = (sid: string, method: string) => seen.filter((s) => s.sid === sid && s.method === method).map((s) => s.res.statusCode)
    // After initialize: notifications/initialized (202), logging/setLevel (200: we declare
    // `logging`), then the method (200), in this order (the client awaits each POST); the
    // CLI's tools/call first does a tools/list (to coerce --tool-arg values by the schema).
    expect(sids.map((sid) => of(sid, "POST")).sort((a, b) => a.length - b.length), summary).toStrictEqual([
      [202, 200, 200],
      [202, 200, 200],
      [202, 200, 200],
      [202, 200, 200, 200]
    ])
    for (const sid of sids) {
      // The standalone SSE stream the SDK opens after `initialized` (it may not get there before the CLI exits).
      expect(of(sid, "GET").every((status) => status === 200) && of(sid, "GET").length <= 1, `${sid}\n${summary}`).toBe(true)
      // The SDK's `transport.close()` only aborts its fetches; `terminateSession()`
      // (DELETE) is a separate call the CLI does not make.
      expect(of(sid, "DELETE"), `${sid}\n${summary}`).toStrictEqual([])
    }
    expect(handle.sessions).toBe(4)
  })

  it("HTTP: the sessions the CLI leaves behind go idle and hibernate (no streams or exchanges left), and close() ends them", async () => {
    // Without a DELETE a session lives until the idle timeout (default 30 min);
    // with nothing in flight it hibernates after `hibernateAfterMs` (default 1 s).
    await waitFor(() => handle.stats().hibernated === 4, 30_000, "the 4 CLI sessions hibernated")
    expect(handle.stats()).toStrictEqual({
      sessions: 4,
      hibernated: 4,
      openStreams: 0,
      pendingExchanges: 0,
      modernInFlight: 0,
      storedSessions: 0,
      keepAliveTimer: false,
      handshaking: 0,
      evicted: 0
    })
    const sids = [...new Set(seen.flatMap((s) => s.sid ?? []))]
    for (const sid of sids) {
      const session = handle.session(sid)
      expect(session?.isHibernated, sid).toBe(true)
      expect(session?.protocolVersion, sid).toBe("2025-11-25")
      // The identity it read from its own package.json (see the header comment).
      expect(session?.clientInfo, sid).toStrictEqual({ name: "inspector-cli", version: "1.0.3" })
    }
    await handle.close({ drainMs: 0 })
    expect(handle.stats()).toStrictEqual({
      sessions: 0,
      hibernated: 0,
      openStreams: 0,
      pendingExchanges: 0,
      modernInFlight: 0,
      storedSessions: 0,
      keepAliveTimer: false,
      handshaking: 0,
      evicted: 0
    })
    for (const sid of sids) expect(handle.session(sid), sid).toBeUndefined()
  })
})
