/**
 * Fuzzing a message-framed transport (stdio lines, WebSocket text frames)
 * against a real server: every frame is followed by a sentinel request on the
 * same connection, frames and sentinels are pipelined, and the replies between
 * two sentinel answers are exactly what the frame produced. Those are judged by
 * the oracle; the sentinel must get its own correct answer. Frames that change
 * the session (or whose effect the oracle cannot know in advance) are barriers:
 * the pipeline drains before the next frame is sent.
 */
import { type FrameGen, IdSource, materialize } from "./frames.ts"
import { checkResult, type Expectation, FRESH, judge, type SessionModel, oracle } from "./oracle.ts"
import type { Connection } from "./servers.ts"
import { FuzzFailure, type FuzzStats, newStats, showFrame } from "./report.ts"

/**
 * Sentinel request ids. Generated string ids are `<prefix>#<n>` (`IdSource`), and the prefix
 * may be "s", so a sentinel id ends in "!": no generated id can be taken for a sentinel's.
 */
export const sentinelIdFor = (n: number): string => `s#${n}!`
export const isSentinelId = (id: unknown): boolean => typeof id === "string" && /^s#\d+!$/.test(id)

export interface Window {
  /** Start this window on a new connection (the server process is reused). */
  readonly fresh: boolean
  readonly frames: ReadonlyArray<FrameGen>
  /** HTTP: per frame, which header fault (if any) to send it with. */
  readonly rolls?: ReadonlyArray<number>
  /** HTTP: the legacy version a new session negotiates. */
  readonly version?: string
}

export interface MessageFuzzerOptions {
  readonly transport: "stdio" | "ws"
  readonly open: () => Promise<Connection>
  readonly maxMessageBytes: number
  /** How long a frame's replies and sentinel may take. Default 15 s (busy machines). */
  readonly timeoutMs?: number
  /** stdio: a new connection is a new process; open one at most every this many frames. */
  readonly minFramesPerConnection?: number
  /** After each window, check that a new connection is served (WebSocket). */
  readonly checkFreshConnection?: boolean
  /** Network servers: whether the server process is still up, and its stderr (a crash's stack). */
  readonly server?: { readonly alive: () => boolean; readonly stderr: () => string }
  /**
   * A connection still in the handshake this long is replaced before the next window:
   * the server's handshake deadline (10 s WebSocket, 60 s stdio CLI) would close it.
   */
  readonly maxHandshakeAgeMs?: number
}

interface Pending {
  readonly piece: Uint8Array
  readonly model: SessionModel
  readonly exp: Expectation
  readonly sentinelId: string
  readonly sentinelEcho: boolean
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const sameModel = (a: SessionModel, b: SessionModel) => a.phase === b.phase && a.version === b.version
const fatal = new TextDecoder("utf-8", { fatal: true })
const isUtf8 = (b: Uint8Array): boolean => {
  try {
    fatal.decode(b)
    return true
  } catch {
    return false
  }
}

/** stdio frames are lines: a frame with raw newlines is several frames (a trailing CR is not part of one). */
const splitLines = (frame: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let start = 0
  for (let i = 0; i <= frame.length; i++) {
    if (i === frame.length || frame[i] === 0x0a) {
      let end = i
      if (end > start && frame[end - 1] === 0x0d) end--
      out.push(frame.subarray(start, end))
      start = i + 1
    }
  }
  return out
}

export class MessageFuzzer {
  readonly stats: FuzzStats = newStats()
  private readonly options: MessageFuzzerOptions
  private conn: Connection | undefined
  private model: SessionModel = FRESH
  private ids = new IdSource()
  private sentinels = 0
  private framesOnConnection = 0
  private openedAt = 0
  private inbox: Array<unknown> = []
  private wake: (() => void) | undefined
  private pending: Array<Pending> = []
  private readonly held = new Map<unknown, string>()
  private readonly inFlight = new Set<unknown>()

  constructor(options: MessageFuzzerOptions) {
    this.options = options
  }

  private get timeoutMs() {
    return this.options.timeoutMs ?? 15_000
  }

  async runWindow(w: Window): Promise<void> {
    const min = this.options.minFramesPerConnection ?? 0
    const stuck = this.model.phase !== "operating" && Date.now() - this.openedAt > (this.options.maxHandshakeAgeMs ?? Infinity)
    if (this.conn === undefined || stuck || (w.fresh && this.framesOnConnection >= min)) {
      await this.reopen()
      // Half the new sessions start operating on the window's version (every version, 2025-03-26 batches
      // included, gets its share); the others start fresh and meet the handshake frames as generated.
      if (w.version !== undefined && (w.rolls?.[0] ?? 1) % 2 === 0) await this.handshake(w.version)
    }
    for (const gen of w.frames) {
      this.stats.frames++
      this.framesOnConnection++
      const m = materialize(gen, this.ids)
      let frames = m.frames
      if (m.heldId !== undefined) {
        // A slow request held in flight; the next frame reuses its id.
        this.conn!.send(frames[0]!)
        this.held.set(m.heldId, "waited 40 ms")
        this.inFlight.add(m.heldId)
        frames = frames.slice(1)
      }
      for (const frame of frames) {
        const pieces = this.options.transport === "stdio" ? splitLines(frame) : [frame]
        for (const piece of pieces) await this.sendPiece(piece)
      }
      if (m.heldId !== undefined) {
        await this.flush()
        await this.awaitHeld()
      }
    }
    await this.flush()
    if (this.options.checkFreshConnection === true) await this.checkFresh()
  }

  async close(): Promise<void> {
    await this.flush()
    const conn = this.conn
    this.conn = undefined
    if (conn !== undefined) {
      await conn.close()
      if (this.inbox.length > 0) throw new FuzzFailure(this.options.transport, { why: `unexplained messages at close: ${JSON.stringify(this.inbox).slice(0, 500)}` })
    }
  }

  private async reopen(): Promise<void> {
    await this.close()
    const conn = await this.options.open()
    this.stats.connections++
    this.conn = conn
    this.openedAt = Date.now()
    this.model = FRESH
    this.framesOnConnection = 0
    this.inbox = []
    conn.onMessage = (msg) => {
      this.inbox.push(msg)
      this.wake?.()
    }
  }

  /** A well-behaved handshake on the current connection (initialize → initialized), then a sentinel. */
  private async handshake(version: string): Promise<void> {
    const init = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: `h#${++this.sentinels}`, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } }))
    await this.sendPiece(init)
    await this.sendPiece(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'))
    await this.flush()
    if (this.model.phase !== "operating") throw new FuzzFailure(this.options.transport, { why: `the handshake on ${version} did not reach operating`, phase: this.model })
  }

  private async sendPiece(piece: Uint8Array): Promise<void> {
    this.stats.pieces++
    if (this.options.transport === "ws" && !isUtf8(piece)) return this.badUtf8OnOwnSocket(piece)
    const model = this.model
    const exp = oracle(piece, model, { maxMessageBytes: this.options.maxMessageBytes, ignoreBlank: this.options.transport === "stdio", inFlight: this.inFlight })
    const sentinelId = sentinelIdFor(++this.sentinels)
    const sentinelEcho = model.phase === "operating"
    this.conn!.send(piece)
    this.conn!.send(Buffer.from(JSON.stringify(sentinelEcho
      ? { jsonrpc: "2.0", id: sentinelId, method: "tools/call", params: { name: "echo", arguments: { text: sentinelId } } }
      : { jsonrpc: "2.0", id: sentinelId, method: "ping" })))
    this.pending.push({ piece, model, exp, sentinelId, sentinelEcho })
    const barrier = !sameModel(exp.next, model) || exp.outcomes.some((o) => o.next !== undefined && !sameModel(o.next, exp.next))
    if (barrier || this.pending.length >= 256) await this.flush()
    else this.model = exp.next
  }

  /** The next message, or a failure when the connection closes or nothing comes in time. */
  private async nextMessage(deadline: number, waitingFor: string): Promise<unknown> {
    for (;;) {
      const m = this.inbox.shift()
      if (m !== undefined) return m
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no reply within ${this.timeoutMs} ms (waiting for ${waitingFor})`)
      let timer: ReturnType<typeof setTimeout> | undefined
      const closed = await Promise.race([
        new Promise<undefined>((r) => {
          this.wake = () => r(undefined)
          timer = setTimeout(() => r(undefined), left)
        }),
        this.conn!.closed
      ])
      clearTimeout(timer)
      this.wake = undefined
      if (typeof closed === "string" && this.inbox.length === 0) throw new Error(`connection lost while waiting for ${waitingFor}: ${closed}`)
    }
  }

  private takeHeld(m: unknown): boolean {
    if (!isObject(m) || !this.held.has(m.id) || !("result" in m || "error" in m)) return false
    if ("error" in m) {
      // The held request's own answer is a result; an error with its id is the duplicate's.
      return false
    }
    const text = this.held.get(m.id)!
    this.held.delete(m.id)
    this.inFlight.delete(m.id)
    const bad = checkResult({ t: "echo", text }, m.result, true)
    if (bad !== undefined) throw new FuzzFailure(this.options.transport, { why: `held request ${String(m.id)}: ${bad}`, got: [m] })
    return true
  }

  private async flush(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    const pending = this.pending
    this.pending = []
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!
      const group: Array<unknown> = []
      try {
        for (;;) {
          const m = await this.nextMessage(deadline, `sentinel ${p.sentinelId}`)
          if (this.takeHeld(m)) continue
          if (isObject(m) && m.id === p.sentinelId) {
            const bad = "result" in m
              ? checkResult(p.sentinelEcho ? { t: "echo", text: p.sentinelId } : { t: "empty" }, m.result, false)
              : `sentinel got an error: ${JSON.stringify(m.error)}`
            if (bad !== undefined) throw new Error(`sentinel ${p.sentinelEcho ? "echo" : "ping"} failed: ${bad}`)
            break
          }
          if (isObject(m) && isSentinelId(m.id)) throw new Error(`sentinel ${m.id} answered before ${p.sentinelId}`)
          group.push(m)
        }
      } catch (e) {
        const why = e instanceof FuzzFailure ? e.message : (e as Error).message
        if (why.startsWith("connection lost")) throw await this.culprit(pending.slice(i), group, why)
        throw await this.failure(p, group, why)
      }
      const verdict = judge(p.exp, group)
      if (!verdict.ok) throw await this.failure(p, group, verdict.why)
      this.stats.byLabel.set(verdict.outcome.label, (this.stats.byLabel.get(verdict.outcome.label) ?? 0) + 1)
      this.model = verdict.outcome.next ?? p.exp.next
    }
  }

  private async awaitHeld(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    while (this.held.size > 0) {
      const m = await this.nextMessage(deadline, `held request ${[...this.held.keys()].join(",")}`)
      if (!this.takeHeld(m)) throw new FuzzFailure(this.options.transport, { why: "unexpected message while waiting for the held request", got: [m] })
    }
  }

  private async failure(p: Pending, got: ReadonlyArray<unknown>, why: string): Promise<FuzzFailure> {
    const alone = await this.reproduceAlone(p.piece, p.model).catch((e) => `could not check: ${(e as Error).message}`)
    return new FuzzFailure(this.options.transport, {
      why,
      phase: p.model,
      frame: showFrame(p.piece),
      expected: p.exp.outcomes.map((o) => o.label),
      got,
      alone
    })
  }

  /**
   * The connection died with several frames in the pipeline (replies written in
   * the same tick as a crash are lost with it): replay them one by one, each on
   * a new connection, and name the first that reproduces alone.
   */
  private async culprit(candidates: ReadonlyArray<Pending>, got: ReadonlyArray<unknown>, why: string): Promise<FuzzFailure> {
    const server = this.options.server
    // A dying process closes its sockets a moment before its exit is reported.
    for (let i = 0; i < 20 && server !== undefined && server.alive(); i++) await new Promise((r) => setTimeout(r, 100))
    if (server !== undefined && !server.alive()) {
      // The whole server died: one of these frames killed it (its stack is in the log).
      return new FuzzFailure(this.options.transport, {
        why: `${why}: the server process died; stderr: ${server.stderr().slice(-1_500)}`,
        phase: candidates[0]!.model,
        frame: candidates.map((p) => showFrame(p.piece)).join("\n         "),
        got
      })
    }
    for (const p of candidates.slice(0, 32)) {
      const alone = await this.reproduceAlone(p.piece, p.model).catch((e) => `could not check: ${(e as Error).message}`)
      if (alone.startsWith("reproduces")) {
        return new FuzzFailure(this.options.transport, { why, phase: p.model, frame: showFrame(p.piece), expected: p.exp.outcomes.map((o) => o.label), got, alone })
      }
    }
    return this.failure(candidates[0]!, got, `${why} (no single frame of the ${candidates.length} in flight reproduces it alone)`)
  }

  /** Replay one frame on a new connection brought to `model`: the minimal reproduction. */
  private async reproduceAlone(piece: Uint8Array, model: SessionModel): Promise<string> {
    const conn = await this.options.open()
    const inbox: Array<unknown> = []
    let wake: (() => void) | undefined
    conn.onMessage = (m) => {
      inbox.push(m)
      wake?.()
    }
    const waitFor = async (id: string): Promise<Array<unknown>> => {
      const deadline = Date.now() + 5_000
      for (;;) {
        const i = inbox.findIndex((m) => isObject(m) && m.id === id)
        if (i !== -1) return inbox.splice(0, i + 1).slice(0, i)
        if (Date.now() > deadline) throw new Error(`no answer to ${id}`)
        await Promise.race([new Promise<void>((r) => {
          wake = r
          setTimeout(r, 200)
        }), conn.closed.then((why) => {
          throw new Error(why)
        })])
      }
    }
    try {
      if (model.phase !== "fresh") {
        conn.send(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: "r-init", method: "initialize", params: { protocolVersion: model.version, capabilities: {}, clientInfo: { name: "repro", version: "1" } } })))
        await waitFor("r-init")
        if (model.phase === "operating") conn.send(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'))
      }
      conn.send(piece)
      conn.send(Buffer.from('{"jsonrpc":"2.0","id":"r-ping","method":"ping"}'))
      const got = await waitFor("r-ping")
      const verdict = judge(oracle(piece, model, { maxMessageBytes: this.options.maxMessageBytes, ignoreBlank: this.options.transport === "stdio" }), got)
      return verdict.ok ? "does not reproduce alone (depends on earlier frames)" : `reproduces alone on a new connection: ${verdict.why}; got ${JSON.stringify(got).slice(0, 400)}`
    } catch (e) {
      return `reproduces alone: ${(e as Error).message}`
    } finally {
      await conn.close().catch(() => {})
    }
  }

  /** WebSocket text frames must be UTF-8: such a frame may close its socket (1007), so it gets a socket of its own. */
  private async badUtf8OnOwnSocket(piece: Uint8Array): Promise<void> {
    await this.flush()
    const conn = await this.options.open()
    const got: Array<unknown> = []
    const answered = new Promise<void>((r) => {
      conn.onMessage = (m) => {
        if (isObject(m) && m.id === "u-ping") r()
        else got.push(m)
      }
    })
    conn.send(piece)
    conn.send(Buffer.from('{"jsonrpc":"2.0","id":"u-ping","method":"ping"}'))
    const outcome = await Promise.race([answered.then(() => "answered"), conn.closed, new Promise<string>((r) => setTimeout(() => r("timeout"), this.timeoutMs))])
    await conn.close()
    if (outcome === "answered") {
      const verdict = judge(oracle(piece, FRESH, { maxMessageBytes: this.options.maxMessageBytes }), got)
      if (!verdict.ok) throw new FuzzFailure("ws", { why: verdict.why, phase: FRESH, frame: showFrame(piece), got })
      this.stats.byLabel.set(verdict.outcome.label, (this.stats.byLabel.get(verdict.outcome.label) ?? 0) + 1)
      return
    }
    if (!outcome.startsWith("socket closed (1007")) throw new FuzzFailure("ws", { why: `invalid UTF-8 text frame: expected close 1007 or a judged answer, got ${outcome}`, phase: FRESH, frame: showFrame(piece), got })
    this.stats.byLabel.set("ws-close-1007", (this.stats.byLabel.get("ws-close-1007") ?? 0) + 1)
  }

  /** The server still serves a new connection. */
  private async checkFresh(): Promise<void> {
    const conn = await this.options.open()
    try {
      const answer = new Promise<unknown>((r) => (conn.onMessage = r))
      conn.send(Buffer.from('{"jsonrpc":"2.0","id":"fresh","method":"ping"}'))
      const m = await Promise.race([answer, conn.closed, new Promise((r) => setTimeout(() => r("timeout"), this.timeoutMs))])
      if (!isObject(m) || m.id !== "fresh" || !isObject(m.result)) throw new FuzzFailure(this.options.transport, { why: `a new connection is not served: ${JSON.stringify(m)}` })
    } finally {
      await conn.close()
    }
  }
}
