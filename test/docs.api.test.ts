import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
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
