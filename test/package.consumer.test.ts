/**
 * The package as a user gets it. `npm pack` (its `prepare` script builds dist/)
 * and install the tarball into a fresh project in a temporary directory — outside
 * the repo, so no self-reference or source file can hide a broken package — then:
 * (a) a plain .mjs imports every entry point, serves the example over stdio and
 *     calls it with our client; (b) `tsc --noEmit` of a TypeScript consumer and of
 *     every `ts` block of the README and of docs/*.md (nodenext, strict, no allowImportingTsExtensions):
 *     zero errors; every README block runs (server, client, listen, host, telemetry, calc via add),
 *     and observability.md's (OTLP to a receiver in this test); (c) `npx mcp-actors serve --stdio`
 *     answers the official SDK client; (d) the same with the project also
 *     depending on the latest `effect`: one copy, the Effect snippets typecheck and run.
 * Also the tarball's contents and size (budget below). Slow (npm install from the
 * npm cache, ~1 min); one file so that the build and the installs happen once.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { createServer } from "node:http"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string
  version: string
  devDependencies: Record<string, string>
  exports: Record<string, string | Record<string, string>>
  bin: Record<string, string>
}
const tsc = join(root, "node_modules", "typescript", "bin", "tsc")

// Children get a clean npm environment: the npm_* variables of `npm test` would
// otherwise leak this repo's settings into the consumer's npm.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")))
const run = (command: string, args: ReadonlyArray<string>, options: SpawnSyncOptions & { readonly cwd: string }) => {
  const r = spawnSync(command, args, { env, encoding: "utf8", timeout: 240_000, ...options })
  const out = `${command} ${args.join(" ")} → ${r.status ?? r.signal}\n${String(r.stdout)}\n${String(r.stderr)}`
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr), out }
}
const ok = (r: ReturnType<typeof run>) => {
  expect(r.status, r.out).toBe(0)
  return r
}

/**
 * Tarball budget. What it holds: the build (JavaScript, declarations with their doc
 * comments, source and declaration maps) and the TypeScript sources the maps point
 * at, the launcher (src/cli/mcp-actors.cjs), README, LICENSE. At the first build: 520 files, 2.23 MB unpacked, 498 KB
 * packed; the policy gateway (src/policy/, its chart, guard and CLI: ~18 modules) and
 * the host modules took it to 685 files, 3.26 MB, 740 KB (2026-12-06); the live inspector (src/inspect/: 9 modules
 * with its page) to 740 files, 3.64 MB, 831 KB; the actor-tree work (ServerSession split into 12
 * modules of src/server/session/, 7 new charts, src/observability/, the one clock) to 895 files,
 * 4.24 MB, 967 KB; the client/server request tables, one supervised client, the HTTP client session
 * chart, the inspector feed batch and the clock plumbing to 935 files, 4.60 MB, 1.05 MB; HttpServer split into
 * 18 endpoint modules, the modern request driver on every transport, the process-group shim, one
 * client (`openClient`), tagged errors and the initial-snapshot memo to 1 100 files, 4.99 MB, 1.14 MB
 * (2026-12-06, afternoon); the hostile-peer, last-words and young-GC work (typed results, ClearingMap,
 * ScopeGroup, stall deadlines) to 1 195 files, 5.62 MB, 1.30 MB (2026-12-07). The budget is that plus
 * a margin for growth; shipping test/ (0.73 MB when this was set, 2.7 MB now) or docs/ by mistake breaks it.
 * The package of 0.1.0 before any of this: 205 files, 1.7 MB, 42 % of it test/.
 */
const BUDGET = { files: 1_300, unpackedBytes: 6_000_000, packedBytes: 1_400_000 }
const ALLOWED_TOP = new Set(["bin", "dist", "src", "machines", "examples", "README.md", "LICENSE", "package.json"])

// Every ```ts block of the README and of the guides in docs/, named by its info string (```ts name.ts).
const snippets = (): Array<{ readonly file: string; readonly name: string; readonly code: string }> => {
  const docs = readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))
  return ["README.md", ...docs].flatMap((file) =>
    [...readFileSync(join(root, file), "utf8").matchAll(/^```ts(?:[ \t]+(\S+))?[ \t]*\n([\s\S]*?)^```/gm)].map((m, i) => ({
      file,
      name: m[1] ?? `${file.replace(/\W/g, "_")}-${i + 1}.ts`,
      code: m[2]!
    }))
  )
}

const TSCONFIG = {
  compilerOptions: {
    target: "es2022", lib: ["es2022"], module: "nodenext", moduleResolution: "nodenext", types: ["node"],
    strict: true, skipLibCheck: true, noEmit: true
  },
  include: ["*.ts"]
}

// (a): every entry point and its main exports, then the example server over stdio with our client.
const IMPORTS_MJS = `
import * as main from "mcp-actors"
import * as effect from "mcp-actors/effect"
import * as machines from "mcp-actors/machines"
const need = {
  main: [main, ["McpServer", "serveTransport", "connectStdio", "connectHttp", "connectAutoHttp", "makeHttpServer", "makeStdioServerTransport", "ModernClient", "RpcError"]],
  effect: [effect, ["McpServerService", "registerSchemaTool", "serveStdio", "RuntimeLayer", "McpClient", "callTool", "Supervisor", "Registry"]],
  machines: [machines, ["legacyServerSessionMachine", "legacyClientSessionMachine", "keepaliveMachine", "outboundRequestMachine", "eraProbeMachine", "listenStreamMachine"]]
}
for (const [entry, [mod, names]] of Object.entries(need)) for (const n of names) if (!(n in mod)) throw new Error(entry + " lacks " + n)
const bin = new URL("./node_modules/mcp-actors/src/cli/mcp-actors.cjs", import.meta.url).pathname
const client = await main.connectStdio({ command: process.execPath, args: [bin, "serve", "--stdio", "--example", "demo"], stderr: "ignore" })
const result = await client.callTool("echo", { text: "from a consumer" })
await client.close()
console.log(JSON.stringify({ entries: Object.keys(need), state: client.state, result }))
`

// (c): the official SDK client, from the consumer's own node_modules, against `npx mcp-actors`.
const SDK_MJS = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
const client = new Client({ name: "consumer", version: "1.0.0" })
await client.connect(new StdioClientTransport({ command: "npx", args: ["mcp-actors", "serve", "--stdio"], stderr: "ignore" }))
const result = await client.callTool({ name: "echo", arguments: { text: "from the SDK" } })
await client.close()
console.log(JSON.stringify({ server: client.getServerVersion(), result }))
`

// (b): a consumer using the three entry points' types.
const CONSUMER_TS = `
import { McpServer, connectStdio, type Client, type McpServerOptions } from "mcp-actors"
import { McpClient, callTool } from "mcp-actors/effect"
import { legacyServerSessionMachine } from "mcp-actors/machines"
import { Effect } from "effect"

const options: McpServerOptions = { name: "typed", version: "1.0.0" }
export const server = new McpServer(options).tool({ name: "echo", inputSchema: { type: "object" } }, (args) => ({
  content: [{ type: "text", text: String(args["text"]) }]
}))
export const connect = (): Promise<Client> => connectStdio({ command: "node", args: ["server.ts"] })
export const chartId: string = legacyServerSessionMachine.id
export const call: Effect.Effect<unknown, unknown> = callTool("echo", { text: "x" }).pipe(
  Effect.provide(McpClient.layerStdio({ command: "node", args: ["server.ts"] }))
)
`

const withTimeout = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([p, new Promise<A>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref())])

describe("the packed package in a fresh consumer project", { shuffle: false }, () => { // steps on one consumer project: (b) writes the snippets the later steps run, (d) changes its dependencies
  let dir = ""
  let tarball = ""
  let pack: { size: number; unpackedSize: number; entryCount: number; files: Array<{ path: string; size: number }> }
  const install = (...specs: ReadonlyArray<string>) =>
    ok(run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...specs], { cwd: dir }))
  const typecheck = () => {
    const r = run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir })
    const errors = (r.stdout + r.stderr).match(/error TS\d+/g) ?? []
    expect({ errors: errors.length, status: r.status }, r.out).toEqual({ errors: 0, status: 0 })
  }
  const oneEffect = () => {
    const r = ok(run("npm", ["ls", "effect", "--all", "--parseable"], { cwd: dir }))
    const copies = r.stdout.trim().split("\n").filter((l) => l !== dir && l.includes("node_modules"))
    expect(copies, r.out).toEqual([join(dir, "node_modules", "effect")])
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mcp-actors-consumer-"))
    // A real pack: its prepare script builds dist/ from the sources.
    const packed = ok(run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root }))
    pack = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<typeof pack>)[0]!
    tarball = join(dir, `${pkg.name}-${pkg.version}.tgz`)
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2))
    // The tarball and, from the npm cache, the peers a consumer brings (same versions as our devDependencies).
    const dev = (name: string) => `${name}@${pkg.devDependencies[name]}`
    install(tarball, dev("@modelcontextprotocol/sdk"), dev("@types/node"), dev("@modelcontextprotocol/server-everything"))
  }, 300_000)

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  }, 120_000)

  it("the tarball holds the build, the sources its maps point at, README and LICENSE — nothing else — within budget", () => {
    const paths = pack.files.map((f) => f.path)
    const report = `${pack.entryCount} files, ${pack.unpackedSize} B unpacked, ${pack.size} B packed`
    console.log(`tarball: ${report}`)
    expect(paths.filter((p) => !ALLOWED_TOP.has(p.split("/")[0]!)), report).toEqual([])
    expect(pack.entryCount, report).toBeLessThanOrEqual(BUDGET.files)
    expect(pack.unpackedSize, report).toBeLessThanOrEqual(BUDGET.unpackedBytes)
    expect(pack.size, report).toBeLessThanOrEqual(BUDGET.packedBytes)
    // Every export and the bin point at shipped files; every source has its JS, declarations and maps.
    const shipped = new Set(paths)
    const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)))
    for (const t of [...targets, ...Object.values(pkg.bin)]) expect(shipped, t).toContain(t.replace(/^\.\//, ""))
    const sources = paths.filter((p) => /^(src|machines|examples)\/.*\.ts$/.test(p))
    expect(sources.length).toBeGreaterThan(90)
    for (const s of sources) {
      const base = `dist/${s.replace(/\.ts$/, "")}`
      for (const ext of [".js", ".js.map", ".d.ts", ".d.ts.map"]) expect(shipped, s).toContain(base + ext)
    }
  })

  it("(a) a plain .mjs imports every entry point, serves the example over stdio and calls it with our client", () => {
    writeFileSync(join(dir, "check-imports.mjs"), IMPORTS_MJS)
    const r = ok(run(process.execPath, ["check-imports.mjs"], { cwd: dir, timeout: 60_000 }))
    expect(JSON.parse(r.stdout)).toEqual({
      entries: ["main", "effect", "machines"],
      state: "closed",
      result: { content: [{ type: "text", text: "from a consumer" }] }
    })
  }, 90_000)

  it("(a) CommonJS: require() of every entry point (the README says it works from Node 22.12)", () => {
    writeFileSync(join(dir, "check-require.cjs"), `
const names = { "mcp-actors": "McpServer", "mcp-actors/effect": "McpClient", "mcp-actors/machines": "legacyServerSessionMachine" }
console.log(JSON.stringify(Object.entries(names).map(([entry, name]) => [entry, typeof require(entry)[name]])))
`)
    const r = ok(run(process.execPath, ["check-require.cjs"], { cwd: dir, timeout: 60_000 }))
    expect(JSON.parse(r.stdout)).toEqual([["mcp-actors", "function"], ["mcp-actors/effect", "function"], ["mcp-actors/machines", "object"]])
  }, 90_000)

  it("(b) a strict nodenext TypeScript consumer and every README snippet typecheck with zero errors", () => {
    const all = snippets()
    expect(all.map((s) => s.name)).toEqual(expect.arrayContaining(["server.ts", "client.ts", "listen.ts", "calc.ts", "add.ts"]))
    expect(new Set(all.map((s) => s.name)).size).toBe(all.length)
    writeFileSync(join(dir, "consumer.ts"), CONSUMER_TS)
    for (const s of all) writeFileSync(join(dir, s.name), s.code)
    typecheck()
  }, 90_000)

  it("(b) the README's server snippet serves echo over stdio", async () => {
    const { connectStdio } = await import("mcp-actors")
    const client = await connectStdio({ command: process.execPath, args: ["server.ts"], cwd: dir, stderr: "ignore" })
    try {
      expect(await client.callTool("echo", { text: "snippet" })).toEqual({ content: [{ type: "text", text: "snippet" }] })
    } finally {
      await client.close()
    }
  }, 60_000)

  it("(b) the README's client snippet prints server-everything's echo and walks the session states", () => {
    const r = ok(run(process.execPath, ["client.ts"], { cwd: dir, timeout: 60_000 }))
    expect(r.stdout).toContain("[ { type: 'text', text: 'Echo: hi' } ]")
    expect(r.stdout).toContain("state: operating")
    expect(r.stdout.trim().split("\n").at(-1)).toBe("state: closed")
  }, 90_000)

  it("(b) the README's listen snippet is acknowledged by `mcp-actors serve --http`", async () => {
    const server = spawn(process.execPath, [join(dir, "node_modules", ".bin", "mcp-actors"), "serve", "--http", "0"], {
      cwd: dir, env, stdio: ["ignore", "pipe", "ignore"]
    })
    try {
      const url = await withTimeout(new Promise<string>((resolve, reject) => {
        let out = ""
        server.stdout.on("data", (d: Buffer) => {
          out += d.toString()
          const m = /^(http:\/\/127\.0\.0\.1:\d+\/mcp)$/m.exec(out)
          if (m) resolve(m[1]!)
        })
        server.once("exit", (code) => reject(new Error(`server exited ${code}`)))
      }), 30_000, "serve --http")
      const code = readFileSync(join(dir, "listen.ts"), "utf8")
      expect(code).toContain("http://127.0.0.1:3000/mcp")
      writeFileSync(join(dir, "listen.run.mts"), code.replace("http://127.0.0.1:3000/mcp", url))
      const r = ok(run(process.execPath, ["listen.run.mts"], { cwd: dir, timeout: 60_000 }))
      expect(r.stdout).toMatch(/toolsListChanged: true,\s+resourceSubscriptions: \[ 'file:\/\/\/notes\.md' \]/)
    } finally {
      server.kill("SIGTERM")
    }
  }, 90_000)

  it("(b) the README's host snippet starts the host, calls memory__read_graph and stops every server", () => {
    // The README's config names server-memory through npx; here the same server from this repo's node_modules.
    const memory = join(root, "node_modules", "@modelcontextprotocol", "server-memory", "dist", "index.js")
    writeFileSync(join(dir, "mcp.json"), JSON.stringify({
      mcpServers: { memory: { command: process.execPath, args: [memory], env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") }, lifecycle: "lazy" } }
    }))
    // An unanswered call or a failed start rejects a top-level await: exit 1.
    ok(run(process.execPath, ["host.ts"], { cwd: dir, timeout: 60_000 }))
  }, 90_000)

  it.each(["telemetry.ts", "observability.ts"])("(b) the %s snippet spawns the README's server and exports its client spans over OTLP", async (snippet) => {
    const posts: Array<{ path: string; body: string }> = []
    const receiver = createServer((req, res) => {
      let body = ""
      req.on("data", (d: Buffer) => (body += d.toString()))
      req.on("end", () => {
        posts.push({ path: req.url ?? "", body })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    try {
      const code = readFileSync(join(dir, snippet), "utf8")
      expect(code).toContain("http://127.0.0.1:4318")
      const { port } = receiver.address() as { port: number }
      // observability.ts also serves HTTP on port 3000: any free port here.
      const runnable = code.replace("http://127.0.0.1:4318", `http://127.0.0.1:${port}`).replace("port: 3000", "port: 0")
      writeFileSync(join(dir, `${snippet}.run.mts`), runnable)
      // Not spawnSync: the receiver answers on this process's event loop.
      const child = spawn(process.execPath, [`${snippet}.run.mts`], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
      const [status] = (await withTimeout(once(child, "exit"), 60_000, snippet)) as [number | null]
      expect(status, stderr).toBe(0)
      const traces = posts.filter((p) => p.path === "/v1/traces").map((p) => p.body).join("\n")
      expect(traces).toContain('"initialize"')
      expect(traces).toContain("mcp.client.session")
    } finally {
      receiver.close()
    }
  }, 90_000)

  it("(c) `npx mcp-actors serve --stdio` answers the official SDK client's echo", () => {
    writeFileSync(join(dir, "check-sdk.mjs"), SDK_MJS)
    const r = ok(run(process.execPath, ["check-sdk.mjs"], { cwd: dir, timeout: 90_000 }))
    const out = JSON.parse(r.stdout) as { server: { name: string }; result: unknown }
    expect(out.result).toEqual({ content: [{ type: "text", text: "from the SDK" }] })
    expect(typeof out.server.name).toBe("string")
  }, 120_000)

  it("effect comes in once, as the peer dependency npm installed", () => oneEffect(), 60_000)

  describe("(d) with the latest effect as the consumer's own dependency", () => {
    beforeAll(() => {
      install("effect@latest")
    }, 300_000)

    it("one copy of effect, satisfying the peer range", () => {
      oneEffect()
      const consumer = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> }
      expect(Object.keys(consumer.dependencies)).toContain("effect")
    }, 60_000)

    it("the consumer and the README snippets still typecheck with zero errors", () => typecheck(), 90_000)

    it("the README's Effect snippets run: add.ts spawns calc.ts and prints 1 + 2", () => {
      const r = ok(run(process.execPath, ["add.ts"], { cwd: dir, timeout: 60_000 }))
      expect(r.stdout.trim()).toBe("{ content: [ { type: 'text', text: '3' } ] }")
    }, 90_000)

    it("(a) and (c) still pass", () => {
      const a = ok(run(process.execPath, ["check-imports.mjs"], { cwd: dir, timeout: 60_000 }))
      expect(JSON.parse(a.stdout).result).toEqual({ content: [{ type: "text", text: "from a consumer" }] })
      const c = ok(run(process.execPath, ["check-sdk.mjs"], { cwd: dir, timeout: 90_000 }))
      expect(JSON.parse(c.stdout).result).toEqual({ content: [{ type: "text", text: "from the SDK" }] })
    }, 150_000)
  })
})
