/**
 * The `mcp-actors` launcher (src/cli/mcp-actors.cjs, also behind `npm start` and
 * `npm run demo`): on a Node older than package.json's engines range it prints
 * one line — what is needed, what was found, how to get it — and exits 2,
 * before loading anything that an old Node cannot parse.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const require = createRequire(import.meta.url)
const { minimumOf, nodeProblem } = require("../src/cli/nodeVersion.cjs") as {
  minimumOf: (range: string) => [number, number, number]
  nodeProblem: (found: string, range: string) => string | null
}
const root = fileURLToPath(new URL("..", import.meta.url))
const launcher = fileURLToPath(new URL("../src/cli/mcp-actors.cjs", import.meta.url))
const engines = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { engines: { node: string } }).engines.node
const MESSAGE = /^mcp-actors needs Node\.js >=22\.19 but this is Node\.js v(\S+); install Node\.js 24 LTS from https:\/\/nodejs\.org \(or run `nvm install 24`\) and try again\.\n$/

describe("node version check (src/cli/nodeVersion.cjs)", () => {
  it("reads the engines range of package.json", () => {
    expect(engines).toBe(">=22.19")
    expect(minimumOf(engines)).toEqual([22, 19, 0])
    expect(() => minimumOf("^22 || ^24")).toThrow(/unsupported engines.node range/)
  })

  it("accepts the minimum and anything newer, refuses anything older", () => {
    for (const ok of ["22.19.0", "22.19.1", "22.20.0", "23.0.0", "24.21.0", "v25.1.0", "100.0.0"]) expect(nodeProblem(ok, engines), ok).toBeNull()
    for (const old of ["22.18.9", "22.9.0", "20.20.2", "18.20.8", "16.0.0", "0.10.48", "v21.99.99"]) {
      expect(nodeProblem(old, engines), old).toMatch(/^mcp-actors needs Node\.js >=22\.19 but this is Node\.js v/)
    }
  })
})

describe("the launcher on an old Node", () => {
  it("prints one line and exits 2 (process.versions.node faked to 18.0.0)", () => {
    const fake = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.0.0"})`
    const r = spawnSync(process.execPath, ["--import", fake, launcher, "serve", "--http", "0"], { encoding: "utf8", timeout: 20_000 })
    expect(r.status).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toMatch(MESSAGE)
    expect(MESSAGE.exec(r.stderr)![1]).toBe("18.0.0")
  })

  // CI provisions Node 24 on PATH only; the machine's own Node (20 here and on CI) stays at /usr/bin/node.
  it("a real old Node (/usr/bin/node) gets the line from the bin, npm start and npm run demo", () => {
    const system = "/usr/bin/node"
    const version = existsSync(system) ? spawnSync(system, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim() : ""
    if (version === "" || nodeProblem(version, engines) === null) {
      // No old Node on this machine: the faked run above is the whole check.
      expect(nodeProblem(version || process.versions.node, engines)).toBeNull()
      return
    }
    const bin = spawnSync(system, [launcher, "serve", "--stdio"], { encoding: "utf8", timeout: 20_000 })
    expect(bin.status).toBe(2)
    expect(bin.stderr).toMatch(MESSAGE)
    expect(MESSAGE.exec(bin.stderr)![1]).toBe(version)
    // npm scripts run the `node` first on PATH: put the old one there.
    const env = { ...process.env, PATH: `/usr/bin:${process.env["PATH"] ?? ""}`, PORT: "0" }
    for (const script of ["start", "demo"]) {
      const r = spawnSync("npm", ["run", "--silent", script], { cwd: root, env, encoding: "utf8", timeout: 60_000 })
      expect(r.status, script).toBe(2)
      expect(r.stderr, script).toContain(`mcp-actors needs Node.js >=22.19 but this is Node.js v${version};`)
    }
  }, 120_000)
})
