/**
 * The keyed audit chain (HMAC-SHA-256 under `--audit-key`): a rewrite that
 * recomputes every later hash, which the unkeyed chain cannot see from the
 * file alone, is caught at its first record; a keyed trail needs its key;
 * the wrong key fails at record 1; old unkeyed trails verify as before.
 */
import { hash } from "node:crypto"
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { AUDIT_HMAC, AuditLog, loadAuditKey, rotatedFiles, sealPath, verifyAudit } from "../src/policy/AuditLog.ts"

const KEY = Buffer.from("k".repeat(32))
const OTHER = Buffer.from("o".repeat(32))

/** What an attacker without the key can do: rewrite records from `from` on and recompute the unkeyed chain after them. */
const recompute = (lines: ReadonlyArray<string>, from: number, edit: (r: Record<string, unknown>) => void, every = false): Array<string> => {
  const out = lines.slice(0, from)
  let prev = (JSON.parse(lines[from - 1] ?? `{"hash":"${"0".repeat(64)}"}`) as { hash: string }).hash
  for (const line of lines.slice(from)) {
    const { hash: _h, ...record } = JSON.parse(line) as Record<string, unknown>
    if (every || out.length === from) edit(record)
    record.prev = prev
    const body = JSON.stringify(record)
    prev = hash("sha256", body, "hex")
    out.push(`${body.slice(0, -1)},"hash":"${prev}"}`)
  }
  return out
}

describe("audit trail: keyed chain (HMAC-SHA-256)", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "audit-key-"))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const write = (path: string, n: number, options: { key?: Uint8Array; maxBytes?: number } = {}) => {
    const log = AuditLog.open(path, { ...options, now: () => 0 })
    for (let i = 0; i < n; i++) {
      log.append({ type: "decision", principal: i % 2 === 0 ? "alice" : "bob", name: "echo", decision: "allow", n: i })
      log.flush()
    }
    log.close()
  }
  const lines = (path: string) => readFileSync(path, "utf8").trimEnd().split("\n")
  const save = (name: string, ls: ReadonlyArray<string>) => {
    writeFileSync(join(dir, name), `${ls.join("\n")}\n`)
    return join(dir, name)
  }

  it("keyed records say alg before prev; the trail verifies with its key", () => {
    const file = join(dir, "a.jsonl")
    write(file, 5, { key: KEY })
    const first = lines(file)[0]!
    expect(first).toMatch(/,"alg":"hmac-sha256","prev":"0{64}","hash":"[0-9a-f]{64}"}$/)
    expect((JSON.parse(first) as { alg: string }).alg).toBe(AUDIT_HMAC)
    expect(verifyAudit([file], { key: KEY })).toEqual({ ok: true, records: 5, files: 1 })
  })

  it("an edit with every later hash recomputed passes the unkeyed chain but is caught with the key, naming the record", () => {
    const plain = join(dir, "plain.jsonl")
    write(plain, 6)
    const forgedPlain = save("forged-plain.jsonl", recompute(lines(plain), 3, (r) => (r.decision = "deny")))
    // The limit the key removes: unkeyed, the rewrite is a valid chain.
    expect(verifyAudit([forgedPlain])).toEqual({ ok: true, records: 6, files: 1 })

    const keyed = join(dir, "keyed.jsonl")
    write(keyed, 6, { key: KEY })
    // The same rewrite of a keyed trail: the attacker keeps alg (their hashes are not HMACs)…
    const kept = save("forged-kept.jsonl", recompute(lines(keyed), 3, (r) => (r.decision = "deny")))
    expect(verifyAudit([kept], { key: KEY })).toMatchObject({ ok: false, line: 4, seq: 4, reason: expect.stringMatching(/HMAC does not match/) })
    // …or drops it to pass as an unkeyed chain: with the key, an unkeyed record is refused.
    const dropped = save("forged-dropped.jsonl", recompute(lines(keyed), 3, (r) => {
      r.decision = "deny"
      delete r.alg
    }, true))
    expect(verifyAudit([dropped], { key: KEY })).toMatchObject({ ok: false, line: 4, seq: 4, reason: expect.stringMatching(/not keyed/) })
    // A whole trail rewritten unkeyed from the start is refused at record 1.
    const all = save("forged-all.jsonl", recompute(lines(keyed), 0, (r) => delete r.alg, true))
    expect(verifyAudit([all])).toEqual({ ok: true, records: 6, files: 1 }) // a valid unkeyed chain…
    expect(verifyAudit([all], { key: KEY })).toMatchObject({ ok: false, line: 1, seq: 1, reason: expect.stringMatching(/not keyed/) })
  })

  it("a keyed trail without the key fails clearly; the wrong key fails at record 1", () => {
    const file = join(dir, "k.jsonl")
    write(file, 3, { key: KEY })
    expect(verifyAudit([file])).toMatchObject({ ok: false, line: 1, seq: 1, reason: expect.stringMatching(/^keyed trail: give --audit-key/) })
    expect(verifyAudit([file], { key: OTHER })).toMatchObject({ ok: false, line: 1, seq: 1, reason: expect.stringMatching(/HMAC does not match .*not the trail's key/) })
  })

  it("old unkeyed trails verify as before, and the key does not make them pass", () => {
    const file = join(dir, "old.jsonl")
    write(file, 4)
    expect(lines(file)[0]).not.toMatch(/"alg"/)
    expect(verifyAudit([file])).toEqual({ ok: true, records: 4, files: 1 })
    expect(verifyAudit([file], { key: KEY })).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/not keyed/) })
  })

  it("rotation and restarts keep the keyed chain; the log refuses to mix keyed and unkeyed records or to continue with another key", () => {
    const file = join(dir, "rot.jsonl")
    write(file, 20, { key: KEY, maxBytes: 700 })
    write(file, 5, { key: KEY, maxBytes: 700 })
    const all = [...rotatedFiles(file), file]
    expect(all.length).toBeGreaterThan(2)
    expect(verifyAudit(all, { key: KEY })).toEqual({ ok: true, records: 25, files: all.length })
    expect(() => AuditLog.open(file)).toThrow(/keyed trail: give --audit-key/)
    expect(() => AuditLog.open(file, { key: OTHER })).toThrow(/does not match this trail/)
    const plain = join(dir, "plain.jsonl")
    write(plain, 2)
    expect(() => AuditLog.open(plain, { key: KEY })).toThrow(/not keyed; start a new trail/)
    expect(() => AuditLog.open(join(dir, "short.jsonl"), { key: Buffer.from("short") })).toThrow(/at least 32 bytes/)
  })

  it("key files: printable text is trimmed, binary is taken as is, short or missing files are clear errors", () => {
    writeFileSync(join(dir, "hex.key"), `${"ab".repeat(32)}\n`)
    expect(Buffer.from(loadAuditKey(join(dir, "hex.key"))).toString()).toBe("ab".repeat(32))
    const bin = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37) % 256))
    writeFileSync(join(dir, "bin.key"), bin)
    expect(Buffer.from(loadAuditKey(join(dir, "bin.key"))).equals(bin)).toBe(true)
    writeFileSync(join(dir, "short.key"), "too short\n")
    expect(() => loadAuditKey(join(dir, "short.key"))).toThrow(/9 bytes, at least 32 needed/)
    expect(() => loadAuditKey(join(dir, "none.key"))).toThrow(/cannot be read \(ENOENT\)/)
  })

  describe("the seal: removing the newest records", () => {
    const truncate = (file: string, keep: number) => writeFileSync(file, `${lines(file).slice(0, keep).join("\n")}\n`)

    it("is caught, unkeyed and keyed, naming the seq the seal expects; the log refuses to append after it", () => {
      for (const key of [undefined, KEY]) {
        const file = join(dir, `t-${key === undefined ? "plain" : "keyed"}.jsonl`)
        write(file, 6, key === undefined ? {} : { key })
        const options = key === undefined ? {} : { key }
        expect(verifyAudit([file], options)).toEqual({ ok: true, records: 6, files: 1 })
        truncate(file, 4)
        expect(verifyAudit([file], options)).toMatchObject({ ok: false, line: 4, seq: 4, reason: expect.stringMatching(/ends at seq 4 but its seal says 6: the newest records were removed/) })
        expect(() => AuditLog.open(file, options)).toThrow(/ends at seq 4 but its seal .* says 6/)
      }
    })

    it("keyed: a seal rewritten without the key, or deleted, is caught; an unkeyed seal can be rewritten (the limit a key removes)", () => {
      const plain = join(dir, "p.jsonl")
      write(plain, 5)
      truncate(plain, 3)
      const digest = (JSON.parse(lines(plain)[2]!) as { hash: string }).hash
      writeFileSync(sealPath(plain), JSON.stringify({ seq: 3, hash: digest }))
      expect(verifyAudit([plain])).toEqual({ ok: true, records: 3, files: 1 })

      const keyed = join(dir, "k.jsonl")
      write(keyed, 5, { key: KEY })
      truncate(keyed, 3)
      const kd = (JSON.parse(lines(keyed)[2]!) as { hash: string }).hash
      writeFileSync(sealPath(keyed), JSON.stringify({ seq: 3, hash: kd, alg: AUDIT_HMAC, mac: "0".repeat(64) }))
      expect(verifyAudit([keyed], { key: KEY })).toMatchObject({ ok: false, reason: expect.stringMatching(/seal: its HMAC does not match/) })
      renameSync(sealPath(keyed), join(dir, "elsewhere"))
      expect(verifyAudit([keyed], { key: KEY })).toMatchObject({ ok: false, reason: expect.stringMatching(/k\.jsonl\.seal is missing/) })
      // A copy of the trail without its seal can still be checked link by link.
      expect(verifyAudit([keyed], { key: KEY, seal: false })).toEqual({ ok: true, records: 3, files: 1 })
    })

    it("follows rotation: the seal names the newest record wherever it is; a rotated file alone is not held to it", () => {
      const file = join(dir, "r.jsonl")
      write(file, 30, { key: KEY, maxBytes: 700 })
      const rotated = rotatedFiles(file)
      expect(verifyAudit([...rotated, file], { key: KEY })).toMatchObject({ ok: true, records: 30 })
      expect(verifyAudit([file], { key: KEY })).toMatchObject({ ok: true })
      expect(verifyAudit([rotated[0]!], { key: KEY })).toMatchObject({ ok: true })
      // One more record in the current file, then the file emptied: its records were the newest.
      write(file, 1, { key: KEY, maxBytes: 0 })
      expect(verifyAudit([...rotatedFiles(file), file], { key: KEY })).toMatchObject({ ok: true, records: 31 })
      writeFileSync(file, "")
      expect(verifyAudit([...rotatedFiles(file), file], { key: KEY })).toMatchObject({ ok: false, reason: expect.stringMatching(/ends at seq 30 but its seal says 31/) })
    })
  })
})

