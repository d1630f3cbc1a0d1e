/**
 * How a stdio child gets a process group of its own without a session of its own.
 *
 * Node can only give a child its own group with `detached: true`, which on
 * POSIX is `setsid()`: a new session, and on Linux a new scheduler
 * **autogroup** (`/proc/<pid>/autogroup`), so on a loaded machine the child
 * competes as a group of its own and each wake-up waits longer (3–4× slower
 * round trips measured: docs/performance.md). Node has no `setpgid`, so on
 * Linux the child is started through a shim that calls `setpgid(0, 0)` and
 * `exec`s the command: same pid, same session, same autogroup, own group.
 *
 * The shim is Perl (`perl-base` is Essential on Debian and present on nearly
 * every Linux; nothing else that can `setpgid` is). It reports on a status
 * pipe (an extra stdio fd, close-on-exec): `s` once the group is set, then
 * either nothing (the pipe closes when `exec` succeeds) or the `exec` errno.
 * Where there is no perl, or off Linux, children are spawned detached as before.
 */
import { accessSync, constants as fsConstants } from "node:fs"
import { constants as osConstants } from "node:os"

/**
 * `perl -e SHIM_SCRIPT STATUS_FD TIOCNOTTY N NAME₁ VALUE₁ … NAMEₙ VALUEₙ COMMAND ARGS…`.
 *
 * - The N variables are the caller's `PERL*` ones, kept out of perl's own start
 *   (a `PERL5OPT=-MSome::Module` must not break or change the shim) and put back
 *   before the `exec`.
 * - TIOCNOTTY (when not 0) drops our controlling terminal, if we have one, for
 *   the child and all it forks, as `setsid` did: a server in a background group
 *   of a terminal's session would otherwise be stopped (SIGTTIN) the moment it,
 *   or a `git` it runs, opens /dev/tty to prompt. Linux lets a process that is
 *   not a session leader do this.
 * - F_SETFD = 2 and FD_CLOEXEC = 1 on Linux (no `use Fcntl`: no module load).
 *   `exec {…} LIST` never goes through a shell.
 */
export const SHIM_SCRIPT = [
  "my ($f, $t, $n) = splice(@ARGV, 0, 3);",
  "delete $ENV{PERL_BADLANG};",
  "for (1 .. $n) { my ($k, $v) = splice(@ARGV, 0, 2); $ENV{$k} = $v }",
  "if ($t && open(my $tty, '+<', '/dev/tty')) { ioctl($tty, $t, 0); close($tty) }",
  "open(my $s, '>&=', $f) or exit 125;",
  "fcntl($s, 2, 1);",
  "setpgrp(0, 0);",
  "syswrite($s, 's');",
  "exec { $ARGV[0] } @ARGV;",
  "syswrite($s, 0 + $!);",
  "exit 127;"
].join(" ")

/** TIOCNOTTY by architecture (0: unknown, the terminal is left as it is). */
const TIOCNOTTY = process.arch === "mips" || process.arch === "mipsel" ? 0x5471 : ["x64", "ia32", "arm", "arm64", "riscv64", "s390x", "loong64", "ppc64"].includes(process.arch) ? 0x5422 : 0

const PERL_CANDIDATES = ["/usr/bin/perl", "/bin/perl", "/usr/local/bin/perl"]

let located: string | null | undefined = undefined

/** The shim's interpreter (an absolute path: the child's PATH is the user's), or null where children go detached. */
export const groupShim = (): string | null => {
  if (located !== undefined) return located
  located = null
  if (process.platform !== "linux") return located
  for (const path of PERL_CANDIDATES) {
    try {
      accessSync(path, fsConstants.X_OK)
      located = path
      break
    } catch {
      // not there
    }
  }
  return located
}

/**
 * The shim's command line and environment for `command args` with environment
 * `env`, its status arriving on fd `statusFd`. Perl starts with no `PERL*`
 * variable of the caller's but `PERL_BADLANG=0` (a bad locale would make it warn
 * on the server's stderr); the shim restores the caller's before the `exec`.
 */
export const shimSpawn = (
  perl: string,
  statusFd: number,
  command: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv
): { readonly file: string; readonly args: Array<string>; readonly env: NodeJS.ProcessEnv } => {
  const perlEnv: NodeJS.ProcessEnv = {}
  const restore: Array<string> = []
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (name.startsWith("PERL")) restore.push(name, value)
    else perlEnv[name] = value
  }
  perlEnv.PERL_BADLANG = "0"
  return {
    file: perl,
    args: ["-e", SHIM_SCRIPT, String(statusFd), String(TIOCNOTTY), String(restore.length / 2), ...restore, command, ...args],
    env: perlEnv
  }
}

/** What the status pipe said once it closed. */
export type ShimStatus =
  | { readonly _tag: "Started" }
  | { readonly _tag: "ExecFailed"; readonly code: string }
  | { readonly _tag: "DiedEarly" }

let errnoNames: Map<number, string> | undefined = undefined

const errnoName = (errno: number): string => {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))
  return errnoNames.get(errno) ?? `errno ${errno}`
}

/** Parse the whole status text: `s` (started), `s<errno>` (exec failed), anything else (the shim died first). */
export const parseShimStatus = (text: string): ShimStatus => {
  if (text === "s") return { _tag: "Started" }
  if (text.startsWith("s") && /^\d+$/.test(text.slice(1))) return { _tag: "ExecFailed", code: errnoName(Number(text.slice(1))) }
  return { _tag: "DiedEarly" }
}
