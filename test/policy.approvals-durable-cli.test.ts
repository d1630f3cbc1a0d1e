/**
 * Issue 12: "Pending approvals are visible, and they survive a restart of the
 * gateway." `serve --policy … --audit AUDIT` keeps them in
 * `AUDIT.approvals.jsonl` unless `--approvals FILE` says where; before, the
 * CLI's default store was in memory and a restart lost every pending approval.
 *
 * A real `serve --http` process, the official SDK client whose elicitation
 * handler (the approver) never answers: the pending approval is listed by
 * `mcp-actors approvals list` from another process, is still listed after the
 * server is killed (SIGKILL) and started again, and is answered by the CLI.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ChildServer, spawnOurServer } from "./support/httpPeers.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const run = (...args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("serve --audit: pending approvals are durable by default", { timeout: 120_000 }, () => {
  let dir: string
  const servers: Array<ChildServer> = []
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "policy-approvals-durable-"))
  })
  afterAll(async () => {
    for (const s of servers) await s.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it("listed from another process, still pending after kill -9 and a restart, answered by the CLI", async () => {
    const policy = join(dir, "policy.yaml")
    writeFileSync(policy, "default: deny\nrules:\n  - { id: echo-approval, tool: echo, effect: approve, approvalTimeout: 10m }\n")
    const audit = join(dir, "audit.jsonl")
    const store = `${audit}.approvals.jsonl`
    const flags = ["--policy", policy, "--audit", audit]
    const first = await spawnOurServer(flags)
    servers.push(first)

    const client = new Client({ name: "durable-approvals", version: "1.0.0" }, { capabilities: { elicitation: {} } })
    let asked!: () => void
    const question = new Promise<void>((resolve) => (asked = resolve))
    client.setRequestHandler(ElicitRequestSchema, () => {
      asked()
      return new Promise(() => {}) // the user never answers
    })
    await client.connect(new StreamableHTTPClientTransport(new URL(first.url)))
    const call = client.callTool({ name: "echo", arguments: { text: "needs a yes" } }, undefined, { timeout: 10 * 60_000 }).catch((e: unknown) => e)
    await question

    expect(existsSync(store)).toBe(true)
    const listed = run("approvals", "list", "--store", store)
    expect(listed.code).toBe(0)
    const id = /^(\S+) {2}anonymous {2}tools\/call mcp-actors-demo\/echo {2}\(echo-approval\)/.exec(listed.stdout)?.[1]
    expect(id, listed.stdout).toBeDefined()

    // The gateway dies with the approval pending; started again on the same files, it still has it.
    await first.kill()
    void call
    await client.close().catch(() => {})
    const second = await spawnOurServer(flags)
    servers.push(second)
    expect(run("approvals", "list", "--store", store).stdout).toContain(`${id}  anonymous  tools/call mcp-actors-demo/echo`)
    expect(run("approvals", "approve", id!, "--store", store, "--by", "operator")).toMatchObject({ code: 0, stdout: `approved ${id}\n` })
    expect(run("approvals", "list", "--store", store).stdout).toBe("no pending approvals\n")
    await second.stop()
  })
})
