/**
 * Keeps `docs/spec-traceability.md` honest. The table maps each MUST/SHOULD of
 * spec-digest §2 onto what implements it and what tests it; this test fails as
 * soon as a reference rots:
 * - a chart reference (`<machine>.guards|actions|delays.<name>`, a state node, a
 *   transition `<state>.on.<EVENT>`, a tag) no longer exists in the chart;
 * - a runtime reference (`<file>#<export>[.<member>]`) is no longer exported;
 * - a covering test no longer exists in its file as a non-skipped `it(…)`/`test(…)`;
 * - the summary's row count, untested rows or unimplemented rows differ from the table;
 * - a delay of any chart, or a guard, delay or effect action of the server chart,
 *   is traced by no row.
 * Each resolver is also shown to reject a made-up reference, so a broken parser
 * cannot pass by accepting everything.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { AnyStateMachine } from "xstate"
import {
  eraProbeMachine,
  keepaliveMachine,
  legacyClientSessionMachine,
  legacyServerSessionMachine,
  listenStreamMachine,
  outboundRequestMachine
} from "../machines/index.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const DOC_PATH = join(ROOT, "docs", "spec-traceability.md")
const doc = readFileSync(DOC_PATH, "utf8")

const CHARTS: ReadonlyMap<string, AnyStateMachine> = new Map(
  [legacyServerSessionMachine, legacyClientSessionMachine, keepaliveMachine, outboundRequestMachine, eraProbeMachine, listenStreamMachine].map((m) => [m.id, m])
)

// ---------------------------------------------------------------- parsing

interface Row {
  readonly id: string
  readonly section: string
  readonly rule: string
  readonly level: string
  readonly implemented: ReadonlyArray<string>
  readonly implementedText: string
  readonly covered: ReadonlyArray<string>
  readonly coveredText: string
}

const codeSpans = (cell: string): ReadonlyArray<string> => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)

/** The rows of every table in the document, and the lines that look like rows but do not parse. */
const parseRows = (markdown: string): { readonly rows: ReadonlyArray<Row>; readonly malformed: ReadonlyArray<string> } => {
  const rows: Array<Row> = []
  const malformed: Array<string> = []
  let section = ""
  for (const line of markdown.split("\n")) {
    if (line.startsWith("## ")) section = line.slice(3).trim()
    const m = /^\|\s*([A-Z]{2}-\d+)\s*\|/.exec(line)
    if (!m) continue
    const cells = line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim())
    if (cells.length !== 6) {
      malformed.push(`${m[1]}: expected 6 cells, got ${cells.length} (a '|' inside a cell?)`)
      continue
    }
    const [id, rule, level, , implementedText, coveredText] = cells as [string, string, string, string, string, string]
    rows.push({ id, section, rule, level, implemented: codeSpans(implementedText), implementedText, covered: codeSpans(coveredText), coveredText })
  }
  return { rows, malformed }
}

const { rows, malformed } = parseRows(doc)

/** `**Label:** N (A-1, B-2)` in the summary. */
const summary = (label: string): { readonly count: number; readonly ids: ReadonlyArray<string> } => {
  const m = new RegExp(`^\\*\\*${label}:\\*\\*\\s+(\\d+)(?:\\s+\\(([^)]*)\\))?\\s*$`, "m").exec(doc)
  if (!m) throw new Error(`no "**${label}:**" line in the summary`)
  return { count: Number(m[1]), ids: m[2] ? m[2].split(",").map((s) => s.trim()).filter((s) => s.length > 0) : [] }
}

// ---------------------------------------------------------------- resolvers

const IMPLEMENTATION_KINDS = ["guards", "actions", "delays"] as const

/** Why a chart reference does not resolve, or undefined when it does. */
const checkChartRef = (ref: string): string | undefined => {
  const parts = ref.split(".")
  const machine = CHARTS.get(parts[0]!)
  if (!machine) return `unknown chart "${parts[0]}"`
  const kind = parts[1] as (typeof IMPLEMENTATION_KINDS)[number]
  if (IMPLEMENTATION_KINDS.includes(kind)) {
    const name = parts.slice(2).join(".")
    const table = machine.implementations[kind] as Record<string, unknown>
    return Object.hasOwn(table, name) ? undefined : `${machine.id} has no ${kind.slice(0, -1)} "${name}"`
  }
  const at = parts.findIndex((p, i) => i > 0 && (p === "on" || p === "tags"))
  const stateId = (at === -1 ? parts : parts.slice(0, at)).join(".")
  let node: ReturnType<AnyStateMachine["getStateNodeById"]>
  try {
    node = machine.getStateNodeById(stateId)
  } catch {
    return `${machine.id} has no state "${stateId}"`
  }
  if (at === -1) return undefined
  const what = parts.slice(at + 1).join(".")
  if (parts[at] === "tags") return node.tags.includes(what) ? undefined : `state "${stateId}" has no tag "${what}"`
  return Object.hasOwn(node.on, what) && node.on[what]!.length > 0 ? undefined : `state "${stateId}" has no transition on ${what}`
}

const modules = new Map<string, Promise<Record<string, unknown>>>()
const load = (file: string) => {
  if (!modules.has(file)) modules.set(file, import(join(ROOT, file)) as Promise<Record<string, unknown>>)
  return modules.get(file)!
}

/** Why a runtime reference (`file#Export` or `file#Class.member`) does not resolve, or undefined. */
const checkRuntimeRef = async (ref: string): Promise<string | undefined> => {
  const [file, name] = ref.split("#") as [string, string | undefined]
  if (!name) return `"${ref}" names no function`
  if (!existsSync(join(ROOT, file))) return `no file ${file}`
  const [exported, member] = name.split(".") as [string, string | undefined]
  const mod = await load(file)
  const value = mod[exported]
  if (value === undefined) return `${file} does not export ${exported}`
  if (member === undefined) return typeof value === "function" ? undefined : `${file}#${exported} is not a function`
  if (typeof value !== "function") return `${file}#${exported} is not a class`
  const proto = (value as { prototype?: Record<string, unknown> }).prototype ?? {}
  const found = typeof Object.getOwnPropertyDescriptor(proto, member)?.value === "function" ||
    Object.getOwnPropertyDescriptor(proto, member)?.get !== undefined ||
    typeof (value as unknown as Record<string, unknown>)[member] === "function"
  return found ? undefined : `${exported} has no method ${member}`
}

const isRuntimeRef = (ref: string) => ref.includes("#")
const checkRef = (ref: string): Promise<string | undefined> =>
  isRuntimeRef(ref) ? checkRuntimeRef(ref) : Promise.resolve(checkChartRef(ref))

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Why a `file › test name` reference does not resolve, or undefined. */
const checkTestRef = (ref: string): string | undefined => {
  const m = /^(test\/[^\s]+\.test\.ts) › (.+)$/.exec(ref)
  if (!m) return `"${ref}" is not "test/<file>.test.ts › <name>"`
  const [, file, name] = m as unknown as [string, string, string]
  const path = join(ROOT, file)
  if (!existsSync(path)) return `no test file ${file}`
  const source = readFileSync(path, "utf8")
  // A plain it()/test() call: it.skip, it.todo, describe(…) and it.each templates do not count.
  const call = new RegExp(`(?<![.\\w])(?:it|test)\\(\\s*(["'\`])${escapeRegExp(name)}\\1`)
  return call.test(source) ? undefined : `${file} has no it("${name}")`
}

// ---------------------------------------------------------------- tests

describe("docs/spec-traceability.md", () => {
  it("parses into rows with unique ids, one table per spec area, and the row count the summary states", () => {
    expect(malformed).toEqual([])
    expect(parseRows("| XX-1 | a | b | c |").malformed).toHaveLength(1) // the parser has teeth
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.length).toBe(summary("Rows").count)
    const ids = rows.map((r) => r.id)
    expect(new Set(ids).size).toBe(ids.length)
    const prefixes = new Set(ids.map((id) => id.split("-")[0]))
    expect(prefixes).toEqual(new Set(["LC", "VN", "OP", "SD", "TO", "CA", "PR", "PG", "MD", "RQ"]))
    const sections = new Set(rows.map((r) => r.section))
    for (const area of ["Lifecycle", "Version negotiation", "Timeouts", "Cancellation", "Progress", "Ping", "Modern era"]) {
      expect([...sections].some((s) => s.startsWith(area)), area).toBe(true)
    }
    for (const row of rows) {
      expect(row.rule.length, row.id).toBeGreaterThan(10)
      expect(row.level, row.id).toMatch(/^(MUST|SHOULD|MAY|MUST NOT|SHOULD NOT|policy|§8)\b/)
    }
  })

  it("every row says what implements it (references, or 'not implemented') and what covers it (tests, or 'untested')", () => {
    for (const row of rows) {
      if (row.implemented.length === 0) expect(row.implementedText, row.id).toBe("not implemented")
      else expect(row.implementedText.replace(/`[^`]+`|<br>/g, "").trim(), `${row.id}: stray text among references`).toBe("")
      if (row.covered.length === 0) expect(row.coveredText, row.id).toBe("untested")
      else expect(row.coveredText.replace(/`[^`]+`|<br>/g, "").trim(), `${row.id}: stray text among tests`).toBe("")
    }
  })

  it("untested and unimplemented rows are counted in the summary, not hidden", () => {
    const untested = rows.filter((r) => r.covered.length === 0).map((r) => r.id)
    const unimplemented = rows.filter((r) => r.implemented.length === 0).map((r) => r.id)
    expect(summary("Untested rows")).toEqual({ count: untested.length, ids: untested })
    expect(summary("Not implemented")).toEqual({ count: unimplemented.length, ids: unimplemented })
    // An unimplemented rule cannot claim a test.
    for (const id of unimplemented) expect(untested, id).toContain(id)
    console.log(`spec traceability: ${rows.length} rows, ${untested.length} untested (${untested.join(", ")}), ${unimplemented.length} not implemented`)
  })

  it("every chart reference names an existing guard, action, delay, state, tag or transition", () => {
    const refs = rows.flatMap((r) => r.implemented.filter((ref) => !isRuntimeRef(ref)).map((ref) => [r.id, ref] as const))
    expect(refs.length).toBeGreaterThan(50)
    const broken = refs.map(([id, ref]) => [id, ref, checkChartRef(ref)] as const).filter(([, , why]) => why !== undefined)
    expect(broken).toEqual([])
    // The resolver has teeth.
    for (const bad of [
      "legacyServerSession.guards.noSuchGuard",
      "legacyServerSession.actions.respondInitialise",
      "legacyServerSession.delays.pingInterval",
      "legacyServerSession.awaitingInitialize.on.INITIALIZED",
      "legacyServerSession.on.REQUEST",
      "legacyServerSession.operating.idle",
      "legacyClientSession.closing.tags.ready",
      "noSuchChart.guards.x"
    ]) {
      expect(checkChartRef(bad), bad).toBeDefined()
    }
  })

  it("every runtime reference names a function exported by its file (or a method of an exported class)", async () => {
    const refs = rows.flatMap((r) => r.implemented.filter(isRuntimeRef).map((ref) => [r.id, ref] as const))
    expect(refs.length).toBeGreaterThan(20)
    const broken: Array<readonly [string, string, string]> = []
    for (const [id, ref] of refs) {
      const why = await checkRuntimeRef(ref)
      if (why !== undefined) broken.push([id, ref, why])
    }
    expect(broken).toEqual([])
    for (const bad of [
      "src/server/ServerSession.ts#ServerSession.noSuchMethod",
      "src/server/ServerSession.ts#noSuchExport",
      "src/server/NoSuchFile.ts#ServerSession",
      "src/protocol/modern.ts#META_PROTOCOL_VERSION",
      "src/protocol/modern.ts"
    ]) {
      expect(await checkRef(bad), bad).toBeDefined()
    }
  }, 30_000)

  it("every covering test exists, by name, as a non-skipped it() in the named file", () => {
    const refs = rows.flatMap((r) => r.covered.map((ref) => [r.id, ref] as const))
    expect(refs.length).toBeGreaterThan(50)
    const broken = refs.map(([id, ref]) => [id, ref, checkTestRef(ref)] as const).filter(([, , why]) => why !== undefined)
    expect(broken).toEqual([])
    for (const bad of [
      "test/machines.server.test.ts › no such test",
      "test/machines.server.test.ts › legacyServerSession: pure steps", // a describe, not a test
      "test/no-such.test.ts › every state is reachable",
      "machines.server › every state is reachable"
    ]) {
      expect(checkTestRef(bad), bad).toBeDefined()
    }
  })

  it("every delay of every chart, and every guard, delay and effect action of the server chart, is traced", () => {
    const referenced = new Set(rows.flatMap((r) => r.implemented))
    const missing: Array<string> = []
    for (const machine of CHARTS.values()) {
      for (const name of Object.keys(machine.implementations.delays)) {
        if (!referenced.has(`${machine.id}.delays.${name}`)) missing.push(`${machine.id}.delays.${name}`)
      }
    }
    const server = legacyServerSessionMachine
    for (const name of Object.keys(server.implementations.guards)) {
      if (!referenced.has(`${server.id}.guards.${name}`)) missing.push(`${server.id}.guards.${name}`)
    }
    for (const [name, impl] of Object.entries(server.implementations.actions)) {
      if ((impl as { type?: string }).type === "xstate.assign") continue // context bookkeeping, not an effect
      if (!referenced.has(`${server.id}.actions.${name}`)) missing.push(`${server.id}.actions.${name}`)
    }
    expect(missing).toEqual([])
  })
})
