/**
 * Pending approvals, recorded durably so they are visible (CLI, inspector) and
 * survive a restart of the gateway: a JSON Lines file of events —
 * `pending`, `resolved` (approved or not, by whom, when) and `consumed`.
 *
 * Why a JSON Lines file and not `node:sqlite` or Effect's persistence: the
 * records are few and append-only; an appended line is a single `write` with
 * `O_APPEND`, so the CLI (`mcp-actors approvals approve ID`) can record an
 * answer from another process without a lock or a server; it is readable with
 * `cat`; and `node:sqlite` is still flagged experimental on the Node 22 line
 * the package supports. The file is replayed on open; `watch` picks up answers
 * other processes append.
 *
 * An approval granted after its caller went away (a restart) is kept as a
 * grant: the same principal retrying the same call (same target, same argument
 * digest) before the deadline consumes it instead of asking again.
 */
import { appendFileSync, existsSync, type FSWatcher, openSync, readSync, closeSync, statSync, watch as fsWatch } from "node:fs"
import { basename, dirname } from "node:path"
import { type Clock, systemClock } from "../protocol/clock.ts"

/** A call waiting for approval, as recorded in the store and shown to approvers. */
export interface PendingApproval {
  readonly id: string
  readonly principal: string
  readonly sessionId: string | undefined
  readonly server: string
  readonly method: string
  /** Tool/prompt name or resource URI. */
  readonly target: string
  readonly argsDigest: string
  readonly args?: unknown
  readonly policies: ReadonlyArray<string>
  readonly reason: string
  readonly requestedAt: number
  readonly deadline: number
}

/** An approver's answer and who gave it (recorded in the audit trail). */
export interface ApprovalAnswer {
  readonly approved: boolean
  readonly by: string
  readonly reason?: string
}

export interface Resolution extends ApprovalAnswer {
  readonly at: number
  /** How it ended: an answer, or the deadline, or the caller going away. */
  readonly outcome: "approved" | "rejected" | "expired" | "cancelled"
}

type Event =
  | ({ readonly type: "pending" } & PendingApproval)
  | ({ readonly type: "resolved"; readonly id: string } & Resolution)
  | { readonly type: "consumed"; readonly id: string }

/** Pending approvals and their answers in a JSON Lines file, so other processes (the CLI) can answer and a restarted gateway still knows them. */
export class ApprovalStore {
  readonly path: string | undefined
  private readonly open = new Map<string, PendingApproval>()
  /** Approved with nobody waiting: grants for a retry. */
  private readonly grants = new Map<string, PendingApproval>()
  private readonly resolved = new Set<string>()
  private offset = 0
  private watcher: FSWatcher | undefined
  private partial = ""

  private constructor(path: string | undefined) {
    this.path = path
    if (path !== undefined && existsSync(path)) this.readNew(() => {})
  }

  /** A file-backed store (replayed now), or an in-memory one without `path`. */
  static open(path?: string): ApprovalStore {
    return new ApprovalStore(path)
  }

  /** Approvals waiting for an answer, oldest first. */
  pending(): ReadonlyArray<PendingApproval> {
    return [...this.open.values()]
  }

  get(id: string): PendingApproval | undefined {
    return this.open.get(id)
  }

  add(p: PendingApproval): void {
    this.apply({ type: "pending", ...p })
    this.write({ type: "pending", ...p })
  }

  /** Record how an approval ended; false when it was already resolved. */
  resolve(id: string, r: Resolution, waited: boolean): boolean {
    if (this.resolved.has(id) || !this.open.has(id)) {
      // Approved by another process (the CLI appended the answer; `watch` applied it) while its
      // caller waited: the caller takes it now, as below, or it would stay a grant for a repeat.
      if (waited && r.approved && this.grants.has(id)) this.consume(id)
      return false
    }
    const event: Event = { type: "resolved", id, ...r }
    this.apply(event)
    this.write(event)
    // The waiting caller takes it now: no grant left behind.
    if (waited && r.approved) this.consume(id)
    return true
  }

  /** An approved, unconsumed approval for exactly this call (after a restart), consumed; or undefined. */
  takeGrant(principal: string, server: string, method: string, target: string, argsDigest: string, now: number): PendingApproval | undefined {
    for (const [id, g] of this.grants) {
      if (g.deadline < now) continue
      if (g.principal === principal && g.server === server && g.method === method && g.target === target && g.argsDigest === argsDigest) {
        this.consume(id)
        return g
      }
    }
    return undefined
  }

  private consume(id: string): void {
    this.apply({ type: "consumed", id })
    this.write({ type: "consumed", id })
  }

  private apply(e: Event): void {
    switch (e.type) {
      case "pending": {
        const { type: _, ...p } = e
        if (!this.resolved.has(p.id)) this.open.set(p.id, p)
        return
      }
      case "resolved": {
        const p = this.open.get(e.id)
        this.open.delete(e.id)
        this.resolved.add(e.id)
        if (p !== undefined && e.approved) this.grants.set(e.id, p)
        return
      }
      case "consumed":
        this.grants.delete(e.id)
        return
    }
  }

  private write(e: Event): void {
    if (this.path === undefined) return
    // Our own lines are read back by `readNew` too: applying an event twice changes nothing.
    appendFileSync(this.path, `${JSON.stringify(e)}\n`)
  }

  /** Read events appended since the last read (by us or by another process). */
  private readNew(onResolved: (id: string, r: Resolution) => void): void {
    const path = this.path!
    const size = statSync(path).size
    if (size <= this.offset) return
    const fd = openSync(path, "r")
    const buf = Buffer.alloc(size - this.offset)
    readSync(fd, buf, 0, buf.length, this.offset)
    closeSync(fd)
    this.offset = size
    const text = this.partial + buf.toString("utf8")
    const lines = text.split("\n")
    this.partial = lines.pop() ?? ""
    for (const line of lines) {
      if (line.trim() === "") continue
      let e: Event
      try {
        e = JSON.parse(line) as Event
      } catch {
        continue // a torn line from a crashed writer: skipped, the rest still counts
      }
      if (e.type === "resolved" && this.open.has(e.id)) {
        this.apply(e)
        onResolved(e.id, e)
      } else this.apply(e)
    }
  }

  /** Pick up answers other processes append (the CLI); `onResolved` runs for each. */
  watch(onResolved: (id: string, r: Resolution) => void): void {
    if (this.path === undefined || this.watcher !== undefined) return
    if (!existsSync(this.path)) appendFileSync(this.path, "")
    const base = basename(this.path)
    this.watcher = fsWatch(dirname(this.path), { persistent: false }, (_e, name) => {
      if (name !== null && name !== base) return
      try {
        this.readNew(onResolved)
      } catch {
        // The file vanished or is being replaced: the next event reads it.
      }
    })
  }

  close(): void {
    this.watcher?.close()
    this.watcher = undefined
  }
}

/**
 * Append an answer from another process (the CLI); false when the id is not pending.
 * `at` is read on `clock` (that process's: the system clock by default).
 */
export const answerApproval = (path: string, id: string, answer: ApprovalAnswer, clock: Pick<Clock, "now"> = systemClock): boolean => {
  const now = clock.now()
  const store = ApprovalStore.open(path)
  if (store.get(id) === undefined) return false
  return store.resolve(id, { ...answer, at: now, outcome: answer.approved ? "approved" : "rejected" }, false)
}
