/**
 * The head of an audit trail: removing the first record(s) of a trail that
 * starts at the chain's beginning must be caught by `audit verify`, as issue 12
 * asks ("detects any edited, removed or reordered record"). The first record
 * of a trail is `seq 1` chained to the genesis hash; a trail whose oldest file
 * starts anywhere else lost its head. Only when older rotated files exist but
 * are not given (`verify FILE` without `--all`) can the head not be checked.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { AuditLog, rotatedFiles, verifyAudit } from "../src/policy/AuditLog.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

describe("audit trail: the head of the chain", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "audit-head-"))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const write = (path: string, n: number, maxBytes?: number) => {
    const log = AuditLog.open(path, maxBytes === undefined ? {} : { maxBytes })
    for (let i = 0; i < n; i++) {
      log.append({ type: "decision", principal: "alice", name: "echo", n: i })
      log.flush()
    }
    log.close()
  }
  const linesOf = (file: string) => readFileSync(file, "utf8").trimEnd().split("\n")
  const save = (name: string, lines: ReadonlyArray<string>) => {
    const file = join(dir, name)
    writeFileSync(file, `${lines.join("\n")}\n`)
    return file
  }

  it("the first record removed, or the first two, is caught (library and CLI exit 1 naming line 1)", () => {
    const file = join(dir, "audit.jsonl")
    write(file, 5)
    expect(verifyAudit([file])).toEqual({ ok: true, records: 5, files: 1 })
    const lines = linesOf(file)
    for (const [name, kept] of [["first.jsonl", lines.slice(1)], ["two.jsonl", lines.slice(2)]] as const) {
      const cut = save(name, kept)
      expect(verifyAudit([cut])).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/beginning of the chain/) })
      const cli = spawnSync(process.execPath, [MAIN, "audit", "verify", cut], { encoding: "utf8" })
      expect(cli.status).toBe(1)
      expect(cli.stdout).toMatch(new RegExp(`^BROKEN: ${cut.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:1 `))
    }
  })

  it("rotated trails: the oldest file must start the chain; FILE alone, with older files on disk, is trusted at its head", () => {
    const file = join(dir, "audit.jsonl")
    write(file, 30, 600)
    const rotated = rotatedFiles(file)
    expect(rotated.length).toBeGreaterThan(1)
    expect(verifyAudit([...rotated, file])).toMatchObject({ ok: true, records: 30 })
    // FILE alone: its first record continues a rotated file that is not given.
    expect(verifyAudit([file])).toMatchObject({ ok: true })
    // The first record of the oldest file removed: caught with --all.
    writeFileSync(rotated[0]!, `${linesOf(rotated[0]!).slice(1).join("\n")}\n`)
    expect(verifyAudit([...rotated, file])).toMatchObject({ ok: false, file: rotated[0], line: 1, reason: expect.stringMatching(/beginning of the chain/) })
    const cli = spawnSync(process.execPath, [MAIN, "audit", "verify", "--all", file], { encoding: "utf8" })
    expect(cli.status).toBe(1)
  })
})
