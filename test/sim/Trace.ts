/**
 * The ordered log of a simulated run: one line per event, stamped with the
 * virtual time, folded into a SHA-256 as it is written. Two runs of the same
 * seed must produce the same lines in the same order, hence the same hash.
 */
import { createHash, type Hash } from "node:crypto"

export class Trace {
  readonly #now: () => number
  readonly #hash: Hash = createHash("sha256")
  readonly #keep: boolean
  readonly lines: Array<string> = []
  /** Bumped on every record: the driver settles until it stops moving. */
  count = 0

  constructor(now: () => number, options: { readonly keep?: boolean } = {}) {
    this.#now = now
    this.#keep = options.keep ?? true
  }

  record(kind: string, detail: string): void {
    const line = `${this.#now()} ${kind} ${detail}`
    this.#hash.update(line)
    this.#hash.update("\n")
    this.count++
    if (this.#keep) this.lines.push(line)
  }

  /** Hex SHA-256 of every line so far (the trace can still grow afterwards). */
  digest(): string {
    return this.#hash.copy().digest("hex")
  }
}
