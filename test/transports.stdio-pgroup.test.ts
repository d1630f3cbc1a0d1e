/**
 * Each stdio child leads a process group of its own **in our session**
 * (src/transports/processGroup.ts): on Linux `detached: true` would be
 * `setsid()`, a new session and so a new scheduler autogroup, which made round
 * trips 3–4× slower under load (docs/performance.md). Real processes, read
 * through /proc; the `newSession: true` rows are the control (the old spawn).
 */
import { execFile } from "node:child_process"
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { condition } from "./support/condition.ts"
import { groupMembers, processesOf } from "./support/processes.ts"
import { HostStateFile, INSTANCE_ENV, withLifeline } from "../src/host/lifeline.ts"
import { groupShim, parseShimStatus, shimSpawn } from "../src/transports/processGroup.ts"
import {
  makeStdioClientTransport,
  processGroupAlive,
  SpawnError,
  type StdioClientOptions
} from "../src/transports/stdioClient.ts"
import type { TransportClosed } from "../src/transports/Transport.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const node = process.execPath

/** pgrp and session of `pid`, from /proc/<pid>/stat ("pid (comm) state ppid pgrp session …"). */
const ids = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { pgid: Number(fields[2]), sid: Number(fields[3]) }
}
const autogroup = (pid: number) => readFileSync(`/proc/${pid}/autogroup`, "latin1").split(" ")[0]
const children = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim().split(/\s+/).filter((s) => s !== "").map(Number)
const me = ids(process.pid)

const startClient = (options: StdioClientOptions) => {
  const transport = makeStdioClientTransport(options)
  const frames: Array<{ method?: string; params?: Record<string, unknown> }> = []
  const closes: Array<TransportClosed> = []
  const { changed, when } = condition()
  transport.start({
    onFrame: (text) => (frames.push(JSON.parse(text)), changed()),
    onOversized: () => {},
    onClose: (closed) => (closes.push(closed), changed())
  })
  const frame = async (method: string) => {
    await when(() => frames.some((f) => f.method === method), method)
    return frames.find((f) => f.method === method)!.params!
  }
  return { transport, frames, closes, when, frame }
}

/** A line reporting the process's pid and its PERL_BADLANG, then it reads stdin until EOF. */
const REPORTER = "process.stdout.write(JSON.stringify({ jsonrpc: '2.0', method: 'me', params: { pid: process.pid, badlang: process.env.PERL_BADLANG ?? null } }) + '\\n'); process.stdin.resume()"

const dir = mkdtempSync(join(tmpdir(), "mcp-pgroup-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("stdio children: own process group, our session (Linux)", { timeout: 30_000 }, () => {
  it("this machine has the shim (perl): the rest of the file tests it, not the detached fallback", () => {
    expect(process.platform).toBe("linux")
    expect(groupShim()).toMatch(/\/perl$/)
  })

  it("the child's pgid is its own pid and its session and autogroup are ours; newSession: true is the old setsid spawn", async () => {
    const shared = startClient({ command: "cat" })
    const detached = startClient({ command: "cat", newSession: true })
    await Promise.all([shared.transport.spawned, detached.transport.spawned])
    const a = shared.transport.pid!
    const b = detached.transport.pid!
    expect(shared.transport.newSession).toBe(false)
    expect(ids(a)).toEqual({ pgid: a, sid: me.sid })
    expect(autogroup(a)).toBe(autogroup(process.pid))
    // The control: a new session (sid = its pid) and, with autogroups on, a new autogroup.
    expect(detached.transport.newSession).toBe(true)
    expect(ids(b)).toEqual({ pgid: b, sid: b })
    if (readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "latin1").trim() === "1") {
      expect(autogroup(b)).not.toBe(autogroup(process.pid))
    }
    await Promise.all([shared.transport.close(), detached.transport.close()])
    expect(await shared.transport.exited).toEqual({ exitCode: 0, signal: null })
  })

  it("the pid is the server's own (the shim exec'd it): its cmdline, no PERL_BADLANG; frames flow", async () => {
    const { transport, frame } = startClient({ command: node, args: ["-e", REPORTER] })
    const params = await frame("me")
    const pid = transport.pid!
    expect(params.pid).toBe(pid)
    expect(readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0]).toBe(node)
    expect(params.badlang).toBeNull()
    await transport.close()
  })

  it("the shim's status pipe is close-on-exec: the server holds the same fds as one spawned detached", async () => {
    const shared = startClient({ command: "cat" })
    const detached = startClient({ command: "cat", newSession: true })
    // After an echo, each cat is past its start-up (glibc's locale files are open for a moment then).
    const echo = { jsonrpc: "2.0" as const, method: "hello" }
    shared.transport.send(echo)
    detached.transport.send(echo)
    await Promise.all([shared.frame("hello"), detached.frame("hello")])
    const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).map(Number).sort((x, y) => x - y)
    expect(fds(shared.transport.pid!)).toEqual(fds(detached.transport.pid!))
    expect(fds(shared.transport.pid!)).not.toContain(3)
    await Promise.all([shared.transport.close(), detached.transport.close()])
  })

  it("the caller's PERL* variables reach the server unchanged without touching the shim; a broken locale puts no perl warning on its stderr", async () => {
    // A PERL5OPT loading a missing module would kill a perl that honoured it.
    const perlVars = { PERL_BADLANG: "1", PERL5OPT: "-MNo::Such::Module::Xyz", PERL5LIB: "/nonexistent" }
    const kept = startClient({ command: node, args: ["-e", REPORTER.replace("badlang: process.env.PERL_BADLANG ?? null", "badlang: process.env.PERL_BADLANG ?? null, opt: process.env.PERL5OPT, lib: process.env.PERL5LIB")], env: { ...process.env, ...perlVars } })
    expect(await kept.frame("me")).toMatchObject({ badlang: "1", opt: perlVars.PERL5OPT, lib: perlVars.PERL5LIB })
    await kept.transport.close()
    const stderr: Array<string> = []
    const badLocale = startClient({
      command: node,
      args: ["-e", REPORTER],
      env: { ...process.env, LANG: "xx_YY.UTF-8", LC_ALL: "xx_YY.UTF-8" },
      stderr: (line) => stderr.push(line)
    })
    expect((await badLocale.frame("me")).badlang).toBeNull()
    await badLocale.transport.close()
    expect(stderr).toEqual([])
  })

  it("close() still ends an sh → node → sleep chain by its group, all in our session", async () => {
    const { transport, frame } = startClient({
      command: "sh",
      args: ["-c", `"${node}" "${fixture("grandchild.mjs")}"; echo never`],
      closeGraceMs: 100,
      termGraceMs: 500
    })
    const grandchild = (await frame("grandchild")).pid as number
    const sh = transport.pid!
    const [nodePid] = children(sh)
    expect(nodePid).toBeGreaterThan(0)
    for (const pid of [sh, nodePid!, grandchild]) expect(ids(pid)).toEqual({ pgid: sh, sid: me.sid })
    expect([...groupMembers(sh)].sort()).toEqual([sh, nodePid!, grandchild].sort())
    await transport.close() // node ignores stdin EOF: the group's SIGTERM ends the chain
    expect((await transport.exited).signal).toBe("SIGTERM")
    expect(processGroupAlive(sh)).toBe(false)
    expect(processesOf(sh)).toEqual([])
  })

  it("under the lifeline wrapper: the wrapper leads the group in our session; close() ends wrapper, watcher and server", async () => {
    const wrapped = withLifeline(node, ["-e", REPORTER])
    const { transport, frame } = startClient({ ...wrapped, lifeline: true, closeGraceMs: 100, termGraceMs: 500 })
    const server = (await frame("me")).pid as number
    const wrapper = transport.pid!
    expect(readFileSync(`/proc/${wrapper}/cmdline`, "latin1").split("\0")[0]).toBe("/bin/sh")
    expect(ids(wrapper)).toEqual({ pgid: wrapper, sid: me.sid })
    expect(ids(server)).toEqual({ pgid: wrapper, sid: me.sid })
    expect(groupMembers(wrapper).length).toBeGreaterThanOrEqual(3) // wrapper, watcher, server
    await transport.close()
    expect(processGroupAlive(wrapper)).toBe(false)
    expect(processesOf(wrapper)).toEqual([])
  })

  it("under a terminal, the child has no controlling tty (as with setsid), though it shares the terminal's session", async () => {
    // `script` gives the probe a pseudo-terminal as controlling tty (util-linux, Essential on Debian).
    const out = await new Promise<string>((resolve, reject) =>
      execFile("script", ["-qec", `"${node}" "${fixture("tty-probe.ts")}"`, "/dev/null"], { timeout: 60_000 }, (error, stdout) =>
        // What the probe printed under the terminal (its stderr included) says why it failed.
        error !== null ? reject(new Error(`${error.message}\n${stdout}`)) : resolve(stdout)
      )
    )
    const line = out.split(/\r?\n/).find((l) => l.startsWith("RESULT "))
    expect(line, out).toBeDefined()
    const r = JSON.parse(line!.slice("RESULT ".length))
    expect(r.plain).toEqual({ tty: true, sid: r.me }) // the control: a plain child does get the terminal
    expect(r.shim).toEqual({ tty: false, sid: r.me })
    expect(r.detached.tty).toBe(false)
    expect(r.detached.sid).not.toBe(r.me)
  })

  it("exit codes and signals are the server's, not the shim's", async () => {
    const exits = startClient({ command: "sh", args: ["-c", "exit 7"] })
    const killed = startClient({ command: "sh", args: ["-c", "kill -TERM $$"] })
    await Promise.all([exits.when(() => exits.closes.length > 0, "exit 7"), killed.when(() => killed.closes.length > 0, "killed")])
    expect(exits.closes[0]).toMatchObject({ expected: false, exitCode: 7, signal: null })
    expect(killed.closes[0]).toMatchObject({ expected: false, exitCode: null, signal: "SIGTERM" })
    await expect(exits.transport.spawned).resolves.toBeUndefined()
    await Promise.all([exits.transport.close(), killed.transport.close()])
  })

  it("a command that cannot start gives the same SpawnError through the shim as detached (missing, not executable, bad cwd)", async () => {
    const notExecutable = join(dir, "not-executable")
    writeFileSync(notExecutable, "#!/bin/sh\necho hi\n")
    chmodSync(notExecutable, 0o644)
    const cases: Array<StdioClientOptions> = [
      { command: "/nonexistent/mcp-server-xyz" },
      { command: "no-such-mcp-server-command-xyz" },
      { command: notExecutable },
      { command: "cat", cwd: join(dir, "no-such-dir") }
    ]
    const outcome = async (options: StdioClientOptions) => {
      const { transport, closes } = startClient(options)
      const error = await transport.spawned.then(() => undefined, (e: unknown) => e)
      const pid = transport.pid
      const exited = await transport.exited
      await transport.close()
      return { error, pid, exited, closes }
    }
    for (const options of cases) {
      const shim = await outcome(options)
      const detached = await outcome({ ...options, newSession: true })
      expect(shim.error).toBeInstanceOf(SpawnError)
      expect(detached.error).toBeInstanceOf(SpawnError)
      expect((shim.error as SpawnError).command).toBe(options.command)
      expect((shim.error as SpawnError).message).toBe((detached.error as SpawnError).message)
      expect((shim.error as SpawnError).message).toMatch(/^spawn \S+ (ENOENT|EACCES)(: working directory \S+ does not exist)?$/)
      expect(shim.pid).toBeUndefined()
      expect(shim.exited).toEqual({ exitCode: null, signal: null })
      expect(shim.closes).toHaveLength(1)
      expect(shim.closes[0]).toMatchObject({ expected: false, reason: `spawn failed: ${(detached.error as SpawnError).message}` })
    }
  })

  it("close() right after the spawn (before the shim has exec'd) still ends cleanly", async () => {
    for (let i = 0; i < 5; i++) {
      const { transport, closes } = startClient({ command: "cat", closeGraceMs: 1000 })
      await transport.close()
      expect(await transport.exited).toEqual({ exitCode: 0, signal: null })
      expect(closes).toMatchObject([{ expected: true }])
    }
  })

  it("the reaper kills a crashed host's shim-started group (pgid in the state file, instance id in the environment)", async () => {
    const path = join(dir, "state.json")
    const crashed = new HostStateFile(path)
    const wrapped = withLifeline(node, ["-e", REPORTER])
    const { transport, frame, closes, when } = startClient({
      ...wrapped,
      lifeline: true,
      env: { ...process.env, [INSTANCE_ENV]: crashed.instance }
    })
    const server = (await frame("me")).pid as number
    crashed.add(transport.pid!, "s")
    // The record's host is this process (alive, but the same pid): reapOrphans treats it as its own leftovers.
    const killed = new HostStateFile(path).reapOrphans()
    expect(killed).toContain(transport.pid)
    expect(killed).toContain(server)
    await when(() => closes.length > 0, "the group's end")
    expect(closes[0]).toMatchObject({ expected: false })
    await transport.close()
    expect(processGroupAlive(transport.pid!)).toBe(false)
  })
})

describe("the shim's status protocol", () => {
  it("`s` then close: started; `s<errno>`: exec failed, by errno name; anything else: the shim died first", () => {
    expect(parseShimStatus("s")).toEqual({ _tag: "Started" })
    expect(parseShimStatus("s2")).toEqual({ _tag: "ExecFailed", code: "ENOENT" })
    expect(parseShimStatus("s13")).toEqual({ _tag: "ExecFailed", code: "EACCES" })
    expect(parseShimStatus("")).toEqual({ _tag: "DiedEarly" })
    expect(parseShimStatus("sx")).toEqual({ _tag: "DiedEarly" })
  })

  it("perl starts without the caller's PERL* variables (but PERL_BADLANG=0) and gets them back as arguments", () => {
    const s = shimSpawn("/usr/bin/perl", 4, "srv", ["--a"], { PATH: "/bin", PERL5OPT: "-MX", PERL_BADLANG: "1", UNDEF: undefined })
    expect(s.file).toBe("/usr/bin/perl")
    expect(s.env).toEqual({ PATH: "/bin", PERL_BADLANG: "0" })
    expect(s.args.slice(2)).toEqual(["4", String(0x5422), "2", "PERL5OPT", "-MX", "PERL_BADLANG", "1", "srv", "--a"])
  })
})
