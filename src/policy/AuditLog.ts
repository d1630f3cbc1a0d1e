/**
 * The audit trail: append-only JSON Lines, one record per decision and one per
 * completed call, each chained to the one before it.
 *
 * A record is one JSON object whose last member is `hash`: the SHA-256 (hex)
 * of the record's text up to that member (`{…,"prev":"…"}`), where `prev` is
 * the previous record's `hash` and `seq` counts up by one. Editing a byte of a
 * record breaks its own hash; removing or reordering records breaks `prev` and
 * `seq` at the first record after the change. Files rotate by size: the
 * current file is renamed `FILE.000001`, `FILE.000002`, … (older first) and
 * the chain continues in the new FILE, so `verify(rotated…, FILE)` checks the
 * links between files too.
 *
 * Keyed chain: with a secret key (`AuditLogOptions.key`, the CLI's
 * `--audit-key FILE`) each `hash` is the HMAC-SHA-256 of that text under the
 * key, and the record says so with `"alg":"hmac-sha256"` just before `prev`.
 * Without the key, whoever can write the file can edit a record and recompute
 * every later hash; with it, such a rewrite fails at the first changed record.
 * A keyed trail is verified only with its key, and a trail never mixes keyed
 * and unkeyed records (either would let a rewrite pass as the weaker chain).
 *
 * Seal: `FILE.seal` holds the newest record's `seq` and `hash` (with a key,
 * also their HMAC), rewritten in place after every write, so removing the
 * newest records (truncation) is caught too: the trail then ends before the
 * seq its seal names. A keyed seal cannot be forged without the key; it can
 * only be swapped for an older copy of itself, kept by whoever truncates.
 *
 * Writes are batched: records are hashed at once (the chain order is the call
 * order) and written together after the current turn of the event loop, or at
 * once with `flush()` (and on `close()`).
 */
import { createHmac, createSecretKey, hash, type KeyObject, timingSafeEqual } from "node:crypto"
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { type Clock, systemClock } from "../protocol/clock.ts"

export const GENESIS = "0".repeat(64)

export interface AuditRecordFields {
  readonly type: "decision" | "call"
  readonly [key: string]: unknown
}

/** Options of `AuditLog.open`: rotation size, clock, and the key of a keyed (HMAC-SHA-256) chain. */
export interface AuditLogOptions {
  /** Rotate once the file reaches this size. Default 16 MiB; 0 = never. */
  readonly maxBytes?: number
  /** The clock records are stamped with (the owner's: the runtime's, the host's). Default: the system clock. */
  readonly clock?: Pick<Clock, "now">
  /** The time stamped on records. Default: `clock.now()`. */
  readonly now?: () => number
  /** Chain with HMAC-SHA-256 under this secret (at least 32 bytes; `loadAuditKey`). Default: unkeyed SHA-256. */
  readonly key?: Uint8Array
}

/** The `alg` of a keyed record; a record without `alg` is chained with plain SHA-256. */
export const AUDIT_HMAC = "hmac-sha256"
/** The shortest key accepted: HMAC-SHA-256's own block of strength. */
export const AUDIT_KEY_MIN_BYTES = 32

const sha256 = (s: string): string => hash("sha256", s, "hex")
// A KeyObject made once: createHmac with raw key bytes costs ~5× more per record (10.7 against 2.1 µs here).
const secretOf = (key: Uint8Array | undefined): KeyObject | undefined => (key === undefined ? undefined : createSecretKey(key))
const chainHash = (body: string, secret: KeyObject | undefined): string =>
  secret === undefined ? sha256(body) : createHmac("sha256", secret).update(body).digest("hex")
const sameHex = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

/**
 * Read an audit key file: its bytes, or its text without surrounding
 * whitespace when it is printable (`openssl rand -hex 32 > audit.key`).
 * The key never comes from the command line itself (it would show in `ps`).
 */
export const loadAuditKey = (file: string): Uint8Array => {
  let raw: Buffer
  try {
    raw = readFileSync(file)
  } catch (e) {
    throw new Error(`audit key ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
  const text = raw.toString("latin1")
  const key = /^[\x20-\x7e\s]*$/.test(text) ? Buffer.from(text.trim(), "latin1") : raw
  if (key.length < AUDIT_KEY_MIN_BYTES) {
    throw new Error(`audit key ${file}: ${key.length} bytes, at least ${AUDIT_KEY_MIN_BYTES} needed (e.g. openssl rand -hex 32 > ${file})`)
  }
  return key
}

/** The seal of the trail at `path`: its newest record's seq and hash. */
export const sealPath = (path: string): string => `${path}.seal`
/** Seals are rewritten in place at a fixed size: no truncate, one write per batch. */
const SEAL_BYTES = 256

interface Seal {
  readonly seq: number
  readonly hash: string
  readonly alg?: string
  readonly mac?: string
}

const sealMac = (seq: number, digest: string, key: KeyObject): string =>
  createHmac("sha256", key).update(`mcp-actors audit seal ${seq} ${digest}`).digest("hex")

const sealBytes = (seq: number, digest: string, key: KeyObject | undefined): Buffer => {
  const seal: Seal = key === undefined ? { seq, hash: digest } : { seq, hash: digest, alg: AUDIT_HMAC, mac: sealMac(seq, digest, key) }
  return Buffer.from(`${JSON.stringify(seal).padEnd(SEAL_BYTES - 1, " ")}\n`)
}

/** The seal at `file`, undefined when there is none, or why it cannot be trusted. */
const readSeal = (file: string, key: KeyObject | undefined): Seal | undefined | { readonly invalid: string } => {
  if (!existsSync(file)) return undefined
  let seal: Partial<Seal>
  try {
    seal = JSON.parse(readFileSync(file, "utf8")) as Partial<Seal>
  } catch {
    return { invalid: `${file} is not a seal (edited or truncated)` }
  }
  if (typeof seal.seq !== "number" || typeof seal.hash !== "string") return { invalid: `${file} is not a seal (no seq or hash)` }
  if (key === undefined) return seal.alg === undefined ? seal as Seal : { invalid: `${file} is keyed: give --audit-key` }
  if (seal.alg !== AUDIT_HMAC || typeof seal.mac !== "string") return { invalid: `${file} is not keyed, though a key was given` }
  return sameHex(sealMac(seal.seq, seal.hash, key), seal.mac) ? seal as Seal : { invalid: `${file}: its HMAC does not match (edited, or not the trail's key)` }
}

/** Why a trail's newest record cannot be continued with `key` (or without one), else undefined. */
const continuationError = (path: string, last: string, body: string, digest: string, key: KeyObject | undefined): string | undefined => {
  const alg = (JSON.parse(last) as { alg?: unknown }).alg
  if (alg === undefined) return key === undefined ? undefined : `${path}: the trail is not keyed; start a new trail file to key it with --audit-key`
  if (alg !== AUDIT_HMAC) return `${path}: unknown chain algorithm ${JSON.stringify(alg)}`
  if (key === undefined) return `${path}: keyed trail: give --audit-key (the key it was written with)`
  return sameHex(chainHash(body, key), digest) ? undefined : `${path}: the audit key does not match this trail (its newest record's HMAC differs)`
}

/** A stable digest of arguments (keys sorted), so equal arguments have equal digests without their values. */
export const argsDigest = (args: unknown): string => sha256(canonical(args ?? {}))

const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`
  }
  return JSON.stringify(v) ?? "null"
}

/** Split a line into the hashed body and the hash it claims, or undefined when it has no trailing hash. */
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"}$/
const splitLine = (line: string): { body: string; hash: string } | undefined => {
  const m = HASH_TAIL.exec(line)
  return m === null ? undefined : { body: `${line.slice(0, m.index)}}`, hash: m[1]! }
}

/** The rotated files of `path`, oldest first. */
export const rotatedFiles = (path: string): Array<string> => {
  const dir = dirname(path)
  const base = basename(path)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => n.startsWith(`${base}.`) && /^\d{6,}$/.test(n.slice(base.length + 1)))
    .sort()
    .map((n) => join(dir, n))
}

const lastLine = (path: string): string | undefined => {
  if (!existsSync(path)) return undefined
  const text = readFileSync(path, "utf8").trimEnd()
  if (text.length === 0) return undefined
  return text.slice(text.lastIndexOf("\n") + 1)
}

/** An append-only, hash-chained JSON Lines audit trail with size rotation, so edits, removals and reorderings are detectable (`verifyAudit`). */
export class AuditLog {
  readonly path: string
  private fd: number
  private readonly sealFd: number
  private size: number
  private seq: number
  private prev: string
  private readonly maxBytes: number
  private readonly now: () => number
  private readonly key: KeyObject | undefined
  private buffer: Array<string> = []
  private scheduled = false
  private closed = false

  private constructor(path: string, options: AuditLogOptions) {
    this.path = path
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024
    const clock = options.clock ?? systemClock
    this.now = options.now ?? (() => clock.now())
    this.key = secretOf(options.key)
    if (options.key !== undefined && options.key.length < AUDIT_KEY_MIN_BYTES) throw new Error(`audit key: at least ${AUDIT_KEY_MIN_BYTES} bytes needed`)
    // Continue the chain: from the current file's last record, else the newest rotated file's.
    const rotated = rotatedFiles(path)
    const last = lastLine(path) ?? (rotated.length > 0 ? lastLine(rotated.at(-1)!) : undefined)
    const tail = last === undefined ? undefined : splitLine(last)
    if (last !== undefined && tail === undefined) throw new Error(`${path}: the last record has no hash; run "mcp-actors audit verify" before appending`)
    const refused = tail === undefined ? undefined : continuationError(path, last!, tail.body, tail.hash, this.key)
    if (refused !== undefined) throw new Error(refused)
    this.prev = tail?.hash ?? GENESIS
    this.seq = tail === undefined ? 0 : Number((JSON.parse(last!) as { seq?: unknown }).seq ?? 0)
    // Appending after a truncation would rewrite the seal and erase the evidence of it.
    const seal = readSeal(sealPath(path), this.key)
    if (seal !== undefined && "invalid" in seal) throw new Error(`${path}: ${seal.invalid}; run "mcp-actors audit verify" before appending`)
    if (seal !== undefined && seal.seq > this.seq) {
      throw new Error(`${path}: the trail ends at seq ${this.seq} but its seal ${sealPath(path)} says ${seal.seq}: the newest records were removed (to start a new trail, move the seal away too)`)
    }
    this.sealFd = openSync(sealPath(path), constants.O_RDWR | constants.O_CREAT, 0o600)
    this.fd = openSync(path, "a")
    this.size = statSync(path).size
  }

  static open(path: string, options: AuditLogOptions = {}): AuditLog {
    return new AuditLog(path, options)
  }

  /** Append one record (time, seq and the chain are added here). Returns its hash. */
  append(fields: AuditRecordFields): string {
    if (this.closed) throw new Error("audit log closed")
    const time = new Date(this.now()).toISOString()
    const body = JSON.stringify(
      this.key === undefined ? { seq: ++this.seq, time, ...fields, prev: this.prev } : { seq: ++this.seq, time, ...fields, alg: AUDIT_HMAC, prev: this.prev }
    )
    const digest = chainHash(body, this.key)
    this.prev = digest
    this.buffer.push(`${body.slice(0, -1)},"hash":"${digest}"}\n`)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    return digest
  }

  /** Write what is buffered now. */
  flush(): void {
    this.scheduled = false
    if (this.buffer.length === 0 || this.closed) return
    const text = this.buffer.join("")
    this.buffer = []
    const bytes = Buffer.from(text)
    writeSync(this.fd, bytes)
    writeSync(this.sealFd, sealBytes(this.seq, this.prev, this.key), 0, SEAL_BYTES, 0)
    this.size += bytes.length
    if (this.maxBytes > 0 && this.size >= this.maxBytes) this.rotate()
  }

  private rotate(): void {
    closeSync(this.fd)
    const rotated = rotatedFiles(this.path)
    const n = rotated.length === 0 ? 1 : Number(rotated.at(-1)!.slice(this.path.length + 1)) + 1
    renameSync(this.path, `${this.path}.${String(n).padStart(6, "0")}`)
    this.fd = openSync(this.path, "a")
    this.size = 0
  }

  close(): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    closeSync(this.fd)
    closeSync(this.sealFd)
  }
}

/** The chain holds (records and files checked), or where it first breaks and why. */
export type VerifyResult =
  | { readonly ok: true; readonly records: number; readonly files: number }
  | { readonly ok: false; readonly records: number; readonly file: string; readonly line: number; readonly seq: number | undefined; readonly reason: string }

/** The number of a rotated file (`FILE.000003` → 3), or undefined for the current file. */
const rotationOf = (file: string): { readonly base: string; readonly n: number } | undefined => {
  const m = /^(.*)\.(\d{6,})$/.exec(file)
  return m === null ? undefined : { base: m[1]!, n: Number(m[2]) }
}

/**
 * Does `file` begin its trail? Yes unless an older rotated file of the same
 * trail is on disk (then its first record continues that file, not given).
 */
const beginsTrail = (file: string): boolean => {
  const r = rotationOf(file)
  const older = rotatedFiles(r?.base ?? file)
  return r === undefined ? older.length === 0 : older.every((f) => rotationOf(f)!.n >= r.n)
}

/** The seq a current file empty since its rotation continues from: its newest rotated file's last record's. */
const seqBefore = (file: string): number => {
  const last = lastLine(rotatedFiles(file).at(-1) ?? file)
  if (last === undefined) return 0
  try {
    const s = (JSON.parse(last) as { seq?: unknown }).seq
    return typeof s === "number" ? s : 0
  } catch {
    return 0
  }
}

/** Options of `verifyAudit`. */
export interface VerifyAuditOptions {
  readonly head?: "genesis" | "trusted"
  /** The trail's key: a keyed trail verifies only with it, and with it every record must be keyed. */
  readonly key?: Uint8Array
  /**
   * The seal to check the trail's end against. Default: `FILE.seal` of the last file given when that
   * is the current file (not a rotated one) and the seal exists; a keyed trail must then have one.
   * `false`: do not check the end (a copy of the trail without its seal).
   */
  readonly seal?: string | false
}

/**
 * Check the chain across `files` (oldest first). Every link is checked. The
 * first record of the first file must begin the chain (`seq` 1, `prev` the
 * genesis hash), so removing the head is caught, unless `head` is "trusted"
 * (by default, when an older rotated file of that trail is on disk but not
 * given: the record continues it and its `prev` cannot be checked). With a
 * `key`, each hash is checked as the HMAC under it, so a rewrite that
 * recomputed the hashes is caught at its first record.
 */
export const verifyAudit = (files: ReadonlyArray<string>, options: VerifyAuditOptions = {}): VerifyResult => {
  const key = secretOf(options.key)
  const lastFile = files.at(-1)
  const sealFile = options.seal === false || lastFile === undefined
    ? undefined
    : options.seal ?? (rotationOf(lastFile) === undefined ? sealPath(lastFile) : undefined)
  const seal = sealFile === undefined ? undefined : readSeal(sealFile, key)
  let keyed = false
  let sealed: string | undefined
  let end = { file: lastFile ?? "", line: 0 }
  let prev: string | undefined
  let seq: number | undefined
  let records = 0
  const first = files[0]
  const genesis = first !== undefined && (options.head ?? (beginsTrail(first) ? "genesis" : "trusted")) === "genesis"
  if (genesis) {
    prev = GENESIS
    seq = 0
  }
  for (const file of files) {
    const text = readFileSync(file, "utf8")
    const lines = text.split("\n")
    if (lines.at(-1) === "") lines.pop()
    for (const [i, line] of lines.entries()) {
      const bad = (reason: string, s?: number): VerifyResult => ({ ok: false, records, file, line: i + 1, seq: s, reason })
      const parts = splitLine(line)
      let record: { seq?: unknown; prev?: unknown; alg?: unknown }
      try {
        record = JSON.parse(line) as typeof record
      } catch {
        return bad("not valid JSON (edited or truncated)")
      }
      const s = typeof record.seq === "number" ? record.seq : undefined
      if (parts === undefined) return bad("no trailing hash", s)
      if (record.alg === undefined) {
        if (key !== undefined) return bad("not keyed, though a key was given: written without the key, or rewritten as an unkeyed chain", s)
        if (sha256(parts.body) !== parts.hash) return bad("the record's hash does not match its content (edited)", s)
      } else if (record.alg !== AUDIT_HMAC) {
        return bad(`unknown chain algorithm ${JSON.stringify(record.alg)}`, s)
      } else if (key === undefined) {
        return bad("keyed trail: give --audit-key (the key it was written with)", s)
      } else if (!sameHex(chainHash(parts.body, key), parts.hash)) {
        return bad("the record's HMAC does not match its content (edited, or not the trail's key)", s)
      }
      if (s === undefined) return bad("no seq", s)
      if (records === 0 && genesis && (s !== 1 || record.prev !== GENESIS)) {
        return bad(`the trail starts at seq ${s}, not at the beginning of the chain (seq 1 after the genesis hash): earlier records were removed, or their rotated files are missing`, s)
      }
      if (prev !== undefined && record.prev !== prev) {
        return bad(s !== seq! + 1 ? `seq ${s} follows ${seq} (a record was removed or reordered)` : "prev does not match the previous record's hash (removed or reordered)", s)
      }
      if (seq !== undefined && s !== seq + 1) return bad(`seq ${s} follows ${seq} (a record was removed or reordered)`, s)
      prev = parts.hash
      seq = s
      records++
      keyed ||= record.alg !== undefined
      if (seal !== undefined && !("invalid" in seal) && s === seal.seq) sealed = parts.hash
      end = { file, line: i + 1 }
    }
  }
  const atEnd = (reason: string): VerifyResult => ({ ok: false, records, ...end, seq, reason })
  if (seal !== undefined && "invalid" in seal) return atEnd(seal.invalid)
  if (seal === undefined) {
    if (keyed && options.seal !== false && sealFile !== undefined) return atEnd(`${sealFile} is missing: a keyed trail's seal shows whether its newest records were removed (--ignore-seal to skip)`)
  } else if (seal.seq > (seq ?? seqBefore(lastFile!))) {
    return atEnd(`the trail ends at seq ${seq ?? seqBefore(lastFile!)} but its seal says ${seal.seq}: the newest records were removed`)
  } else if (sealed !== undefined && sealed !== seal.hash) {
    return atEnd(`the seal's record (seq ${seal.seq}) has another hash: rewritten`)
  }
  return { ok: true, records, files: files.length }
}

/** Filters for `queryAudit`; every given one must match. */
export interface AuditQuery {
  readonly principal?: string
  readonly session?: string
  readonly tool?: string
  readonly type?: "decision" | "call"
  /** ISO times or epoch ms. */
  readonly since?: number
  readonly until?: number
}

/** Records of `files` that match every given filter, in order. */
export const queryAudit = (files: ReadonlyArray<string>, q: AuditQuery): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (line.length === 0) continue
      let r: Record<string, unknown>
      try {
        r = JSON.parse(line) as Record<string, unknown>
      } catch {
        continue
      }
      if (q.type !== undefined && r.type !== q.type) continue
      if (q.principal !== undefined && r.principal !== q.principal) continue
      if (q.session !== undefined && r.session !== q.session) continue
      if (q.tool !== undefined && r.name !== q.tool) continue
      const t = typeof r.time === "string" ? Date.parse(r.time) : NaN
      if (q.since !== undefined && !(t >= q.since)) continue
      if (q.until !== undefined && !(t <= q.until)) continue
      out.push(r)
    }
  }
  return out
}
