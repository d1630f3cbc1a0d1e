import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defaultToolPrefix, expandVariables, formatIssue, loadHostConfig, parseHostConfig, parseJsonc } from "../src/host/config.ts"
import { importConfigs, importLocations } from "../src/host/importConfigs.ts"

const dir = mkdtempSync(join(tmpdir(), "host-config-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("host config: formats", () => {
  it("reads Claude Desktop / Cursor mcpServers: stdio with command, args, env, cwd relative to the file", () => {
    const file = join(dir, "claude.json")
    writeFileSync(file, JSON.stringify({
      mcpServers: {
        memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"], env: { TOKEN: "${SECRET}" }, cwd: "sub" },
        remote: { url: "https://example.com/mcp", headers: { Authorization: "Bearer ${TOKEN:-none}" } },
        sock: { url: "ws://127.0.0.1:9/mcp" }
      }
    }))
    const config = loadHostConfig(file, { env: { SECRET: "s3" } })
    expect(config.issues).toEqual([])
    expect(config.servers.map((s) => [s.name, s.transport])).toEqual([["memory", "stdio"], ["remote", "http"], ["sock", "ws"]])
    const memory = config.servers[0]!
    if (memory.transport !== "stdio") throw new Error("expected stdio")
    expect(memory.env).toEqual({ TOKEN: "s3" })
    expect(memory.cwd).toBe(join(dir, "sub"))
    const remote = config.servers[1]!
    if (remote.transport === "stdio") throw new Error("expected remote")
    expect(remote.headers).toEqual({ Authorization: "Bearer none" })
  })

  it("reads VS Code's servers with type and comments, ${workspaceFolder} is the folder above .vscode", () => {
    mkdirSync(join(dir, "ws", ".vscode"), { recursive: true })
    const file = join(dir, "ws", ".vscode", "mcp.json")
    writeFileSync(file, `{
      // VS Code format
      "servers": {
        "fs": { "type": "stdio", "command": "node", "args": ["\${workspaceFolder}/server.js"], },
        "api": { "type": "http", "url": "http://localhost:3000/mcp" }, /* trailing comma */
      },
    }`)
    const config = loadHostConfig(file, { env: {} })
    expect(config.issues).toEqual([])
    const fs = config.servers[0]!
    expect(fs.transport === "stdio" && fs.args).toEqual([`${join(dir, "ws")}/server.js`])
    expect(config.servers[1]!.transport).toBe("http")
  })

  it("applies our own fields and their defaults", () => {
    const config = parseHostConfig({
      host: { separator: ".", collisions: "error" },
      mcpServers: {
        a: {
          command: "x", lifecycle: "lazy", idleTimeoutMs: 5000, timeouts: { call: 100, list: 50, connect: 10 },
          restart: { intensity: 3, period: 1000, backoff: { initialMs: 10, maxMs: 100, factor: 3, jitter: 0.5, resetAfterMs: 20 } },
          keepalive: { intervalMs: 7, timeoutMs: 3, maxMisses: 4 }, toolPrefix: "A", allowedTools: ["t"], blockedTools: ["u"], protocol: "legacy"
        },
        b: { command: "y", keepalive: false }
      }
    })
    expect(config.separator).toBe(".")
    expect(config.collisions).toBe("error")
    const [a, b] = config.servers
    expect(a).toMatchObject({
      lifecycle: "lazy", idleTimeoutMs: 5000, timeouts: { callMs: 100, listMs: 50, connectMs: 10 },
      restart: { maxRestarts: 3, windowMs: 1000, baseDelayMs: 10, maxDelayMs: 100, factor: 3, jitter: 0.5, resetAfterMs: 20 },
      health: { intervalMs: 7, timeoutMs: 3, maxMisses: 4 }, toolPrefix: "A", allowedTools: ["t"], blockedTools: ["u"], protocol: "legacy"
    })
    expect(b).toMatchObject({ lifecycle: "keep-alive", health: false, toolPrefix: "b", protocol: "auto", timeouts: { callMs: 60_000 } })
  })

  it("a server name with characters a tool name should not hold (SEP-986) gets a prefix with `_` for them; a given toolPrefix is kept", () => {
    const [spaced, given] = parseHostConfig({
      mcpServers: { "my server/v2 ✓": { command: "x" }, "other one": { command: "x", toolPrefix: "o t" } }
    }).servers
    expect(spaced).toMatchObject({ name: "my server/v2 ✓", toolPrefix: "my_server_v2__" })
    expect(given).toMatchObject({ name: "other one", toolPrefix: "o t" })
    expect(defaultToolPrefix("files.v1-beta_2")).toBe("files.v1-beta_2")
  })
})

describe("host config: bad entries", () => {
  it("names the server and the field of each problem, and keeps the good servers", () => {
    const config = parseHostConfig({
      mcpServers: {
        good: { command: "ok" },
        badTimeout: { command: "x", timeouts: { call: -1 } },
        badLifecycle: { command: "x", lifecycle: "forever" },
        noCommand: { args: ["a"] },
        badUrl: { url: "not a url" },
        unsetVar: { command: "x", env: { KEY: "${NOPE}" } },
        disabledOne: { command: "x", disabled: true }
      }
    }, { env: {} })
    expect(config.servers.map((s) => s.name)).toEqual(["good"])
    const byServer = new Map(config.issues.map((i) => [i.server, i]))
    expect(byServer.get("badTimeout")).toMatchObject({ field: "timeouts.call" })
    expect(byServer.get("badTimeout")!.message).toMatch(/greater than 0/)
    expect(byServer.get("badLifecycle")).toMatchObject({ field: "lifecycle" })
    expect(byServer.get("noCommand")).toMatchObject({ field: "command" })
    expect(byServer.get("badUrl")).toMatchObject({ field: "url" })
    expect(byServer.get("unsetVar")).toMatchObject({ field: "env.KEY", message: "${NOPE} is not set" })
    expect(byServer.has("disabledOne")).toBe(false)
    expect(formatIssue(byServer.get("badTimeout")!)).toMatch(/^server "badTimeout", field timeouts\.call: /)
  })

  it("an empty server name is an issue (its tools would be `__tool`, its endpoint `/mcp/` the aggregate's); the others start", () => {
    const config = parseHostConfig({ mcpServers: { "": { command: "x" }, good: { command: "ok" } } }, { env: {} })
    expect(config.servers.map((s) => s.name)).toEqual(["good"])
    expect(config.issues.map(formatIssue)).toEqual(['server "": a server needs a non-empty name'])
  })

  it("an unreadable file is one issue, not an exception", () => {
    const config = loadHostConfig(join(dir, "missing.json"))
    expect(config.servers).toEqual([])
    expect(config.issues[0]!.message).toMatch(/cannot read/)
  })
})

describe("variable expansion", () => {
  it("expands ${VAR}, ${VAR:-default} and $env:VAR, and refuses an unset variable", () => {
    const env = { A: "1", EMPTY: "" }
    expect(expandVariables("${A}-${B:-two}-$env:A-${EMPTY:-d}", env, undefined)).toBe("1-two-1-d")
    expect(() => expandVariables("${B}", env, undefined)).toThrow(/\$\{B\} is not set/)
    // a peer-ish name like __proto__ is not read from the prototype
    expect(() => expandVariables("${constructor}", env, undefined)).toThrow(/not set/)
  })
  it("expands a default that holds a variable (${A:-${B}}), only when the default is used; keeps what is no variable", () => {
    const env = { A: "1", B: "bee", EMPTY: "" }
    // Before: the default stopped at the first "}": `${A:-${B}}` gave "1}" (A set) and "${B}" (A unset).
    expect(expandVariables("${A:-${B}}", env, undefined)).toBe("1")
    expect(expandVariables("${X:-${B}}", env, undefined)).toBe("bee")
    expect(expandVariables("${X:-${Y:-${B}-z}}/${A:-${NOPE}}", env, undefined)).toBe("bee-z/1")
    expect(expandVariables("${EMPTY:-pre-${A}-post}", env, undefined)).toBe("pre-1-post")
    expect(() => expandVariables("${X:-${Y}}", env, undefined)).toThrow(/\$\{Y\} is not set/)
    expect(expandVariables("$HOME ${not a name} ${A}} ${unclosed", env, undefined)).toBe("$HOME ${not a name} 1} ${unclosed")
    expect(expandVariables("${workspaceFolder}/x:$env:B", env, "/ws")).toBe("/ws/x:bee")
  })
  it("expands ${VAR} and ${VAR:-default} in a stdio server's args; an unset one without a default is an issue naming the arg", () => {
    const config = parseHostConfig({
      mcpServers: {
        tool: { command: "node", args: ["--token=${TOKEN}", "${MODE:-fast}", "${TOKEN:-unused}", "${EMPTY:-fallback}", "$HOME/kept"] },
        broken: { command: "node", args: ["ok", "${MISSING}"] }
      }
    }, { env: { TOKEN: "t0k", EMPTY: "" } })
    const tool = config.servers.find((s) => s.name === "tool")
    expect(tool?.transport === "stdio" && tool.args).toEqual(["--token=t0k", "fast", "t0k", "fallback", "$HOME/kept"])
    expect(config.servers.map((s) => s.name)).toEqual(["tool"])
    expect(config.issues).toEqual([{ server: "broken", field: "args.1", message: "${MISSING} is not set", source: undefined }])
  })
  it("keeps // inside strings when stripping comments", () => {
    expect(parseJsonc(`{"u": "http://x/a,}", // c\n "v": [1,],}`)).toEqual({ u: "http://x/a,}", v: [1] })
  })
})

describe("--import", () => {
  it("merges the clients' files that exist; the first definition of a name wins", () => {
    const home = join(dir, "home")
    const cwd = join(dir, "proj")
    mkdirSync(join(home, ".cursor"), { recursive: true })
    mkdirSync(join(home, ".config", "Claude"), { recursive: true })
    mkdirSync(join(cwd, ".vscode"), { recursive: true })
    writeFileSync(join(home, ".cursor", "mcp.json"), JSON.stringify({ mcpServers: { shared: { command: "cursor" }, cursorOnly: { command: "c" } } }))
    writeFileSync(join(home, ".config", "Claude", "claude_desktop_config.json"), JSON.stringify({ mcpServers: { shared: { command: "claude" } } }))
    writeFileSync(join(cwd, ".vscode", "mcp.json"), JSON.stringify({ servers: { vs: { type: "http", url: "http://h/mcp" } } }))
    const locations = importLocations({ home, cwd, platform: "linux", env: {} })
    const config = importConfigs(locations, { env: {} })
    expect(config.sources.length).toBe(3)
    expect(config.servers.map((s) => s.name)).toEqual(["vs", "shared", "cursorOnly"])
    expect(config.servers[1]).toMatchObject({ command: "claude" })
    expect(config.issues.map((i) => i.server)).toEqual(["shared"])
  })

  it("reads Claude Code's local scope: ~/.claude.json's servers under this project's path, before the user scope", () => {
    const home = join(dir, "home-cc")
    const cwd = join(dir, "proj-cc")
    mkdirSync(home, { recursive: true })
    mkdirSync(cwd, { recursive: true })
    writeFileSync(join(home, ".claude.json"), JSON.stringify({
      mcpServers: { user: { command: "u" }, both: { command: "from-user" } },
      projects: {
        [cwd]: { mcpServers: { local: { command: "l" }, both: { command: "from-local" } } },
        [join(dir, "elsewhere")]: { mcpServers: { other: { command: "o" } } }
      }
    }))
    const config = importConfigs(importLocations({ home, cwd, platform: "linux", env: {} }), { env: {} })
    expect(config.servers.map((s) => s.name)).toEqual(["local", "both", "user"])
    expect(config.servers[1]).toMatchObject({ command: "from-local" })
    expect(config.issues.map((i) => i.server)).toEqual(["both"])
  })
})
