import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const run = (...args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("mcp-actors CLI", () => {
  it("prints usage with --help (exit 0) and without a command (exit 2)", () => {
    const help = run("--help")
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: mcp-actors <command>/)
    for (const c of ["serve", "demo", "charts", "examples"]) expect(help.stdout).toContain(c)
    expect(run().code).toBe(2)
  })

  it.each(["serve", "demo", "charts", "examples"])("%s --help exits 0 with its usage", (command) => {
    const r = run(command, "--help")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`Usage: mcp-actors ${command}`))
  })

  it("rejects an unknown command, an unknown option and bad values with exit 2 and a clear message", () => {
    const unknown = run("frobnicate")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/)
    const badOption = run("serve", "--nope")
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toMatch(/Unknown option '--nope'/)
    const noTransport = run("serve")
    expect(noTransport.code).toBe(2)
    expect(noTransport.stderr).toMatch(/choose a transport/)
    const badExample = run("serve", "--stdio", "--example", "nope")
    expect(badExample.code).toBe(2)
    expect(badExample.stderr).toMatch(/unknown example "nope"/)
    const badNumber = run("serve", "--stdio", "--idle-timeout", "soon")
    expect(badNumber.code).toBe(2)
    expect(badNumber.stderr).toMatch(/--idle-timeout must be a non-negative integer/)
  })

  it("lists the examples", () => {
    const r = run("examples")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^demo\s+/m)
  })

  it("demo spawns the server, prints every state transition, echoes and exits 0", () => {
    const r = run("demo", "--text", "round trip")
    expect(r.code).toBe(0)
    const states = r.stdout.split("\n").filter((l) => l.startsWith("state: ")).map((l) => l.slice(7))
    expect(states.slice(0, 3)).toEqual(["connecting", "initializing", "operating.keepalive.disabled|operating.activity.idle"])
    expect(states.at(-1)).toBe("closed")
    expect(r.stdout).toContain(`echo → "round trip"`)
  })
})

describe("example names", () => {
  it("match the example registry", async () => {
    const { exampleNames } = await import("../examples/names.ts")
    const { examples } = await import("../examples/index.ts")
    expect([...exampleNames].sort()).toEqual(Object.keys(examples).sort())
  })
})
