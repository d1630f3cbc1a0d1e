import { spawn, spawnSync } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { exampleModules } from "./support/api/exampleModules.ts"
import { type ApiEntry, entryPoints, extractApi, repoRoot } from "./support/api/extractApi.ts"
import { renderApiReference, summaryOf } from "./support/api/renderApiReference.ts"

// The API reference (docs/api) is generated from the doc comments, never written
// by hand: an export without a doc comment, a main entry point without an
// example, or a stale page (sources changed, `npm run docs:api` not run) fails here.

/** The main entry points a newcomer starts from: each carries an `@example`. */
const needsExample: Readonly<Record<string, ReadonlyArray<string>>> = {
  "mcp-actors": [
    "McpServer", "serveTransport", "makeHttpServer", "makeWsServer", "ClientSession", "ModernClient",
    "connectStdio", "connectHttp", "connectWs", "connectAuto", "connectAutoStdio", "connectAutoHttp"
  ],
  "mcp-actors/effect": ["McpServerService", "RuntimeLayer", "registerSchemaTool", "serveStdio", "McpClient", "Registry", "Supervisor"],
  "mcp-actors/machines": [
    "legacyServerSessionMachine", "legacyClientSessionMachine", "keepaliveMachine", "outboundRequestMachine", "eraProbeMachine",
    "listenStreamMachine"
  ]
}

/**
 * The examples a reader can run as they are (memory transports, pure charts, a WebSocket
 * server on any free port), with what their comments say they print: the values, in order.
 * The others need a server on port 3000, a child process or a policy file.
 */
const selfContained: Readonly<Record<string, RegExp>> = {
  "mcp-actors.ClientSession.1.ts": /^calc\n\{ content: \[ \{ type: 'text', text: '3' \} \] \}\n$/,
  "mcp-actors.connectAuto.1.ts": /^modern\n$/,
  "mcp-actors.makeWsServer.1.ts": /^notes\n$/,
  "mcp-actors.makeMcpRuntime.1.ts": /^0\n0\n$/,
  "mcp-actors-effect.Supervisor.1.ts": /^true\n0\n$/,
  "mcp-actors-machines.legacyServerSessionMachine.1.ts": /^awaitingInitialized \[.*'respondInitialize'.*\]\noperating\n$/,
  "mcp-actors-machines.keepaliveMachine.1.ts": /^ping\nping\nmissed\n1\n$/,
  "mcp-actors-machines.legacyClientSessionMachine.1.ts": /^\[ 'sendInitialize'.*\]\ntrue\n$/,
  "mcp-actors-machines.outboundRequestMachine.1.ts":
    /^sent notifications\/cancelled\n\{\s+_tag: 'TimedOut',\s+requestId: 7,\s+deadline: 'request',\s+afterMs: 5000,\s+cancelSent: true\s+\}\n$/,
  "mcp-actors-machines.outboundRequestsLogic.1.ts": /^\{ _tag: 'Settled', requestId: 1, .*\}\n$/,
  "mcp-actors-machines.modernClientMachine.1.ts": /^open \[ 'requests' \]\n\{ closing: 'releasing' \} \[ 'xstate.cancel', 'releaseWire' \]\n$/,
  "mcp-actors-machines.eraProbeMachine.1.ts": /^\[ 'sendDiscover'.*\]\nlegacy \{ _tag: 'OtherError', code: -32601.*\}\n$/,
  "mcp-actors-machines.listenStreamMachine.1.ts": /^listen\nwaiting\nlisten\ncancel\n$/
}

describe("API reference", () => {
  let api: ReadonlyArray<ApiEntry>
  // One program for all the checks (TS 5.9 compiler API; about a second).
  beforeAll(() => { api = extractApi() }, 60_000)

  it("covers every entry point of package.json exports", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { exports: Record<string, unknown> }
    const keys = Object.keys(pkg.exports).filter((k) => k !== "./package.json").sort()
    expect(entryPoints.map((e) => e.exportsKey).sort()).toEqual(keys)
  })

  it("finds the exports of every entry point", () => {
    const names = new Map(api.map((a) => [a.entry.specifier, a.exports.map((e) => e.name)]))
    expect(names.get("mcp-actors")).toEqual(expect.arrayContaining(["McpServer", "ClientSession", "connectStdio", "TextContent"]))
    expect(names.get("mcp-actors/effect")).toEqual(expect.arrayContaining(["McpClient", "RuntimeLayer", "Registry"]))
    expect(names.get("mcp-actors/machines")).toEqual(expect.arrayContaining(["legacyServerSessionMachine", "keepaliveMachine"]))
  })

  it("has a doc comment on every public export", () => {
    const missing = api.flatMap((a) => a.exports.filter((e) => summaryOf(e.doc) === "").map((e) => `${a.entry.specifier}: ${e.name} (${e.file}:${e.line})`))
    expect(missing).toEqual([])
  })

  it("has an example on every main entry point", () => {
    const missing = api.flatMap((a) =>
      (needsExample[a.entry.specifier] ?? []).filter((name) => {
        const e = a.exports.find((x) => x.name === name)
        return e === undefined || e.examples.length === 0
      }).map((name) => `${a.entry.specifier}: ${name}`)
    )
    expect(missing).toEqual([])
  })

  it("every example typechecks against the sources it documents", () => {
    const modules = exampleModules(api, repoRoot)
    expect(modules.length).toBeGreaterThanOrEqual(Object.values(needsExample).flat().length)
    const dir = mkdtempSync(join(tmpdir(), "mcp-actors-examples-"))
    try {
      symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir")
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }))
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: join(repoRoot, "tsconfig.json"), include: ["*.ts"] }))
      for (const [name, code] of modules) writeFileSync(join(dir, name), code)
      // The project's own compiler (TS 7, native): a second or so for every example at once.
      const tsc = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" })
      expect(tsc.stdout + tsc.stderr).toBe("")
      expect(tsc.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("the examples that need no server, port or child process run and print what their comments say", () => {
    const modules = new Map(exampleModules(api, repoRoot))
    expect([...modules.keys()]).toEqual(expect.arrayContaining(Object.keys(selfContained)))
    const dir = mkdtempSync(join(tmpdir(), "mcp-actors-examples-run-"))
    try {
      symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir")
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }))
      for (const [name, expected] of Object.entries(selfContained)) {
        writeFileSync(join(dir, name), modules.get(name)!)
        // Node strips the types, as a reader running the example would.
        const r = spawnSync(process.execPath, [name], { cwd: dir, encoding: "utf8", timeout: 30_000 })
        expect({ name, status: r.status, stderr: r.stderr }).toEqual({ name, status: 0, stderr: "" })
        expect(r.stdout, name).toMatch(expected)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("the client examples run as written against the demo server they name (`mcp-actors serve --http 3000`, `--ws 3001`)", async () => {
    const modules = new Map(exampleModules(api, repoRoot))
    const http = await makeHttpServer(makeDemoServer(), { port: 0 })
    const ws = await makeWsServer(makeDemoServer(), { port: 0 })
    const dir = mkdtempSync(join(tmpdir(), "mcp-actors-examples-peer-"))
    try {
      symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir")
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }))
      const expected: Readonly<Record<string, RegExp>> = {
        "mcp-actors.connectHttp.1.ts": /name: 'echo'/,
        "mcp-actors.connectAutoHttp.1.ts": /^modern\n[\s\S]*text: 'hi'/,
        "mcp-actors.ModernClient.1.ts": /resultType: 'complete'[\s\S]*text: 'hi'[\s\S]*\{ toolsListChanged: true \}\n$/,
        "mcp-actors.connectWs.1.ts": /^\{\}\n$/
      }
      for (const [name, pattern] of Object.entries(expected)) {
        const code = modules.get(name)!
        expect(code, name).toMatch(/127\.0\.0\.1:300[01]\/mcp/)
        writeFileSync(join(dir, name), code.replace("http://127.0.0.1:3000/mcp", http.url).replace("ws://127.0.0.1:3001/mcp", ws.url))
        // Not spawnSync: the servers answer on this process's event loop.
        const child = spawn(process.execPath, [name], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
        const [status] = (await once(child, "exit")) as [number | null]
        expect({ name, status, stderr }).toEqual({ name, status: 0, stderr: "" })
        expect(stdout, name).toMatch(pattern)
      }
    } finally {
      await ws.close()
      await http.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("docs/api is up to date with the sources (run `npm run docs:api`)", () => {
    const dir = join(repoRoot, "docs/api")
    const expected = renderApiReference(api)
    expect(readdirSync(dir).filter((f) => f.endsWith(".md")).sort()).toEqual(expected.map(([name]) => name).sort())
    for (const [name, text] of expected) expect(readFileSync(join(dir, name), "utf8"), name).toBe(text)
  })
})

describe("API extractor", () => {
  const fixture = extractApi(join(repoRoot, "test/fixtures/api"), [
    { specifier: "fixture", exportsKey: ".", source: "index.ts", page: "fixture.md" }
  ])[0]!
  const byName = (name: string) => fixture.exports.find((e) => e.name === name)

  it("reads a declaration's own doc, not the module comment TypeScript attaches to it", () => {
    expect(fixture.doc).toBe("Fixture entry point for test/docs.api.test.ts (module comment).")
    expect(byName("documented")).toMatchObject({ kind: "function", doc: "Adds one.\n\nDetails after the summary.", examples: ["documented(1) // 2"] })
    expect(byName("documented")!.signature).toBe("const documented = (n: number): number => …")
  })

  it("reports an undocumented export with an empty doc", () => {
    expect(byName("undocumented")).toMatchObject({ kind: "const", doc: "" })
  })

  it("marks `export type *` values type-only and keeps field comments in signatures", () => {
    expect(byName("LEVELS")).toMatchObject({ kind: "const", typeOnly: true })
    expect(byName("documented")!.typeOnly).toBe(false)
    expect(byName("Shape")!.signature).toContain("/** Kept in the signature. */")
  })

  it("lists public class members only, without private, #private or @internal ones", () => {
    expect(byName("Box")!.members.map((m) => [m.signature, m.doc])).toEqual([
      ["get(): number", "Reads the value."],
      ["static make(): Box", "Makes a box."]
    ])
  })
})
