/**
 * The live inspector's server: a page, its feed over a WebSocket, chart
 * layouts, records and their replay, on 127.0.0.1 only.
 *
 * Why a token and an Origin check: the page shows what every session does, and
 * a local port is reachable from any web page the user visits (through DNS
 * rebinding or a plain cross-site request). Like Jupyter, each start makes a
 * random token, printed with the URL; every request and the WebSocket must
 * carry it (401 otherwise), and a foreign `Host`/`Origin` is refused (403,
 * the same guard as the Streamable HTTP server).
 */
import { randomBytes, timingSafeEqual } from "node:crypto"
import { writeFile } from "node:fs/promises"
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http"
import { listenHttp } from "../transports/http/listenHttp.ts"
import { type Clock, systemClock } from "../protocol/clock.ts"
import type { Duplex } from "node:stream"
import type { AnyStateMachine } from "xstate"
import { WebSocket, WebSocketServer } from "ws"
import { defaultMcpRuntime, type McpRuntime } from "../runtime/McpRuntime.ts"
import type { RegistryUnsafe } from "../runtime/Registry.ts"
import { makeHostGuard } from "../transports/http/HostGuard.ts"
import { decodeSegment, requestUrl } from "../transports/http/requestTarget.ts"
import { allMachines } from "../visualization/exportCharts.ts"
import { chartLayout } from "./chartLayout.ts"
import { feedObject, FEED_VERSION } from "./feed.ts"
import { makeFeedBatch } from "./feedBatch.ts"
import { makeFeedFlusher } from "./feedFlusher.ts"
import { approvalFeedObject, approvalGoneFeedObject, type InspectorApprover, parseApprovalDecision } from "./inspectorApprover.ts"
import { InspectorModel, type InspectorModelOptions } from "./InspectorModel.ts"
import { inspectorPage } from "./page.ts"
import { replayRecord, ReplayError } from "./replay.ts"
import type { RecordFile } from "./SessionRecord.ts"

/** How `startInspector` serves (also `inspect` in `makeHttpServer` and `startHost`). */
export interface InspectorOptions extends Omit<InspectorModelOptions, "registry" | "keepSecrets" | "record"> {
  /**
   * When the inspector follows the runtime's actors. Default `"watched"`: while a page or a feed
   * (`inspect URL --json`) is connected, as a browser's network panel records while it is open; a page
   * opened later lists the live sessions from the state they are in, and keeps what it saw (sessions that
   * ended, their records) for the next page. `"always"`: from the start, so that records of sessions that
   * ended unwatched can be read later (`writeRecord`, `/record`), at ≈ 4–6 % of a churning server's CPU.
   */
  readonly record?: "always" | "watched"
  /** Port on 127.0.0.1. Default 0 (any free port; read `url`). */
  readonly port?: number
  /** Bind address. Default 127.0.0.1: the inspector is for this machine. */
  readonly host?: string
  /** The access token. Default: random per start. */
  readonly token?: string
  /** Show argument values, tokens and full session ids. Default false. */
  readonly showSecrets?: boolean
  /**
   * Sessions to describe (side, transport, era, peer, end reason). Default: the runtime's registry, which lists
   * every session the runtime supervises. Why not a registry of its own (which it was): every server then listed
   * each session a second time, in the inspector's registry beside the runtime's, for every session it churned.
   */
  readonly registry?: RegistryUnsafe
  /** The runtime whose registry it describes, when `registry` is not given. Default: the process's. */
  readonly runtime?: McpRuntime
  /** Charts by machine id, for layouts and replay. Default: every machine in `machines/`. */
  readonly machines?: ReadonlyMap<string, AnyStateMachine>
  /** A client whose unsent feed exceeds this many bytes is disconnected (close 1013). Default 8 MiB. */
  readonly maxBufferedBytes?: number
  /** List calls awaiting approval on the page and answer them there (`--approver inspector`). */
  readonly approver?: InspectorApprover
  /**
   * The feed is sent at most this often (ms): what changed meanwhile goes in one message per client,
   * and the page's lean feed carries one snapshot per changed actor. Default 50 (20 updates a second,
   * faster than a page needs); 0 sends after every turn of the event loop.
   */
  readonly flushMs?: number
  /** What the feed's flush timer runs on (the runtime's clock; tests pass a simulated one). Default: the system clock. */
  readonly clock?: Clock
}

/** A running inspector: its URL with the token, its model, records, and `close`. */
export interface Inspector {
  /** The page's URL, with its token (print it, open it). */
  readonly url: string
  /** `http://host:port`, without the token. */
  readonly origin: string
  readonly port: number
  readonly token: string
  readonly model: InspectorModel
  /** The registry whose sessions it describes (the runtime's unless given): register other sessions here. */
  readonly registry: RegistryUnsafe
  /** Connected feed clients. */
  readonly clients: number
  /** The record of one actor (by xstate session id, or by the session's id), live or ended. */
  record(id: string): RecordFile | undefined
  /** Write the record of one actor as JSON; resolves to false when it is unknown. */
  writeRecord(id: string, path: string): Promise<boolean>
  /** Stop serving, disconnect every client, stop listening to the runtime. */
  close(): Promise<void>
}

const sameToken = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const tokenOf = (req: IncomingMessage, url: URL): string | undefined => {
  const auth = req.headers.authorization
  if (auth !== undefined && /^bearer /i.test(auth)) return auth.slice(7).trim()
  return url.searchParams.get("token") ?? undefined
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  // The token travels in the page's URL once: never pass it on.
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY"
} as const

/**
 * Start the inspector; resolves once it listens.
 *
 * @example
 * ```ts
 * import { makeHttpServer, McpServer, startInspector } from "mcp-actors"
 *
 * const inspector = await startInspector({ port: 0 })       // before the sessions it should see
 * const http = await makeHttpServer(new McpServer({ name: "demo", version: "1.0.0" }))   // the process's runtime: described
 * console.log(`open ${inspector.url}`)                       // http://127.0.0.1:PORT/?token=…
 * // later: await inspector.writeRecord("x:0", "record.json"); await http.close(); await inspector.close()
 * ```
 */
export const startInspector = async (options: InspectorOptions = {}): Promise<Inspector> => {
  const token = options.token ?? randomBytes(24).toString("hex")
  const showSecrets = options.showSecrets === true
  const machines = options.machines ?? allMachines()
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024
  const registry = options.registry ?? (options.runtime ?? defaultMcpRuntime()).registry
  // Records keep what the page may show: without secrets unless they are shown.
  const model = new InspectorModel({ ...options, registry, keepSecrets: showSecrets, record: options.record ?? "watched" })
  const guard = makeHostGuard()
  // Clients send only approval decisions: small messages.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const clients = new Set<WebSocket>()
  /** Clients that asked for no machine definitions (`?definitions=0`: the page). */
  const lean = new WeakSet<WebSocket>()

  const findActor = (id: string) => model.get(id) ?? [...model.actors()].reverse().find((a) => a.id === id)
  const record = (id: string) => {
    const actor = findActor(id)
    return actor === undefined ? undefined : model.record(actor.sessionId, showSecrets)
  }

  // Lines are sent in batches, one WebSocket message of newline-separated JSON per client per `flushMs`:
  // a busy runtime makes many small messages, and a frame (and a write) each, or even one per turn of the
  // event loop, cost more than the inspection itself. The feed's own messages are serialized only then
  // (feedBatch.ts), so a session that changed a hundred times in a flush is summarized once.
  const queued = new Map<WebSocket, Array<string>>()
  const clock = options.clock ?? systemClock
  const send = (ws: WebSocket, line: string) => {
    if (ws.readyState !== WebSocket.OPEN) return
    const lines = queued.get(ws)
    if (lines === undefined) queued.set(ws, [line])
    else lines.push(line)
    flusher.schedule()
  }
  const batch = makeFeedBatch({ model, showSecrets, clients, isLean: (ws) => lean.has(ws), send, schedule: () => flusher.schedule() })
  const flushMs = options.flushMs ?? 50
  const flush = (): boolean => {
    // Sessions that changed with no chart step (a request in flight on the fast path) are found by their
    // `infoVersion` (nothing is done per change for the feed): the flusher runs every `flushMs` while a
    // client is connected (with `flushMs <= 0`, at the next flush anything else asks for).
    model.poll()
    const held = batch.drain()
    for (const [ws, lines] of queued) {
      if (ws.readyState !== WebSocket.OPEN) continue
      if (ws.bufferedAmount > maxBuffered) {
        ws.close(1013, "inspector feed backlog too large; reconnect")
        continue
      }
      ws.send(lines.join("\n"))
    }
    queued.clear()
    return held
  }
  const flusher = makeFeedFlusher(clock, flushMs, flush, () => clients.size > 0)
  // The model feeds the batch only while a client listens, and hands over `@xstate.event`s only while a full client does.
  let unsubscribe: (() => void) | undefined
  let subscribedFull = false
  const follow = () => {
    let leanClients = 0
    for (const ws of clients) if (lean.has(ws)) leanClients++
    const full = clients.size - leanClients > 0
    batch.want(leanClients > 0, full)
    if (clients.size === 0) {
      unsubscribe?.()
      unsubscribe = undefined
    } else if (unsubscribe === undefined || full !== subscribedFull) {
      // The new subscription before the old one ends: the model never finds itself unwatched in between.
      const before = unsubscribe
      // Only lean clients (the page): snapshots come as calls, with no message object per event.
      // (A listener of its own: the model takes one function once.)
      unsubscribe = model.subscribe((message) => batch.add(message), full ? { events: true } : { events: false, snapshots: batch.touch })
      subscribedFull = full
      before?.()
    }
  }

  const refuse = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS })
    res.end(`${message}\n`)
  }
  const json = (res: ServerResponse, body: unknown, extra: Record<string, string> = {}) => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS, ...extra })
    res.end(JSON.stringify(body))
  }
  /** The reason to refuse, with its status, or undefined. */
  const check = (req: IncomingMessage, url: URL): readonly [number, string] | undefined => {
    const bad = guard(req)
    if (bad !== undefined) return [403, bad]
    const given = tokenOf(req, url)
    if (given === undefined) return [401, "the inspector needs its token (?token=… as printed when it started)"]
    if (!sameToken(given, token)) return [401, "wrong inspector token"]
    return undefined
  }

  // Approvals: listed on every connected page; answered by a POST or a WebSocket message, both behind the token and Origin checks.
  const approver = options.approver
  const unsubscribeApprovals = approver?.subscribe((c) => {
    if (clients.size === 0) return
    const line = JSON.stringify(c.type === "pending" ? approvalFeedObject(c.pending, showSecrets) : approvalGoneFeedObject(c.id, c.answered))
    for (const ws of clients) send(ws, line)
  })
  const decide = (id: string | undefined, body: unknown): readonly [number, string] => {
    const d = parseApprovalDecision(body)
    if (typeof d === "string") return [400, d]
    const which = id ?? d.id
    if (which === undefined) return [400, "the decision needs the approval's \"id\""]
    if (approver === undefined) return [404, "this inspector answers no approvals (serve with --approver inspector)"]
    if (!approver.answer(which, d.approved, d.reason)) return [404, "no such pending approval (answered elsewhere, expired or unknown)"]
    return [200, d.approved ? "approved" : "denied"]
  }
  const answerRequest = (req: IncomingMessage, res: ServerResponse, id: string) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > 64 * 1024) req.destroy()
      else chunks.push(c)
    })
    req.on("end", () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return refuse(res, 400, "the decision must be JSON: {\"approved\": true|false, \"reason\"?: string}")
      }
      const [status, message] = decide(id, body)
      if (status !== 200) return refuse(res, status, message)
      json(res, { id, decision: message })
    })
  }

  const http = createServer((req, res) => {
    const url = requestUrl(req.url, "http://inspector")
    if (url === undefined) return refuse(res, 400, "the request target is not a URL")
    const refused = check(req, url)
    if (refused !== undefined) return refuse(res, refused[0], refused[1])
    const answering = /^\/approvals\/([^/]+)$/.exec(url.pathname)
    if (answering !== null && req.method === "POST") {
      const id = decodeSegment(answering[1]!)
      return id === undefined ? refuse(res, 400, "malformed percent-escape in the approval id") : answerRequest(req, res, id)
    }
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(res, 405, "only GET")
    const path = url.pathname
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        ...SECURITY_HEADERS,
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"
      })
      return res.end(inspectorPage)
    }
    if (path === "/approvals") return json(res, (approver?.pending() ?? []).map((p) => approvalFeedObject(p, showSecrets)))
    if (path === "/actors") {
      return json(res, { version: FEED_VERSION, showSecrets, messages: model.snapshotMessages().map((m) => feedObject(model, m, showSecrets)) })
    }
    const chart = /^\/chart\/([A-Za-z0-9_.-]+)$/.exec(path)
    if (chart !== null) {
      const machine = machines.get(chart[1]!)
      if (machine === undefined) return refuse(res, 404, `no chart ${chart[1]}`)
      chartLayout(machine).then((layout) => json(res, layout), (e: unknown) => refuse(res, 500, `layout failed: ${String(e)}`))
      return
    }
    const rec = /^\/(record|replay)\/([^/]+)$/.exec(path)
    if (rec !== null) {
      const id = decodeSegment(rec[2]!)
      if (id === undefined) return refuse(res, 400, "malformed percent-escape in the actor id")
      const file = record(id)
      if (file === undefined) return refuse(res, 404, "no such actor (ended actors are kept for a while only)")
      if (rec[1] === "record") {
        return json(res, file, { "content-disposition": `attachment; filename="record-${file.machine ?? "actor"}-${file.sessionId.replace(/[^A-Za-z0-9]/g, "")}.json"` })
      }
      try {
        return json(res, replayRecord(file, machines))
      } catch (e) {
        return refuse(res, e instanceof ReplayError ? 422 : 500, (e as Error).message)
      }
    }
    return refuse(res, 404, "not found")
  })

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuseUpgrade = (status: number, message: string) =>
      void socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${message}\n`)
    const url = requestUrl(req.url, "http://inspector")
    if (url === undefined) return refuseUpgrade(400, "the request target is not a URL")
    const refused = check(req, url) ?? (url.pathname === "/feed" ? undefined : [404, "not found"] as const)
    if (refused !== undefined) return refuseUpgrade(refused[0], refused[1])
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (url.searchParams.get("definitions") === "0") lean.add(ws)
      clients.add(ws)
      follow()
      flusher.schedule()
      ws.on("error", () => ws.terminate())
      ws.on("close", () => {
        clients.delete(ws)
        follow()
      })
      send(ws, JSON.stringify({ type: "@mcp-actors.hello", version: FEED_VERSION, showSecrets, createdAt: Date.now() }))
      for (const m of model.snapshotMessages()) send(ws, JSON.stringify(feedObject(model, m, showSecrets)))
      for (const p of approver?.pending() ?? []) send(ws, JSON.stringify(approvalFeedObject(p, showSecrets)))
      ws.on("message", (data, isBinary) => {
        let body: unknown
        try {
          body = isBinary ? undefined : JSON.parse(String(data))
        } catch {
          body = undefined
        }
        const id = typeof body === "object" && body !== null && typeof (body as { id?: unknown }).id === "string" ? (body as { id: string }).id : undefined
        const [status, message] = decide(undefined, body)
        send(ws, JSON.stringify({ type: "@mcp-actors.approval.answer", id: id ?? null, ok: status === 200, status, message, createdAt: Date.now() }))
      })
      // Everything before this marker was the current state; live messages follow.
      send(ws, JSON.stringify({ type: "@mcp-actors.synced", createdAt: Date.now() }))
    })
  })

  const host = options.host ?? "127.0.0.1"
  const { port, urlHost } = await listenHttp(http, options.port ?? 0, host).catch((e: unknown) => {
    // The port is taken: nothing is served, so nothing may keep following the runtime (the model's hub and registry subscriptions).
    unsubscribeApprovals?.()
    model.close()
    wss.close()
    throw e
  })
  const origin = `http://${urlHost}:${port}`
  let closing: Promise<void> | undefined
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    model,
    registry,
    get clients() {
      return clients.size
    },
    record,
    writeRecord: async (id, path) => {
      const file = record(id)
      if (file === undefined) return false
      await writeFile(path, JSON.stringify(file, null, 2) + "\n", "utf8")
      return true
    },
    close: () =>
      closing ??= new Promise<void>((resolve) => {
        unsubscribe?.()
        unsubscribe = undefined
        unsubscribeApprovals?.()
        flusher.cancel()
        model.close()
        for (const ws of clients) ws.terminate()
        clients.clear()
        queued.clear()
        wss.close()
        http.close(() => resolve())
        http.closeAllConnections()
      })
  }
}
