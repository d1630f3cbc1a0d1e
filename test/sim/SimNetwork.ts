/**
 * A simulated network of message transports (the `Transport` contract of
 * stdio, WebSocket and memory), driven by one seeded PRNG and one virtual
 * clock. For every frame it decides: deliver after d ms, drop, or deliver
 * twice; frames overtake each other when the profile allows it. It can stall
 * a link, crash one end of it (the crashed end sees an abrupt close at once,
 * the other end a reset later — or never, a half-open connection), and take
 * the whole listener down (a server crash: every link reset, connections
 * refused until it is back).
 *
 * Modelled on `src/transports/memory.ts`: frames sent before the receiver
 * called `start()` wait for it; a graceful close reaches the peer after the
 * frames sent before it.
 */
import { encode, type JsonRpcBatchResponse, type JsonRpcMessage } from "../../src/protocol/jsonrpc.ts"
import type { Clock as XStateClock } from "../../src/runtime/XStateClock.ts"
import type { Transport, TransportClosed, TransportHandlers } from "../../src/transports/Transport.ts"
import type { Prng } from "./Prng.ts"
import type { Trace } from "./Trace.ts"

export interface NetworkProfile {
  readonly name: string
  readonly minDelayMs: number
  readonly maxDelayMs: number
  readonly dropRate: number
  readonly duplicateRate: number
  /** Keep each direction in order (a byte stream: stdio, WebSocket); false lets frames overtake. */
  readonly fifo: boolean
  /** Chance that the survivor of a crash never hears of it (half-open connection). */
  readonly halfOpenRate: number
}

export type Side = "client" | "server"
export type Direction = "c2s" | "s2c"

/** What the invariants see of the wire. */
export interface WireObserver {
  /** A frame is handed to the receiving end's `onFrame`. */
  onDeliver(link: SimLink, direction: Direction, message: JsonRpcMessage | undefined, text: string): void
  /** An end sends a frame (before any fault is applied). */
  onSend(link: SimLink, side: Side, message: JsonRpcMessage): void
}

interface EndState {
  handlers: TransportHandlers | undefined
  backlog: Array<() => void>
  /** No more frames leave or arrive (closed, crashed, or the peer went away). */
  ending: boolean
  /** onClose was called. */
  ended: boolean
  closedBy: TransportClosed | undefined
  resolveEnded: () => void
  readonly endedPromise: Promise<void>
  closePromise: Promise<void> | undefined
}

const makeEnd = (): EndState => {
  let resolveEnded!: () => void
  const endedPromise = new Promise<void>((resolve) => (resolveEnded = resolve))
  return { handlers: undefined, backlog: [], ending: false, ended: false, closedBy: undefined, resolveEnded, endedPromise, closePromise: undefined }
}

export interface SimEndpoint extends Transport {
  readonly kind: "memory"
  readonly link: SimLink
  readonly side: Side
  readonly ended: boolean
}

export class SimLink {
  readonly id: string
  readonly label: string
  readonly ends: Record<Side, EndState> = { client: makeEnd(), server: makeEnd() }
  /** The last delivery time scheduled per direction (FIFO, and when a graceful close may follow). */
  readonly lastAt: Record<Direction, number> = { c2s: 0, s2c: 0 }
  stalledUntil = 0
  /** Intervals [from, to] during which a fault disturbed this link (liveness is not expected then). */
  readonly disturbed: Array<readonly [number, number]> = []
  /** Whether a fault touched the link at any time in [from, to]. */
  disturbedDuring(from: number, to: number): boolean {
    return this.disturbed.some(([a, b]) => a <= to && b >= from)
  }
  /** A crash dropped everything in flight; frames scheduled before it are lost. */
  epoch = 0
  client!: SimEndpoint
  server!: SimEndpoint
  constructor(id: string, label: string) {
    this.id = id
    this.label = label
  }
  get open(): boolean {
    return !this.ends.client.ending || !this.ends.server.ending
  }
}

const other = (side: Side): Side => (side === "client" ? "server" : "client")
const directionFrom = (side: Side): Direction => (side === "client" ? "c2s" : "s2c")

/** Harness faults that break the runtime's guarantees on purpose (to prove the invariants can fail). */
export type NetworkSabotage = "misroute" | "double-send"

export class SimNetwork {
  readonly links: Array<SimLink> = []
  sabotage: NetworkSabotage | undefined
  /** Scheduled network events not yet run (deliveries, closes): 0 once the network is quiet. */
  scheduled = 0
  sendsAfterClose = 0
  private listening = true
  private downUntil = 0
  private accept: ((endpoint: SimEndpoint) => void) | undefined
  private readonly observers: Array<WireObserver> = []

  private readonly rng: Prng
  private readonly clock: XStateClock
  private readonly now: () => number
  private readonly trace: Trace
  readonly profile: NetworkProfile

  constructor(rng: Prng, clock: XStateClock, now: () => number, trace: Trace, profile: NetworkProfile) {
    this.rng = rng
    this.clock = clock
    this.now = now
    this.trace = trace
    this.profile = profile
  }

  observe(observer: WireObserver): void {
    this.observers.push(observer)
  }

  listen(accept: (endpoint: SimEndpoint) => void): void {
    this.accept = accept
    this.listening = true
  }

  /** Stop accepting for good (the end of the run). */
  stopListening(): void {
    this.listening = false
  }

  get accepting(): boolean {
    return this.listening && this.now() >= this.downUntil
  }

  /** Run `fn` at virtual time `at` (never earlier than 1 ms from now: nothing on this network is instantaneous). */
  private at(at: number, fn: () => void): void {
    const delay = Math.max(1, at - this.now())
    this.scheduled++
    this.clock.setTimeout(() => {
      this.scheduled--
      fn()
    }, delay)
  }

  /** Open a connection for `label`; refused (an unexpected close) while the server is down. */
  connect(label: string): SimEndpoint {
    const link = new SimLink(`L${this.links.length + 1}`, label)
    this.links.push(link)
    link.client = this.endpoint(link, "client")
    link.server = this.endpoint(link, "server")
    if (!this.accepting || this.accept === undefined) {
      this.trace.record("net.refused", `${link.id} ${label}`)
      link.ends.server.ending = true
      link.ends.server.ended = true
      link.ends.server.resolveEnded()
      this.endAt(link, "client", this.now() + this.rng.between(1, 50), { expected: false, reason: "connection refused" })
      return link.client
    }
    this.trace.record("net.connect", `${link.id} ${label}`)
    this.accept(link.server)
    return link.client
  }

  private endpoint(link: SimLink, side: Side): SimEndpoint {
    const self = link.ends[side]
    const network = this
    return {
      kind: "memory",
      authoritativeLiveness: false,
      link,
      side,
      get ended() {
        return self.ended
      },
      start(handlers) {
        if (self.handlers !== undefined) throw new Error("sim transport: start() called twice")
        self.handlers = handlers
        const backlog = self.backlog
        self.backlog = []
        for (const run of backlog) run()
      },
      send(message) {
        network.send(link, side, message)
      },
      close() {
        return network.close(link, side)
      }
    }
  }

  private send(link: SimLink, side: Side, message: JsonRpcMessage | JsonRpcBatchResponse): void {
    const self = link.ends[side]
    const peer = link.ends[other(side)]
    if (self.ending || peer.ending) {
      this.sendsAfterClose++
      return
    }
    // A batch answer (2025-03-26) is one frame of several responses.
    for (const item of Array.isArray(message) ? message : [message as JsonRpcMessage]) {
      for (const o of this.observers) o.onSend(link, side, item)
      if (this.sabotage === "double-send" && side === "server" && !("method" in item) && this.rng.chance(0.05)) {
        for (const o of this.observers) o.onSend(link, side, item)
      }
    }
    const text = encode(message)
    const direction = directionFrom(side)
    const p = this.profile
    if (this.rng.chance(p.dropRate)) {
      this.trace.record("net.drop", `${link.id} ${direction} ${text}`)
      return
    }
    const copies = this.rng.chance(p.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      let at = this.now() + this.rng.between(p.minDelayMs, p.maxDelayMs)
      if (p.fifo) at = Math.max(at, link.lastAt[direction])
      at = Math.max(at, link.stalledUntil)
      link.lastAt[direction] = Math.max(link.lastAt[direction], at)
      this.trace.record(i === 0 ? "net.send" : "net.dup", `${link.id} ${direction} @${at} ${text}`)
      const epoch = link.epoch
      this.at(at, () => this.deliver(link, other(side), direction, text, epoch))
    }
  }

  private deliver(link: SimLink, to: Side, direction: Direction, text: string, epoch: number): void {
    if (this.sabotage === "misroute" && direction === "s2c" && this.rng.chance(0.05)) {
      const others = this.links.filter((l) => l !== link && l.ends.client.handlers !== undefined && !l.ends.client.ending)
      if (others.length > 0) link = this.rng.pick(others)
    }
    const end = link.ends[to]
    if (epoch !== link.epoch || end.ended) {
      this.trace.record("net.lost", `${link.id} ${direction} ${text}`)
      return
    }
    const run = () => {
      if (end.ended) return this.trace.record("net.lost", `${link.id} ${direction} ${text}`)
      this.trace.record("net.deliver", `${link.id} ${direction} ${text}`)
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
      for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
        for (const o of this.observers) o.onDeliver(link, direction, item as JsonRpcMessage | undefined, text)
      }
      end.handlers!.onFrame(text)
    }
    if (end.handlers === undefined) end.backlog.push(run)
    else run()
  }

  /** Call `side`'s onClose at `at` (once). */
  private endAt(link: SimLink, side: Side, at: number, closed: TransportClosed): void {
    const end = link.ends[side]
    end.ending = true
    if (end.closedBy !== undefined) return
    end.closedBy = closed
    this.at(at, () => {
      const run = () => {
        if (end.ended) return
        end.ended = true
        this.trace.record("net.closed", `${link.id} ${side} ${closed.expected ? "expected" : "unexpected"} ${closed.reason}`)
        end.handlers!.onClose(closed)
        end.resolveEnded()
      }
      // Not started yet: it hears of the close when it starts (as the memory transport does).
      if (end.handlers === undefined) end.backlog.push(run)
      else run()
    })
  }

  /** Graceful close by `side`: its peer hears of it after the frames already sent its way. */
  private close(link: SimLink, side: Side): Promise<void> {
    const self = link.ends[side]
    if (self.closePromise !== undefined) return self.closePromise
    const peerSide = other(side)
    const peer = link.ends[peerSide]
    if (!self.ending) {
      this.trace.record("net.close", `${link.id} ${side}`)
      this.endAt(link, side, this.now() + 1, { expected: true, reason: "closed" })
      if (!peer.ending) {
        const at = Math.max(this.now(), link.lastAt[directionFrom(side)], link.stalledUntil) + 1
        this.endAt(link, peerSide, at, { expected: true, reason: "peer closed" })
      }
    }
    self.closePromise = self.endedPromise
    return self.closePromise
  }

  /**
   * Abrupt end of `side` (its process died, its socket was reset): it sees an
   * unexpected close at once, everything in flight is lost, and the peer
   * hears of it after a detection delay, or never (half-open).
   */
  crash(link: SimLink, side: Side, reason = "crashed"): void {
    const self = link.ends[side]
    if (self.ending) return
    link.epoch++
    link.disturbed.push([this.now(), Infinity])
    const peerSide = other(side)
    const halfOpen = this.rng.chance(this.profile.halfOpenRate)
    this.trace.record("net.crash", `${link.id} ${side} ${halfOpen ? "half-open" : "reset"}`)
    this.endAt(link, side, this.now() + 1, { expected: false, reason })
    if (!link.ends[peerSide].ending) {
      // Half-open: the peer keeps writing into the void; only its own deadlines can tell.
      if (!halfOpen) this.endAt(link, peerSide, this.now() + this.rng.between(1, 500), { expected: false, reason: "connection reset by peer" })
    }
  }

  /** Hold every frame sent on `link` until `ms` from now. */
  stall(link: SimLink, ms: number): void {
    link.stalledUntil = Math.max(link.stalledUntil, this.now() + ms)
    link.disturbed.push([this.now(), link.stalledUntil])
    this.trace.record("net.stall", `${link.id} until ${link.stalledUntil}`)
  }

  /** The server process dies: every server end crashes, connections are refused for `downMs`. */
  crashServer(downMs: number): void {
    this.downUntil = this.now() + downMs
    this.trace.record("net.server-crash", `down until ${this.downUntil}`)
    for (const link of this.links) {
      if (!link.ends.server.ending) this.crash(link, "server", "server crashed")
    }
  }

  /** Links whose ends have not both finished. */
  openLinks(): Array<SimLink> {
    return this.links.filter((l) => !(l.ends.client.ended && l.ends.server.ended))
  }
}
