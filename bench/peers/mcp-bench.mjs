#!/usr/bin/env node
// Copied unchanged (but for this line) from the project's neutral benchmark kit, shared/bench (bench/peers/README.md).
/**
 * mcp-bench.mjs — neutral load driver for ANY MCP server, over Streamable HTTP
 * (spec 2025-06-18 style, stateful sessions) or over stdio (newline-delimited
 * JSON-RPC). It knows nothing about the server under test beyond the protocol.
 *
 *   node mcp-bench.mjs http-churn  --url URL [--concurrency 32] [--duration 10]
 *       Each worker loops: POST initialize -> read Mcp-Session-Id -> POST
 *       notifications/initialized (session + MCP-Protocol-Version headers) ->
 *       DELETE session. Reports sessions/s, full-handshake p50/p99, per-step p50.
 *
 *   node mcp-bench.mjs http-calls  --url URL [--sessions 100] [--concurrency 64]
 *                                  [--duration 10] [--method echo|ping|list]
 *       Opens N sessions, then C workers send requests round-robin over them:
 *       echo = tools/call {name:"echo", arguments:{text:"hello"}} (result text
 *       is checked), ping = "ping", list = "tools/list". Sessions are DELETEd at
 *       the end (--no-delete to keep them). Reports req/s, p50/p99.
 *
 *   node mcp-bench.mjs http-idle   --url URL --pid PID [--sessions 1000]
 *                                  [--settle 3] [--hold 0] [--no-delete]
 *       Opens N idle sessions (initialize + initialized) and reads the server's
 *       VmRSS (/proc/PID/status) before, right after, and after --settle s;
 *       reports KB/session. With --hold S waits S more seconds and probes a
 *       sample of sessions with ping to see whether the server expired them.
 *       Then DELETEs all, settles, reads RSS again and probes (expects 404).
 *
 *   node mcp-bench.mjs stdio-calls --cmd "node server.mjs" [--duration 10]
 *                                  [--inflight 64] [--method echo|ping|list]
 *       Spawns the server (sh -c "exec CMD"), handshakes, then runs a
 *       sequential phase (1 in flight) and a pipelined phase (--inflight in
 *       flight), --duration s each. Reports req/s, p50/p99 per phase.
 *
 * Common options:
 *   --pid PID        server pid: adds server CPU (utime+stime from /proc/PID/stat)
 *                    and RSS to the result (http-*; stdio uses the child's pid)
 *   --warmup S       unrecorded warm-up before measuring (default 2; stdio 1)
 *   --proto V        protocolVersion sent in initialize (default 2025-06-18)
 *   --timeout MS     per-request timeout (default 10000)
 *   --max-ops N      hard cap on recorded operations (default 10,000,000)
 *   --stats-url URL  optional GET endpoint returning JSON (e.g. heap/session
 *                    counts); fetched at checkpoints by http-idle (?gc=1 added
 *                    after settle). Ignored if absent; servers need not have it.
 *   --label NAME     copied into the result line (e.g. "sdk", "raw")
 *   --sse-linger MS  after the JSON-RPC response arrived on an SSE stream, wait
 *                    at most this long for the server to end the stream before
 *                    dropping the connection (default 2000)
 *
 * Output: ONE JSON line of results on stdout; progress / human lines on stderr.
 * Every loop is bounded by --duration and --max-ops and stops by itself.
 * Requires Node >= 20.18 and the `undici` package (HTTP client, keep-alive pool).
 */
import { Pool } from 'undici';
import { spawn, execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------- arguments
const [, , SUB, ...rest] = process.argv;
const args = {};
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (!a.startsWith('--')) die(`unexpected argument ${a}`);
  const k = a.slice(2);
  if (i + 1 < rest.length && !rest[i + 1].startsWith('--')) args[k] = rest[++i];
  else args[k] = true;
}
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]));
const PROTO = args.proto ?? '2025-06-18';
const TIMEOUT = num('timeout', 10_000);
const MAX_OPS = num('max-ops', 10_000_000);
const SSE_LINGER = num('sse-linger', 2000);
const LABEL = args.label ?? null;
const METHOD = args.method ?? 'echo';

function die(msg) {
  process.stderr.write(`mcp-bench: ${msg}\n(see the usage comment at the top of mcp-bench.mjs)\n`);
  process.exit(2);
}
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- stats helpers
function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[i]);
}
const round = (x, d = 3) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);
function latSummary(arr) {
  const s = Float64Array.from(arr).sort();
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : null;
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? round(s[s.length - 1]) : null, mean: round(mean) };
}

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
} catch {}
/** utime+stime of a process in seconds, or null */
function procCpu(pid) {
  if (!pid) return null;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14,15 (utime, stime)
  } catch {
    return null;
  }
}
/** VmRSS of a process in KB, or null */
function procRssKb(pid) {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
/** whole-machine busy CPU seconds (all cores) from /proc/stat, or null */
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
  } catch {
    return null;
  }
}
/**
 * Start a CPU/RSS window on the server pid and on this driver process.
 * other_cpu_pct = CPU used on the machine by everything except server+driver
 * during the window (100 = one full core): a noise indicator.
 */
function cpuWindow(pid) {
  const t0 = performance.now();
  const s0 = procCpu(pid);
  const c0 = process.cpuUsage();
  const r0 = procRssKb(pid);
  const m0 = machineBusy();
  return (ops) => {
    const wall = (performance.now() - t0) / 1000;
    const s1 = procCpu(pid);
    const c1 = process.cpuUsage(c0);
    const m1 = machineBusy();
    const clientCpu = (c1.user + c1.system) / 1e6;
    const srvCpu = s0 != null && s1 != null ? s1 - s0 : 0;
    const out = { client_cpu_pct: round((100 * clientCpu) / wall, 1) };
    if (m0 != null && m1 != null) out.other_cpu_pct = round(Math.max(0, (100 * (m1 - m0 - clientCpu - srvCpu)) / wall), 1);
    if (pid) {
      const cpu = s0 != null && s1 != null ? s1 - s0 : null;
      Object.assign(out, {
        server_cpu_s: round(cpu, 2),
        server_cpu_pct: cpu == null ? null : round((100 * cpu) / wall, 1),
        server_cpu_us_per_op: cpu == null || !ops ? null : round((cpu * 1e6) / ops, 1),
        server_rss_kb_before: r0,
        server_rss_kb_after: procRssKb(pid)
      });
    }
    return out;
  };
}
function errorBag() {
  const kinds = {};
  return {
    kinds,
    add(k, n = 1) {
      kinds[k] = (kinds[k] ?? 0) + n;
    },
    get total() {
      return Object.values(kinds).reduce((a, b) => a + b, 0);
    }
  };
}
function emit(result) {
  process.stdout.write(JSON.stringify({ bench: SUB, label: LABEL, ts: new Date().toISOString(), ...result }) + '\n');
}

// ---------------------------------------------------------------- JSON-RPC messages
let nextId = 1;
const initializeMsg = () => ({
  jsonrpc: '2.0',
  id: nextId++,
  method: 'initialize',
  params: { protocolVersion: PROTO, capabilities: {}, clientInfo: { name: 'mcp-bench', version: '1.0.0' } }
});
const initializedMsg = { jsonrpc: '2.0', method: 'notifications/initialized' };
function requestMsg(method) {
  const id = nextId++;
  if (method === 'echo')
    return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } };
  if (method === 'ping') return { jsonrpc: '2.0', id, method: 'ping' };
  if (method === 'list') return { jsonrpc: '2.0', id, method: 'tools/list' };
  die(`unknown --method ${method} (echo|ping|list)`);
}
/** returns null when ok, else an error kind */
function checkReply(method, msg) {
  if (!msg) return 'no_response_message';
  if (msg.error) return `rpc_error_${msg.error.code}`;
  if (!msg.result) return 'no_result';
  if (method === 'echo') {
    if (msg.result.isError) return 'tool_isError';
    if (msg.result.content?.[0]?.text !== 'hello') return 'echo_mismatch';
  }
  if (method === 'list' && !Array.isArray(msg.result.tools)) return 'bad_tools_list';
  return null;
}

// ---------------------------------------------------------------- Streamable HTTP client
/** Incremental SSE parser: feed text, get back parsed `data` payloads of `message` events. */
class SseParser {
  constructor() {
    this.buf = '';
  }
  feed(text) {
    this.buf += text;
    const out = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      let event = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue; // comment / keep-alive
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? '' : line.slice(c + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (event === 'message' && data.length && data.join('').trim() !== '') out.push(data.join('\n'));
    }
    return out;
  }
}

class McpHttp {
  constructor(url, connections) {
    const u = new URL(url);
    this.path = u.pathname + u.search;
    this.pool = new Pool(u.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: TIMEOUT,
      bodyTimeout: TIMEOUT,
      connectTimeout: TIMEOUT
    });
    this.protoBySid = new Map();
  }
  headers(sid) {
    const h = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    if (sid) {
      h['mcp-session-id'] = sid;
      h['mcp-protocol-version'] = this.protoBySid.get(sid) ?? PROTO;
    }
    return h;
  }
  /**
   * POST one JSON-RPC message. Resolves {status, sid, msg, t} where msg is the
   * JSON-RPC response whose id matches (from a JSON or an SSE body) and t is
   * performance.now() when it arrived. Never rejects: {status:0, err} instead.
   */
  async post(message, sid) {
    let res;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: this.headers(sid),
        body: JSON.stringify(message)
      });
    } catch (e) {
      return { status: 0, err: e.code ?? e.name ?? 'request_failed' };
    }
    const out = { status: res.statusCode, sid: res.headers['mcp-session-id'], msg: null, t: 0 };
    const wantId = message.id;
    try {
      const ct = String(res.headers['content-type'] ?? '');
      if (wantId === undefined || res.statusCode === 202 || res.statusCode === 204) {
        await res.body.dump();
      } else if (ct.startsWith('text/event-stream')) {
        const parser = new SseParser();
        let lingerTimer = null;
        res.body.setEncoding('utf8');
        for await (const chunk of res.body) {
          if (out.msg) continue; // draining until the server ends the stream
          for (const data of parser.feed(chunk)) {
            let m;
            try {
              m = JSON.parse(data);
            } catch {
              continue;
            }
            const list = Array.isArray(m) ? m : [m];
            const hit = list.find((x) => x && x.id === wantId && ('result' in x || 'error' in x));
            if (hit) {
              out.msg = hit;
              out.t = performance.now();
              lingerTimer = setTimeout(() => res.body.destroy(), SSE_LINGER);
              break;
            }
          }
        }
        if (lingerTimer) clearTimeout(lingerTimer);
      } else {
        let text = '';
        res.body.setEncoding('utf8');
        for await (const chunk of res.body) text += chunk;
        if (text) {
          try {
            const m = JSON.parse(text);
            const list = Array.isArray(m) ? m : [m];
            out.msg = list.find((x) => x && x.id === wantId) ?? (list.length === 1 ? list[0] : null);
          } catch {
            out.err = 'bad_json_body';
          }
        }
      }
    } catch (e) {
      if (!out.msg) out.err = e.code ?? e.name ?? 'body_failed';
    }
    if (!out.t) out.t = performance.now();
    return out;
  }
  async del(sid) {
    try {
      const res = await this.pool.request({ path: this.path, method: 'DELETE', headers: this.headers(sid) });
      await res.body.dump();
      this.protoBySid.delete(sid);
      return { status: res.statusCode };
    } catch (e) {
      return { status: 0, err: e.code ?? e.name ?? 'request_failed' };
    }
  }
  /** initialize + notifications/initialized. Returns {sid} or {err}, with step times in ms. */
  async open() {
    const t0 = performance.now();
    const r1 = await this.post(initializeMsg());
    const t1 = performance.now();
    if (r1.status !== 200) return { err: r1.err ?? `init_http_${r1.status}` };
    if (!r1.msg?.result) return { err: r1.msg?.error ? `init_rpc_${r1.msg.error.code}` : r1.err ?? 'init_no_result' };
    if (!r1.sid) return { err: 'init_no_session_id' };
    this.protoBySid.set(r1.sid, r1.msg.result.protocolVersion ?? PROTO);
    const r2 = await this.post(initializedMsg, r1.sid);
    const t2 = performance.now();
    if (r2.status < 200 || r2.status > 299) return { err: r2.err ?? `initialized_http_${r2.status}`, sid: r1.sid };
    return { sid: r1.sid, initMs: t1 - t0, notifMs: t2 - t1 };
  }
  close() {
    return this.pool.close();
  }
}

/** Run `fn` over `items` with at most `c` in flight. */
async function parallel(items, c, fn) {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(c, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    })
  );
}
async function openSessions(client, n, c, errors) {
  const sids = [];
  const t0 = performance.now();
  await parallel(Array.from({ length: n }), c, async () => {
    const r = await client.open();
    if (r.sid && !r.err) sids.push(r.sid);
    else errors.add(r.err);
  });
  const s = (performance.now() - t0) / 1000;
  log(`  opened ${sids.length}/${n} sessions in ${s.toFixed(2)} s`);
  return sids;
}
async function deleteSessions(client, sids, c, errors) {
  const st = {};
  await parallel(sids, c, async (sid) => {
    const r = await client.del(sid);
    st[r.status] = (st[r.status] ?? 0) + 1;
    if (r.status < 200 || r.status > 299) errors?.add(`delete_http_${r.status}`);
  });
  return st;
}
async function fetchStats(url, gc) {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    if (gc) u.searchParams.set('gc', '1');
    const r = await fetch(u, { signal: AbortSignal.timeout(TIMEOUT) });
    return await r.json();
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
}

// ---------------------------------------------------------------- http-churn
async function httpChurn() {
  const url = args.url ?? die('--url required');
  const C = num('concurrency', 32);
  const D = num('duration', 10);
  const W = num('warmup', 2);
  const pid = args.pid ? Number(args.pid) : null;
  const client = new McpHttp(url, C);
  const errors = errorBag();
  const lat = [], initL = [], notifL = [], delL = [];
  let ok = 0, deleteRefused = 0;
  let recording = false, stopAt = 0;

  const worker = async () => {
    while (performance.now() < stopAt && ok < MAX_OPS) {
      const t0 = performance.now();
      const r = await client.open();
      if (r.err) {
        if (recording) errors.add(r.err);
        if (r.sid) await client.del(r.sid);
        continue;
      }
      const t2 = performance.now();
      const d = await client.del(r.sid);
      const t3 = performance.now();
      if (d.status === 405) deleteRefused += recording ? 1 : 0; // server does not allow client-initiated termination
      else if (d.status < 200 || d.status > 299) {
        if (recording) errors.add(d.err ?? `delete_http_${d.status}`);
        continue;
      }
      if (!recording) continue;
      ok++;
      lat.push(t3 - t0);
      initL.push(r.initMs);
      notifL.push(r.notifMs);
      delL.push(t3 - t2);
    }
  };
  log(`http-churn ${url} C=${C} warmup=${W}s duration=${D}s`);
  if (W > 0) {
    stopAt = performance.now() + W * 1000;
    await Promise.all(Array.from({ length: C }, worker));
  }
  recording = true;
  const win = cpuWindow(pid);
  const t0 = performance.now();
  stopAt = t0 + D * 1000;
  await Promise.all(Array.from({ length: C }, worker));
  const wall = (performance.now() - t0) / 1000;
  const res = win(ok);
  await client.close();
  const out = {
    url, concurrency: C, duration_s: round(wall, 2),
    sessions: ok, sessions_per_s: round(ok / wall, 1),
    handshake_ms: latSummary(lat),
    step_p50_ms: { initialize: latSummary(initL).p50, initialized: latSummary(notifL).p50, delete: latSummary(delL).p50 },
    delete_refused_405: deleteRefused,
    errors: errors.total, error_kinds: errors.kinds,
    ...res
  };
  log(`  ${out.sessions_per_s} sessions/s  p50=${out.handshake_ms.p50}ms p99=${out.handshake_ms.p99}ms errors=${out.errors}` +
      (pid ? `  server cpu=${res.server_cpu_pct}% (${res.server_cpu_us_per_op} us/session)` : ''));
  emit(out);
}

// ---------------------------------------------------------------- http-calls
async function httpCalls() {
  const url = args.url ?? die('--url required');
  const N = num('sessions', 100);
  const C = num('concurrency', 64);
  const D = num('duration', 10);
  const W = num('warmup', 2);
  const pid = args.pid ? Number(args.pid) : null;
  const client = new McpHttp(url, C);
  const errors = errorBag();
  log(`http-calls ${url} N=${N} C=${C} method=${METHOD} warmup=${W}s duration=${D}s`);
  const openErr = errorBag();
  const sids = await openSessions(client, N, Math.min(C, 32), openErr);
  if (sids.length === 0) die(`could not open any session: ${JSON.stringify(openErr.kinds)}`);
  const lat = [];
  let rr = 0, ok = 0, recording = false, stopAt = 0;
  const worker = async () => {
    while (performance.now() < stopAt && ok < MAX_OPS) {
      const sid = sids[rr++ % sids.length];
      const t0 = performance.now();
      const r = await client.post(requestMsg(METHOD), sid);
      const e = r.status !== 200 ? r.err ?? `http_${r.status}` : r.err ?? checkReply(METHOD, r.msg);
      if (!recording) continue;
      if (e) errors.add(e);
      else {
        ok++;
        lat.push(r.t - t0);
      }
    }
  };
  if (W > 0) {
    stopAt = performance.now() + W * 1000;
    await Promise.all(Array.from({ length: C }, worker));
  }
  recording = true;
  const win = cpuWindow(pid);
  const t0 = performance.now();
  stopAt = t0 + D * 1000;
  await Promise.all(Array.from({ length: C }, worker));
  const wall = (performance.now() - t0) / 1000;
  const res = win(ok);
  let deleted;
  if (!args['no-delete']) deleted = await deleteSessions(client, sids, 32);
  await client.close();
  const out = {
    url, method: METHOD, sessions: sids.length, open_errors: openErr.kinds, concurrency: C, duration_s: round(wall, 2),
    requests: ok, req_per_s: round(ok / wall, 1), latency_ms: latSummary(lat),
    errors: errors.total, error_kinds: errors.kinds, delete_status: deleted,
    ...res
  };
  log(`  ${out.req_per_s} req/s  p50=${out.latency_ms.p50}ms p99=${out.latency_ms.p99}ms errors=${out.errors}` +
      (pid ? `  server cpu=${res.server_cpu_pct}% (${res.server_cpu_us_per_op} us/req)` : ''));
  emit(out);
}

// ---------------------------------------------------------------- http-idle
async function httpIdle() {
  const url = args.url ?? die('--url required');
  const pid = args.pid ? Number(args.pid) : die('--pid required (server process id, for /proc/PID/status)');
  const N = num('sessions', 1000);
  const C = num('concurrency', 32);
  const settle = num('settle', 3);
  const hold = num('hold', 0);
  const warmN = num('warmup-sessions', 200);
  const probeN = num('probe', 20);
  const statsUrl = args['stats-url'];
  const client = new McpHttp(url, C);
  const errors = errorBag();
  const probe = async (sids) => {
    const sample = sids.filter((_, i) => i % Math.max(1, Math.floor(sids.length / probeN)) === 0).slice(0, probeN);
    const st = {};
    await parallel(sample, 8, async (sid) => {
      const r = await client.post(requestMsg('ping'), sid);
      st[r.status] = (st[r.status] ?? 0) + 1;
    });
    return st;
  };
  log(`http-idle ${url} pid=${pid} N=${N} settle=${settle}s hold=${hold}s`);
  // warm the server's code paths so JIT/code memory is not billed to sessions
  if (warmN > 0) {
    const w = await openSessions(client, warmN, C, errorBag());
    await deleteSessions(client, w, C);
  }
  await sleep(settle * 1000);
  const rss0 = procRssKb(pid);
  const stats0 = await fetchStats(statsUrl, true);
  const cpu0 = procCpu(pid);
  const t0 = performance.now();
  const sids = await openSessions(client, N, C, errors);
  const openS = (performance.now() - t0) / 1000;
  const cpuOpen = procCpu(pid) - cpu0;
  const rss1 = procRssKb(pid);
  await sleep(settle * 1000);
  const rss2 = procRssKb(pid);
  const stats2 = await fetchStats(statsUrl, true);
  const rss2gc = statsUrl ? procRssKb(pid) : undefined;
  const cpuIdle0 = procCpu(pid);
  let held;
  if (hold > 0) {
    log(`  holding ${hold}s idle...`);
    await sleep(hold * 1000);
    const cpuIdle = procCpu(pid) - cpuIdle0;
    held = { hold_s: hold, rss_kb: procRssKb(pid), idle_server_cpu_s: round(cpuIdle, 2), probe_status: await probe(sids) };
  }
  let after;
  if (!args['no-delete']) {
    const delStatus = await deleteSessions(client, sids, C, errors);
    await sleep(settle * 1000);
    const rss3 = procRssKb(pid);
    const stats3 = await fetchStats(statsUrl, true);
    after = { delete_status: delStatus, rss_kb: rss3, rss_kb_gc: statsUrl ? procRssKb(pid) : undefined, stats: stats3,
              rss_retained_kb_per_session: round((rss3 - rss0) / N, 2), probe_status_after_delete: await probe(sids) };
  } else {
    after = { probe_status_without_delete: await probe(sids) };
  }
  await client.close();
  const perKb = round((rss2 - rss0) / Math.max(1, sids.length), 2);
  const heapPer = stats0?.heapUsed && stats2?.heapUsed ? round((stats2.heapUsed - stats0.heapUsed) / 1024 / Math.max(1, sids.length), 2) : undefined;
  const out = {
    url, pid, sessions_requested: N, sessions_open: sids.length, open_s: round(openS, 2),
    open_sessions_per_s: round(sids.length / openS, 1), open_server_cpu_us_per_session: round((cpuOpen * 1e6) / Math.max(1, sids.length), 1),
    rss_kb: { before: rss0, after_open: rss1, after_settle: rss2, after_gc: rss2gc },
    kb_per_session: perKb, heap_kb_per_session: heapPer,
    stats_before: stats0, stats_after_settle: stats2,
    held, after_delete: after,
    errors: errors.total, error_kinds: errors.kinds
  };
  log(`  RSS ${rss0} -> ${rss1} -> ${rss2} KB  => ${perKb} KB/session (RSS)` + (heapPer !== undefined ? `, ${heapPer} KB/session (heapUsed after GC)` : ''));
  if (after.rss_kb !== undefined) log(`  after DELETE all: RSS ${after.rss_kb} KB, probe ${JSON.stringify(after.probe_status_after_delete)}`);
  emit(out);
}

// ---------------------------------------------------------------- stdio-calls
async function stdioCalls() {
  const cmd = args.cmd ?? die('--cmd required');
  const D = num('duration', 10);
  const W = num('warmup', 1);
  const INF = num('inflight', 64);
  const child = spawn('/bin/sh', ['-c', `exec ${cmd}`], { stdio: ['pipe', 'pipe', args.verbose ? 'inherit' : 'ignore'] });
  const pid = child.pid;
  const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
  child.stdin.on('error', () => {});
  const pending = new Map(); // id -> callback(msg, now)
  let buf = '';
  let notifications = 0;
  let outBuf = '';
  const flush = () => {
    if (outBuf) {
      child.stdin.write(outBuf);
      outBuf = '';
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    const now = performance.now();
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        continue; // not JSON-RPC (stray log line)
      }
      const cb = m && m.id !== undefined && pending.get(m.id);
      if (cb) {
        pending.delete(m.id);
        cb(m, now);
      } else notifications++;
    }
    flush(); // requests queued by callbacks go out in one write
  });
  const send = (msg, cb) => {
    if (msg.id !== undefined) pending.set(msg.id, cb);
    outBuf += JSON.stringify(msg) + '\n';
  };
  const request = (msg) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(msg.id);
        resolve(null);
      }, TIMEOUT);
      send(msg, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      flush();
    });
  log(`stdio-calls "${cmd}" pid=${pid} method=${METHOD} duration=${D}s x2 inflight=${INF}`);
  const init = await request(initializeMsg());
  if (!init?.result) {
    child.kill('SIGTERM');
    die(`initialize failed: ${JSON.stringify(init)}`);
  }
  send(initializedMsg);
  flush();

  async function sequential(dur, record) {
    const lat = [], errors = errorBag();
    const win = cpuWindow(pid);
    const t0 = performance.now(), stopAt = t0 + dur * 1000;
    let ok = 0;
    while (performance.now() < stopAt && ok < MAX_OPS) {
      const s = performance.now();
      const m = await request(requestMsg(METHOD));
      const e = m ? checkReply(METHOD, m) : 'timeout';
      if (e) errors.add(e);
      else {
        ok++;
        lat.push(performance.now() - s);
      }
    }
    const wall = (performance.now() - t0) / 1000;
    return record ? { requests: ok, req_per_s: round(ok / wall, 1), latency_ms: latSummary(lat), errors: errors.total, error_kinds: errors.kinds, ...win(ok) } : null;
  }
  async function pipelined(dur, inflight, record) {
    const lat = [], errors = errorBag();
    const win = cpuWindow(pid);
    const t0 = performance.now(), stopAt = t0 + dur * 1000;
    let ok = 0, outstanding = 0;
    await new Promise((done) => {
      const guard = setTimeout(done, dur * 1000 + TIMEOUT); // bounded even if the server stalls
      const issue = () => {
        const msg = requestMsg(METHOD);
        const s = performance.now();
        outstanding++;
        send(msg, (m, now) => {
          outstanding--;
          const e = checkReply(METHOD, m);
          if (e) errors.add(e);
          else {
            ok++;
            lat.push(now - s);
          }
          if (now < stopAt && ok < MAX_OPS) issue();
          else if (outstanding === 0) {
            clearTimeout(guard);
            done();
          }
        });
      };
      for (let i = 0; i < inflight; i++) issue();
      flush();
    });
    const wall = (performance.now() - t0) / 1000;
    if (outstanding) errors.add('timeout', outstanding);
    return record ? { inflight, requests: ok, req_per_s: round(ok / wall, 1), latency_ms: latSummary(lat), errors: errors.total, error_kinds: errors.kinds, ...win(ok) } : null;
  }
  if (W > 0) await pipelined(W, INF, false);
  const seq = await sequential(D, true);
  log(`  sequential: ${seq.req_per_s} req/s p50=${seq.latency_ms.p50}ms p99=${seq.latency_ms.p99}ms errors=${seq.errors} server cpu=${seq.server_cpu_pct}%`);
  const pipe = await pipelined(D, INF, true);
  log(`  pipelined(${INF}): ${pipe.req_per_s} req/s p50=${pipe.latency_ms.p50}ms p99=${pipe.latency_ms.p99}ms errors=${pipe.errors} server cpu=${pipe.server_cpu_pct}%`);
  const rss = procRssKb(pid);
  child.stdin.end();
  const ex = await Promise.race([exited, sleep(3000).then(() => null)]);
  if (!ex) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
    await Promise.race([exited, sleep(2000)]);
  }
  emit({ cmd, method: METHOD, server_pid: pid, server_rss_kb_end: rss, server_notifications: notifications, sequential: seq, pipelined: pipe, exit: ex });
}

// ---------------------------------------------------------------- main
const subs = { 'http-churn': httpChurn, 'http-calls': httpCalls, 'http-idle': httpIdle, 'stdio-calls': stdioCalls };
if (!subs[SUB]) die(`unknown subcommand "${SUB ?? ''}" (one of: ${Object.keys(subs).join(', ')})`);
await subs[SUB]();
process.exit(0);
