/**
 * The record of one actor: a bounded ring buffer of (time, event, state)
 * entries, and the file format it is downloaded and replayed as.
 *
 * Why a base snapshot: the buffer forgets its oldest entries, so replay starts
 * from the state (value and context) just before the first entry it still
 * holds, not from the machine's initial state.
 */
import type { EventObject, StateValue } from "xstate"
import { redactId, toJsonSafe } from "./redact.ts"

/** One processed event and the state it led to. Holds references only: nothing is copied until it is serialized. */
export interface RecordEntry {
  /** Epoch ms. */
  readonly t: number
  readonly event: EventObject
  readonly value: StateValue | undefined
  readonly context: unknown
  readonly status: string
}

/** The state a record starts from. */
export interface RecordBase {
  readonly t: number
  readonly value: StateValue | undefined
  readonly context: unknown
  readonly status: string
}

/** Why an actor ended, as the inspector saw it. */
export interface RecordEnd {
  readonly t: number
  /** The actor's final status: `done`, `error`, `stopped`, or `gone` when only its session's end was seen. */
  readonly status: string
  readonly reason: string
  /** Ended unexpectedly (an actor error, a crash, a dead peer). */
  readonly error: boolean
}

export const RECORD_FORMAT = "mcp-actors.record/1"

/**
 * Runs a record's slots are first made for: a churned HTTP session's record holds its start (the
 * base, see {@link RecordBuffer.begin}) and 3 entries (`INITIALIZE`, `INITIALIZED`, its end; a call
 * takes the chart's fast path, no step). Was 8: 40 slots (336 bytes) made per session for 15–20 used,
 * the largest allocation the unwatched inspector made per session. A longer record grows as any array
 * does (to 46 slots, then by half).
 */
export const FIRST_RUNS = 4

/** A record as written to a file (JSON). */
export interface RecordFile {
  readonly format: typeof RECORD_FORMAT
  /** The machine's id: the chart replay runs (`machines/`). */
  readonly machine: string | undefined
  /** xstate's session id of the actor, and its actor id (the MCP session id for sessions). */
  readonly sessionId: string
  readonly id: string
  readonly parentId: string | undefined
  readonly startedAt: number
  readonly base: RecordBase | undefined
  readonly records: ReadonlyArray<{ readonly t: number; readonly event: unknown; readonly value: unknown; readonly status: string }>
  /** Entries the ring buffer forgot before `base`. */
  readonly dropped: number
  readonly end: RecordEnd | undefined
  /** Whether secret values were replaced (events' arguments, tokens). */
  readonly redacted: boolean
}

/**
 * A fixed-capacity ring of entries; the entry it forgets becomes the base.
 *
 * Why parallel arrays: a record is written on every event of every inspected
 * actor, while nobody may ever read it. A push is five array stores (no object
 * per entry, nothing copied or serialized); entries are built only when read.
 * The ring has one run more than the capacity, for the base: the actor's start
 * (`begin`) or, once the ring is full, its oldest run (the state before the
 * oldest entry held), read only when asked for, so neither a start nor a push
 * into a full ring makes an object.
 */
export class RecordBuffer {
  readonly capacity: number
  /** Runs of five slots (t, event, value, context, status), at most `capacity + 1`, made on the first run. */
  #slots: Array<unknown> | undefined
  /** Runs held (the base's included, when there is one). */
  #runs = 0
  /** Ring index of the oldest run held. */
  #head = 0
  #added = 0
  /** The oldest run held is the base, not an entry: the start was given (`begin`), or the ring is full. */
  #based = false

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`record capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  /** The state the first held entry started from. */
  get base(): RecordBase | undefined {
    if (!this.#based) return undefined
    const s = this.#slots!
    const i = this.#head * 5
    return { t: s[i] as number, value: s[i + 2] as StateValue | undefined, context: s[i + 3], status: s[i + 4] as string }
  }
  get size(): number {
    return this.#based ? this.#runs - 1 : this.#runs
  }
  /** Entries forgotten so far. */
  get dropped(): number {
    return this.#added - this.size
  }
  /** Entries ever added: the sequence number the next entry gets (entry `n` is the `n`-th added, from 0). */
  get total(): number {
    return this.#added
  }

  /**
   * The state the record starts from (the actor's initial snapshot), before any entry; ignored after
   * one (returns whether it was taken). Why in the slots: it was a base object of its own per actor
   * (and a boxed time), made for every churned session, read only if its record is downloaded.
   */
  begin(t: number, value: StateValue | undefined, context: unknown, status: string): boolean {
    if (this.#runs > 0) return false
    const slots = this.#slots ??= new Array<unknown>(Math.min(this.capacity + 1, FIRST_RUNS) * 5)
    slots[0] = t
    slots[1] = undefined
    slots[2] = value
    slots[3] = context
    slots[4] = status
    this.#runs = 1
    this.#based = true
    return true
  }

  /**
   * Start again from this state: the entries held are forgotten (counted in `dropped`), this state is the
   * base. For an actor followed again after a while unwatched: what it did meanwhile was not seen, so its
   * earlier entries no longer lead to its state, and a replay starts from here.
   */
  rebase(t: number, value: StateValue | undefined, context: unknown, status: string): void {
    const slots = this.#slots ??= new Array<unknown>(Math.min(this.capacity + 1, FIRST_RUNS) * 5)
    slots.fill(undefined)
    slots[0] = t
    slots[2] = value
    slots[3] = context
    slots[4] = status
    this.#runs = 1
    this.#head = 0
    this.#based = true
  }

  push(entry: RecordEntry): void {
    this.add(entry.t, entry.event, entry.value, entry.context, entry.status)
  }

  /** {@link push} without an entry object (the inspector's hot path). */
  add(t: number, event: EventObject, value: StateValue | undefined, context: unknown, status: string): void {
    // Sized for a short session's record at once (a churned HTTP session makes 3 entries after its
    // start): pushed from empty, its slots were allocated twice (17, then 41) and copied once.
    const slots = this.#slots ??= new Array<unknown>(Math.min(this.capacity + 1, FIRST_RUNS) * 5)
    this.#added++
    // Filling: the next run at the end (past the first runs a store there grows the array as a push
    // would). Full: the oldest run (the base) makes way, and the next oldest becomes the base.
    const filling = this.#runs <= this.capacity
    const i = (filling ? this.#runs : this.#head) * 5
    slots[i] = t
    slots[i + 1] = event
    slots[i + 2] = value
    slots[i + 3] = context
    slots[i + 4] = status
    if (filling) {
      // One run more than the capacity: the oldest is the base from now on.
      if (++this.#runs > this.capacity) this.#based = true
      return
    }
    this.#head = this.#head === this.capacity ? 0 : this.#head + 1
  }

  /**
   * The actor ended: nothing more is added, so no entry will become the base. Each entry's context
   * (kept only for the entry that may become the base) is let go, so the ended actors the inspector
   * keeps for a while hold their events and states, not every context they went through.
   */
  seal(): void {
    const s = this.#slots
    if (s === undefined || this.#runs > this.capacity) return
    // (Not full: the ring has not wrapped, its base, if any, is run 0.)
    for (let i = this.#based ? 8 : 3, end = this.#runs * 5; i < end; i += 5) s[i] = undefined
  }

  /** Ring index (in slots) of held entry `k` (0: the oldest entry; the base is not an entry). */
  #index(k: number): number {
    return ((this.#head + this.#runs - this.size + k) % this.#runs) * 5
  }

  #at(k: number): RecordEntry {
    const i = this.#index(k)
    const s = this.#slots!
    return { t: s[i] as number, event: s[i + 1] as EventObject, value: s[i + 2] as StateValue | undefined, context: s[i + 3], status: s[i + 4] as string }
  }

  /** Oldest first. */
  entries(): ReadonlyArray<RecordEntry> {
    return this.last(this.size)
  }

  /**
   * Entries from sequence number `seq` on (see {@link total}), oldest first, at most the newest `max`:
   * what happened since a reader last looked, without the reader keeping a copy of each entry.
   */
  since(seq: number, max: number): ReadonlyArray<RecordEntry> {
    return this.last(Math.min(max, this.total - seq))
  }

  /** {@link since} without an entry object each: calls `f` per entry, oldest first; returns how many. */
  eachSince(seq: number, max: number, f: (t: number, event: EventObject, value: StateValue | undefined, status: string) => void): number {
    const size = this.size
    const n = Math.min(max, this.total - seq, size)
    const s = this.#slots
    if (n <= 0 || s === undefined) return 0
    for (let k = size - n; k < size; k++) {
      const i = this.#index(k)
      f(s[i] as number, s[i + 1] as EventObject, s[i + 2] as StateValue | undefined, s[i + 4] as string)
    }
    return n
  }

  /** The newest `n` entries, oldest first. */
  last(n: number): ReadonlyArray<RecordEntry> {
    const size = this.size
    const out: Array<RecordEntry> = []
    for (let k = Math.max(0, size - n); k < size; k++) out.push(this.#at(k))
    return out
  }
}

/** Serialize a record (secrets redacted unless `showSecrets`). */
export const toRecordFile = (
  actor: {
    readonly machine: string | undefined
    readonly sessionId: string
    readonly id: string
    readonly parentId: string | undefined
    readonly startedAt: number
    readonly record: RecordBuffer
    readonly end: RecordEnd | undefined
  },
  showSecrets: boolean
): RecordFile => {
  const opts = { showSecrets, maxDepth: 12 }
  const base = actor.record.base
  return {
    format: RECORD_FORMAT,
    machine: actor.machine,
    sessionId: actor.sessionId,
    id: redactId(actor.id, showSecrets),
    parentId: actor.parentId,
    startedAt: actor.startedAt,
    base: base === undefined ? undefined : { t: base.t, value: base.value, context: toJsonSafe(base.context, opts), status: base.status },
    records: actor.record.entries().map((e) => ({ t: e.t, event: toJsonSafe(e.event, opts), value: e.value, status: e.status })),
    dropped: actor.record.dropped,
    end: actor.end,
    redacted: !showSecrets
  }
}

/** A state value as one line: `a.b`, parallel regions `r1.x | r2.y` (sorted, so equal values print equally). */
export const stateLabel = (value: unknown): string => {
  if (value === undefined || value === null) return "(none)"
  if (typeof value === "string") return value
  if (typeof value !== "object") return String(value)
  const parts: Array<string> = []
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === "string") {
      parts.push(prefix === "" ? v : `${prefix}.${v}`)
      return
    }
    if (v === null || typeof v !== "object") return
    const keys = Object.keys(v).sort()
    if (keys.length === 0 && prefix !== "") parts.push(prefix)
    for (const k of keys) walk((v as Record<string, unknown>)[k], prefix === "" ? k : `${prefix}.${k}`)
  }
  walk(value, "")
  return parts.join(" | ")
}
