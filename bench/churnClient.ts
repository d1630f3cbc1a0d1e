/**
 * The inspector benches' client: a minimal Streamable HTTP client of legacy sessions (initialize,
 * `notifications/initialized`, an `echo` call, DELETE) on an undici pool, and the loop that runs
 * `n` operations `c` at a time. Shared by `inspectPaired.ts` and `inspectToggle.ts`.
 */
import { Pool } from "undici"

const PROTO = "2025-06-18"
const HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" }
let nextId = 1

export class ChurnClient {
  readonly pool: Pool
  readonly path: string
  constructor(url: string, connections: number) {
    const u = new URL(url)
    this.path = u.pathname
    this.pool = new Pool(u.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 })
  }
  async post(message: object, sid?: string): Promise<{ status: number; sid: string | undefined; body: string }> {
    const headers = sid === undefined ? HEADERS : { ...HEADERS, "mcp-session-id": sid, "mcp-protocol-version": PROTO }
    const res = await this.pool.request({ path: this.path, method: "POST", headers, body: JSON.stringify(message) })
    const body = await res.body.text()
    const s = res.headers["mcp-session-id"]
    return { status: res.statusCode, sid: typeof s === "string" ? s : undefined, body }
  }
  async open(): Promise<string> {
    const init = await this.post({ jsonrpc: "2.0", id: nextId++, method: "initialize", params: { protocolVersion: PROTO, capabilities: {}, clientInfo: { name: "paired-bench", version: "1" } } })
    if (init.status !== 200 || init.sid === undefined) throw new Error(`initialize: HTTP ${init.status} ${init.body.slice(0, 200)}`)
    const note = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" }, init.sid)
    if (note.status !== 202) throw new Error(`initialized: HTTP ${note.status}`)
    return init.sid
  }
  async echo(sid: string): Promise<void> {
    const r = await this.post({ jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "echo", arguments: { text: "hello" } } }, sid)
    if (r.status !== 200 || !r.body.includes("hello")) throw new Error(`echo: HTTP ${r.status} ${r.body.slice(0, 200)}`)
  }
  async del(sid: string): Promise<void> {
    const res = await this.pool.request({ path: this.path, method: "DELETE", headers: { ...HEADERS, "mcp-session-id": sid, "mcp-protocol-version": PROTO } })
    await res.body.dump()
    if (res.statusCode !== 200 && res.statusCode !== 204) throw new Error(`DELETE: HTTP ${res.statusCode}`)
  }
  /** One churned session: opened, one call, deleted. */
  async churn(): Promise<void> {
    const sid = await this.open()
    await this.echo(sid)
    await this.del(sid)
  }
}

/** `fn(i)` for i in 0..n-1, at most `c` at a time. */
export const parallel = async (n: number, c: number, fn: (i: number) => Promise<void>): Promise<void> => {
  let i = 0
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => {
    while (i < n) await fn(i++)
  }))
}
