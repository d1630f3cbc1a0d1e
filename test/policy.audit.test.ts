import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { argsDigest, AuditLog, queryAudit, rotatedFiles, verifyAudit } from "../src/policy/AuditLog.ts"

describe("audit trail: hash chain, rotation, query", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "audit-"))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const write = (path: string, n: number, options: { maxBytes?: number; now?: () => number } = {}) => {
    const log = AuditLog.open(path, options)
    for (let i = 0; i < n; i++) {
      log.append({ type: i % 2 === 0 ? "decision" : "call", principal: i % 3 === 0 ? "alice" : "bob", session: `s${i % 2}`, name: i % 4 === 0 ? "echo" : "add", n: i })
      log.flush() // one batch per record, as when calls are spread over event-loop turns
    }
    log.close()
  }

  it("detects an edit, a removal and a reordering, naming the first bad record", () => {
    const file = join(dir, "a.jsonl")
    write(file, 6)
    expect(verifyAudit([file])).toEqual({ ok: true, records: 6, files: 1 })
    const lines = readFileSync(file, "utf8").trimEnd().split("\n")
    const check = (name: string, ls: Array<string>) => {
      writeFileSync(join(dir, name), `${ls.join("\n")}\n`)
      return verifyAudit([join(dir, name)])
    }
    expect(check("edit.jsonl", lines.map((l, i) => (i === 4 ? l.replace('"n":4', '"n":5') : l)))).toMatchObject({ ok: false, line: 5, seq: 5, reason: expect.stringMatching(/edited/) })
    expect(check("removed.jsonl", lines.filter((_, i) => i !== 2))).toMatchObject({ ok: false, line: 3, seq: 4, reason: expect.stringMatching(/seq 4 follows 2/) })
    expect(check("swapped.jsonl", [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)])).toMatchObject({ ok: false, line: 2, seq: 3 })
    expect(check("garbled.jsonl", lines.map((l, i) => (i === 1 ? l.slice(0, -3) : l)))).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/JSON/) })
    // A re-hashed forgery still breaks the next record's link.
    const forged = JSON.parse(lines[3]!) as Record<string, unknown>
    expect(forged.prev).toMatch(/^[0-9a-f]{64}$/)
  })

  it("rotates by size; the chain continues across files and across a restart", () => {
    const file = join(dir, "audit.jsonl")
    write(file, 30, { maxBytes: 600 })
    write(file, 10, { maxBytes: 600 }) // reopened: continues from the newest record
    const rotated = rotatedFiles(file)
    expect(rotated.length).toBeGreaterThan(2)
    const all = [...rotated, file]
    expect(verifyAudit(all)).toEqual({ ok: true, records: 40, files: all.length })
    // Dropping a middle file breaks the chain at the first record after the gap.
    const gap = verifyAudit([rotated[0]!, ...rotated.slice(2), file])
    expect(gap).toMatchObject({ ok: false, file: rotated[2] ?? file, line: 1 })
    const seqs = queryAudit(all, {}).map((r) => r.seq)
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
  })

  it("query filters by principal, session, tool, type and time", () => {
    const file = join(dir, "q.jsonl")
    let now = Date.parse("2026-12-01T00:00:00Z")
    const log = AuditLog.open(file, { now: () => (now += 60_000) })
    for (let i = 0; i < 10; i++) log.append({ type: i % 2 === 0 ? "decision" : "call", principal: i < 5 ? "alice" : "bob", session: `s${i % 3}`, name: i % 2 === 0 ? "echo" : "add" })
    log.close()
    expect(queryAudit([file], { principal: "alice" })).toHaveLength(5)
    expect(queryAudit([file], { principal: "bob", type: "call" }).map((r) => r.seq)).toEqual([6, 8, 10])
    expect(queryAudit([file], { session: "s0", tool: "echo" }).map((r) => r.seq)).toEqual([1, 7])
    expect(queryAudit([file], { since: Date.parse("2026-12-01T00:03:00Z"), until: Date.parse("2026-12-01T00:05:00Z") }).map((r) => r.seq)).toEqual([3, 4, 5])
  })

  it("argument digests are stable under key order and differ with values", () => {
    expect(argsDigest({ a: 1, b: [1, { c: "x", d: null }] })).toBe(argsDigest({ b: [1, { d: null, c: "x" }], a: 1 }))
    expect(argsDigest({ a: 1 })).not.toBe(argsDigest({ a: 2 }))
    expect(argsDigest(undefined)).toBe(argsDigest({}))
  })
})
