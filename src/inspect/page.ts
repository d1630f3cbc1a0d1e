/**
 * The inspector's page: one self-contained HTML document (inline script and
 * style, no CDN, works offline). It reads the feed over a WebSocket, lists
 * sessions with filters, draws the selected session's chart from the layout
 * the server computed (elkjs) and highlights its active states, and steps
 * through a session's record (time travel) or asks the server to replay it.
 */
export const inspectorPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mcp-actors inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --fg:#1d2433; --muted:#6b7385; --line:#d9dde5; --bg:#f7f8fa; --active:#1f7a4d; --activebg:#d9f2e4; --err:#b42318; --sel:#e8efff; }
  * { box-sizing: border-box; }
  body { margin:0; font:13px/1.4 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; gap:12px; align-items:center; padding:8px 12px; border-bottom:1px solid var(--line); background:#fff; flex-wrap:wrap; }
  header h1 { font-size:15px; margin:0 8px 0 0; }
  #status { color:var(--muted); }
  #status.live { color:var(--active); }
  main { display:grid; grid-template-columns: minmax(420px, 42%) 1fr; height: calc(100vh - 46px); }
  #list { overflow:auto; border-right:1px solid var(--line); background:#fff; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { position:sticky; top:0; background:#fff; font-weight:600; }
  tr.session { cursor:pointer; }
  tr.session:hover { background:#f2f4f8; }
  tr.session.selected { background:var(--sel); }
  tr.ended td { color:var(--muted); }
  tr.failed td.end { color:var(--err); }
  td.state { font-family: ui-monospace, monospace; }
  #detail { overflow:auto; padding:10px 14px; }
  #detail h2 { font-size:14px; margin:4px 0 8px; }
  .facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin-bottom:10px; }
  .facts dt { color:var(--muted); }
  .facts dd { margin:0; font-family: ui-monospace, monospace; }
  svg .node rect { fill:#fff; stroke:#8a93a6; rx:6; }
  svg .node.compound > rect { fill:#fbfcfe; stroke-dasharray:none; }
  svg .node.final rect { stroke-width:3; }
  svg .node.active > rect { fill:var(--activebg); stroke:var(--active); stroke-width:2.5; }
  svg .node text { font-size:12px; fill:var(--fg); }
  svg .edge path { fill:none; stroke:#9aa3b5; stroke-width:1.2; }
  svg .edge text { font-size:10px; fill:var(--muted); }
  svg .edge.taken path { stroke:var(--active); stroke-width:2; }
  .mono { font-family: ui-monospace, monospace; }
  .muted { color:var(--muted); }
  .err { color:var(--err); }
  #travel { margin:8px 0; display:flex; gap:8px; align-items:center; }
  #travel input[type=range] { flex:1; }
  section { margin-top:12px; }
  button, select, input { font:inherit; }
  #approvals { padding:6px 12px; background:#fff8e6; border-bottom:1px solid #e8c66b; max-height:30vh; overflow:auto; }
  #approvals h2 { font-size:14px; margin:2px 0 6px; }
  #approvals td.late { color:var(--err); }
</style>
</head>
<body>
<header>
  <h1>mcp-actors inspector</h1>
  <span id="status">connecting…</span>
  <label>state <input id="f-state" size="12" placeholder="e.g. operating"></label>
  <label>era <select id="f-era"><option value="">any</option><option>legacy</option><option>modern</option><option>unknown</option></select></label>
  <label>transport <select id="f-transport"><option value="">any</option><option>stdio</option><option>http</option><option>ws</option><option>memory</option></select></label>
  <label>chart <select id="f-machine"><option value="">any</option></select></label>
  <label><input type="checkbox" id="f-error"> ended with an error</label>
  <label><input type="checkbox" id="f-ended" checked> show ended</label>
  <span id="secrets" class="muted"></span>
  <span id="brief" class="muted" title="sessions that began and ended well within one feed flush, beyond the first few of each: counted, not listed (their records stay downloadable through the record API)"></span>
</header>
<section id="approvals" hidden>
  <h2>Pending approvals <span id="approval-note" class="muted"></span></h2>
  <table><thead><tr><th>id</th><th>principal</th><th>session</th><th>server</th><th>tool</th><th>arguments</th><th>age</th><th>deadline</th><th></th></tr></thead>
  <tbody id="approval-rows"></tbody></table>
</section>
<main>
  <div id="list"><table>
    <thead><tr><th>session</th><th>chart</th><th>state</th><th>in flight</th><th>end</th><th>side</th><th>transport</th><th>era / version</th><th>peer</th></tr></thead>
    <tbody id="rows"></tbody>
  </table></div>
  <div id="detail"><p class="muted">Select a session to see its chart.</p></div>
</main>
<script>
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || sessionStorage.getItem("mcp-actors-inspector-token") || "";
  if (params.has("token")) {
    // Keep the token out of the address bar and history once read.
    sessionStorage.setItem("mcp-actors-inspector-token", token);
    history.replaceState(null, "", location.pathname);
  }
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const api = (path) => fetch(path, { headers: { authorization: "Bearer " + token } }).then((r) => r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(t))));
  const sessions = new Map(); // xstate sessionId -> summary (+ recent transitions)
  const approvals = new Map(); // approval id -> pending approval (only with --approver inspector)
  let feed = null; // the WebSocket: decisions go back over it
  const layouts = new Map();
  let selected = null;
  let travel = null; // { record, index } while stepping through a record

  const label = (value) => {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    const parts = [];
    const walk = (v, p) => {
      if (typeof v === "string") { parts.push(p ? p + "." + v : v); return; }
      if (!v || typeof v !== "object") return;
      const keys = Object.keys(v).sort();
      if (keys.length === 0 && p) parts.push(p);
      for (const k of keys) walk(v[k], p ? p + "." + k : k);
    };
    walk(value, "");
    return parts.join(" | ");
  };
  const activeIds = (machine, value) => {
    const out = [];
    const walk = (v, prefix) => {
      if (typeof v === "string") { out.push(prefix + "." + v); return; }
      if (!v || typeof v !== "object") return;
      for (const k of Object.keys(v)) { out.push(prefix + "." + k); walk(v[k], prefix + "." + k); }
    };
    walk(value, machine);
    return out;
  };
  const age = (since) => {
    const ms = Date.now() - since;
    return ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms / 60000) + " min";
  };
  const time = (t) => new Date(t).toISOString().slice(11, 23);

  const upsert = (msg) => {
    const s = sessions.get(msg.sessionId) || { sessionId: msg.sessionId, recent: [] };
    sessions.set(msg.sessionId, s);
    return s;
  };
  let briefCount = 0;
  const onMessage = (msg) => {
    switch (msg.type) {
      case "@mcp-actors.hello":
        $("secrets").textContent = msg.showSecrets ? "secrets shown" : "secrets redacted";
        return;
      case "@xstate.actor": {
        const s = upsert(msg);
        Object.assign(s, { machine: msg.name ?? s.machine, id: msg.id, rootId: msg.rootId, parentId: msg.parentId, value: msg.snapshot.value, status: msg.snapshot.status });
        addMachine(s.machine);
        break;
      }
      case "@xstate.snapshot": {
        const s = upsert(msg);
        // The page's feed is batched per turn: "steps" holds the turn's transitions (t, event, value, status).
        const steps = msg.steps || (msg.event.type === "xstate.init" ? [] : [[msg.createdAt, msg.event.type, msg.snapshot.value, msg.snapshot.status]]);
        let last = label(s.value);
        for (const [t, event, value, status] of steps) {
          const now = label(value);
          s.recent.push({ t, event, value, status, changed: now !== last });
          last = now;
        }
        if (s.recent.length > 50) s.recent.splice(0, s.recent.length - 50);
        s.value = msg.snapshot.value; s.status = msg.snapshot.status; s.state = label(msg.snapshot.value);
        break;
      }
      case "@mcp-actors.session": {
        const s = upsert(msg);
        const recent = msg.recent;
        Object.assign(s, msg);
        s.recent = recent ? recent.map((r) => ({ ...r, changed: true })) : (s.recent || []);
        addMachine(s.machine);
        break;
      }
      case "@mcp-actors.brief":
        briefCount += msg.count;
        $("brief").textContent = briefCount + " brief sessions counted, not listed";
        break;
      case "@mcp-actors.forget":
        sessions.delete(msg.sessionId);
        if (selected === msg.sessionId) selected = null;
        break;
      case "@mcp-actors.approval":
        approvals.set(msg.id, msg);
        break;
      case "@mcp-actors.approval.gone":
        approvals.delete(msg.id);
        break;
      case "@mcp-actors.approval.answer":
        $("approval-note").textContent = msg.ok ? "" : "not answered: " + msg.message;
        break;
      default:
        return;
    }
    schedule();
  };
  const machinesSeen = new Set();
  const addMachine = (m) => {
    if (!m || machinesSeen.has(m)) return;
    machinesSeen.add(m);
    const o = document.createElement("option"); o.textContent = m; $("f-machine").appendChild(o);
  };

  let pending = false;
  const schedule = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } };

  const visible = (s) => {
    const f = { state: $("f-state").value.trim(), era: $("f-era").value, transport: $("f-transport").value, machine: $("f-machine").value };
    if (!$("f-ended").checked && s.end) return false;
    if ($("f-error").checked && !(s.end && s.end.error)) return false;
    if (f.state && !label(s.value).includes(f.state)) return false;
    if (f.era && (s.era || "unknown") !== f.era) return false;
    if (f.transport && s.transport !== f.transport) return false;
    if (f.machine && s.machine !== f.machine) return false;
    return true;
  };
  const render = () => {
    const rows = [];
    for (const s of sessions.values()) {
      if (!visible(s)) continue;
      const oldest = (s.requests || []).reduce((m, r) => Math.min(m, r.since), Infinity);
      const cls = ["session", s.sessionId === selected ? "selected" : "", s.end ? "ended" : "", s.end && s.end.error ? "failed" : ""].join(" ");
      rows.push('<tr class="' + cls + '" data-session="' + esc(s.sessionId) + '" data-machine="' + esc(s.machine || "") + '" data-state="' + esc(label(s.value)) + '">' +
        "<td class=mono>" + esc(s.id || s.sessionId) + (s.parentId ? ' <span class=muted>(child of ' + esc(s.parentId) + ")</span>" : "") + "</td>" +
        "<td>" + esc(s.machine || "") + "</td>" +
        // What changes first, so it is in view beside the list's detail pane.
        "<td class=state>" + esc(label(s.value)) + "</td>" +
        "<td>" + (s.inFlight ? esc(s.inFlight) + (oldest !== Infinity ? " (oldest " + age(oldest) + ")" : "") : "") + "</td>" +
        '<td class="end">' + (s.end ? esc(s.end.reason) : "") + "</td>" +
        "<td>" + esc(s.side || "") + "</td><td>" + esc(s.transport || "") + "</td>" +
        "<td>" + esc((s.era || "") + (s.protocolVersion ? " " + s.protocolVersion : "")) + "</td>" +
        "<td>" + esc(s.peer ? (s.peer.name || "") + (s.peer.version ? " " + s.peer.version : "") : "") + "</td></tr>");
    }
    $("rows").innerHTML = rows.join("");
    renderApprovals();
    renderDetail();
  };
  const renderApprovals = () => {
    $("approvals").hidden = approvals.size === 0;
    const now = Date.now();
    $("approval-rows").innerHTML = [...approvals.values()].map((a) =>
      '<tr class="approval" data-approval="' + esc(a.id) + '"><td class=mono>' + esc(a.id.slice(0, 8)) + "</td><td>" + esc(a.principal) + "</td><td class=mono>" + esc(a.session || "") + "</td>" +
      "<td>" + esc(a.server) + "</td><td>" + esc(a.target) + (a.method === "tools/call" ? "" : " <span class=muted>(" + esc(a.method) + ")</span>") + "</td>" +
      '<td class=mono title="argument digest">' + (a.args !== undefined ? esc(JSON.stringify(a.args)) : esc(String(a.argsDigest).slice(0, 16)) + "…") + "</td>" +
      "<td>" + age(a.requestedAt) + '</td><td class="' + (a.deadline < now ? "late" : "") + '">' + time(a.deadline) + " (" + (a.deadline > now ? "in " + Math.ceil((a.deadline - now) / 1000) + " s" : "passed") + ")</td>" +
      '<td><button data-answer="approve">Approve</button> <button data-answer="deny">Deny</button></td></tr>').join("");
  };
  $("approval-rows").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-answer]");
    if (!b || !feed || feed.readyState !== 1) return;
    const id = b.closest("tr").getAttribute("data-approval");
    const approved = b.getAttribute("data-answer") === "approve";
    b.disabled = true;
    feed.send(JSON.stringify(approved ? { id, approved } : { id, approved, reason: "denied on the inspector page" }));
  });

  const drawChart = (layout) => {
    const parts = ['<svg id="chart" xmlns="http://www.w3.org/2000/svg" style="width:100%;height:auto;max-width:' + Math.ceil(layout.width + 20) + 'px" viewBox="-10 -10 ' + Math.ceil(layout.width + 20) + " " + Math.ceil(layout.height + 20) + '">'];
    parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#9aa3b5"/></marker></defs>');
    for (const n of layout.nodes) {
      parts.push('<g class="node ' + esc(n.type) + (n.compound ? " compound" : "") + '" data-state-id="' + esc(n.id) + '"><rect x="' + n.x + '" y="' + n.y + '" width="' + n.width + '" height="' + n.height + '"></rect>' +
        '<text x="' + (n.x + 8) + '" y="' + (n.y + (n.compound ? 16 : n.height / 2 + 4)) + '">' + esc(n.key) + "</text></g>");
    }
    for (const e of layout.edges) {
      if (e.points.length < 2) continue;
      const d = "M" + e.points.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join("L");
      parts.push('<g class="edge" data-from="' + esc(e.from) + '" data-to="' + esc(e.to) + '"><path d="' + d + '" marker-end="url(#arrow)"></path>' +
        (e.labelAt ? '<text x="' + e.labelAt.x + '" y="' + (e.labelAt.y + 10) + '">' + esc(e.label) + "</text>" : "") + "</g>");
    }
    parts.push("</svg>");
    return parts.join("");
  };
  const highlight = (machine, value) => {
    const svg = document.getElementById("chart");
    if (!svg) return;
    const active = new Set(activeIds(machine, value));
    for (const g of svg.querySelectorAll("g.node")) g.classList.toggle("active", active.has(g.getAttribute("data-state-id")));
  };

  const renderDetail = () => {
    const s = selected && sessions.get(selected);
    const el = $("detail");
    if (!s) { if (!el.querySelector("p.muted")) el.innerHTML = '<p class="muted">Select a session to see its chart.</p>'; return; }
    if (el.getAttribute("data-session") !== s.sessionId) {
      el.setAttribute("data-session", s.sessionId);
      el.innerHTML = '<h2></h2><dl class="facts"></dl><div id="travel"></div><div id="chart-box" class="muted">laying out the chart…</div><section><h3>In flight</h3><div id="inflight"></div></section><section><h3>Last transitions</h3><table id="transitions"></table></section><section id="replay-box"></section>';
      travel = null;
      if (s.machine) {
        const have = layouts.get(s.machine);
        (have ? Promise.resolve(have) : api("/chart/" + encodeURIComponent(s.machine))).then((layout) => {
          layouts.set(s.machine, layout);
          if (selected !== s.sessionId) return;
          $("chart-box").className = ""; $("chart-box").innerHTML = drawChart(layout);
          renderDetail();
        }, (e) => { $("chart-box").textContent = "no chart: " + e.message; });
      } else $("chart-box").textContent = "not a state machine";
    }
    el.querySelector("h2").textContent = (s.machine || "actor") + " " + (s.id || s.sessionId);
    const facts = [["xstate session", s.sessionId + (s.parentId ? " (parent " + s.parentId + ")" : "")], ["side", s.side], ["transport", s.transport], ["era", s.era], ["version", s.protocolVersion],
      ["peer", s.peer ? JSON.stringify(s.peer) : ""], ["state", label(s.value)], ["status", s.status], ["started", s.startedAt ? time(s.startedAt) : ""],
      ["ended", s.end ? s.end.reason + (s.end.error ? " (error)" : "") + " at " + time(s.end.t) : ""]];
    el.querySelector(".facts").innerHTML = facts.filter((f) => f[1]).map((f) => "<dt>" + esc(f[0]) + '</dt><dd data-fact="' + esc(f[0]) + '">' + esc(f[1]) + "</dd>").join("");
    const reqs = s.requests || [];
    $("inflight").innerHTML = reqs.length === 0 ? (s.inFlight ? esc(s.inFlight) + " request(s)" : '<span class="muted">none</span>') :
      "<table>" + reqs.map((r) => '<tr data-request="' + esc(r.id) + '"><td class=mono>' + esc(r.id) + "</td><td>" + esc(r.method) + "</td><td>" + age(r.since) + "</td></tr>").join("") + "</table>";
    $("transitions").innerHTML = "<tr><th>time</th><th>event</th><th>state</th></tr>" + s.recent.slice(-20).reverse().map((r) =>
      "<tr><td class=mono>" + time(r.t) + "</td><td class=mono>" + esc(r.event) + "</td><td class=mono>" + esc(label(r.value)) + (r.status && r.status !== "active" ? " (" + esc(r.status) + ")" : "") + "</td></tr>").join("");
    renderTravel(s);
    highlight(s.machine, travel ? travel.value : s.value);
  };

  const renderTravel = (s) => {
    const box = $("travel");
    if (!box) return;
    if (!box.firstChild) {
      box.innerHTML = '<a id="download" download>download record</a> <button id="step">step through record</button> <button id="replay">replay</button> <span id="travel-ui"></span>';
      $("download").addEventListener("click", (ev) => {
        ev.preventDefault();
        api("/record/" + encodeURIComponent(s.sessionId)).then((rec) => {
          const a = document.createElement("a");
          a.href = URL.createObjectURL(new Blob([JSON.stringify(rec, null, 2)], { type: "application/json" }));
          a.download = "record-" + (rec.machine || "actor") + "-" + s.sessionId.replace(/[^A-Za-z0-9]/g, "") + ".json";
          a.click();
        });
      });
      $("step").addEventListener("click", () => api("/record/" + encodeURIComponent(s.sessionId)).then((rec) => {
        const steps = [{ t: rec.base ? rec.base.t : rec.startedAt, event: "(start)", value: rec.base ? rec.base.value : null }].concat(rec.records.map((r) => ({ t: r.t, event: r.event.type, value: r.value })));
        travel = { steps, index: 0, value: steps[0].value };
        $("travel-ui").innerHTML = '<button id="travel-prev">◀</button><input id="travel-range" type="range" min="0" max="' + (steps.length - 1) + '" value="0"><button id="travel-next">▶</button> <span id="travel-at" class="mono"></span> <button id="travel-live">live</button>';
        const go = (i) => {
          travel.index = Math.max(0, Math.min(steps.length - 1, i));
          travel.value = steps[travel.index].value;
          $("travel-range").value = String(travel.index);
          $("travel-at").textContent = "#" + travel.index + " " + time(steps[travel.index].t) + " " + steps[travel.index].event + " → " + label(travel.value);
          highlight(s.machine, travel.value);
        };
        $("travel-range").addEventListener("input", (e) => go(Number(e.target.value)));
        $("travel-prev").addEventListener("click", () => go(travel.index - 1));
        $("travel-next").addEventListener("click", () => go(travel.index + 1));
        $("travel-live").addEventListener("click", () => { travel = null; $("travel-ui").innerHTML = ""; highlight(s.machine, s.value); });
        go(0);
      }));
      $("replay").addEventListener("click", () => api("/replay/" + encodeURIComponent(s.sessionId)).then((r) => {
        $("replay-box").innerHTML = "<h3>Replay through the chart</h3>" +
          '<p id="replay-verdict" class="' + (r.divergence ? "err" : "") + '">' + (r.divergence ? "diverged at event #" + (r.divergence.index + 1) + " (" + esc(r.divergence.step.event) + "): recorded " + esc(r.divergence.step.recorded) + ", chart gives " + esc(r.divergence.step.replayed) : "agrees with the record (" + r.steps.length + " events)") + "</p>" +
          "<p>timers fired: " + (r.timers.length ? esc(r.timers.map((x) => x.event).join(", ")) : "none") + "</p><p>ended: " + esc(r.ended || "live") + "</p>";
      }, (e) => { $("replay-box").innerHTML = '<p id="replay-verdict" class="err">' + esc(e.message) + "</p>"; }));
    }
  };

  $("rows").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.session");
    if (!tr) return;
    selected = tr.getAttribute("data-session");
    render();
  });
  for (const id of ["f-state", "f-era", "f-transport", "f-machine", "f-error", "f-ended"]) $(id).addEventListener("input", render);
  setInterval(() => { if (selected) renderDetail(); if (approvals.size) renderApprovals(); }, 1000);

  const connect = () => {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/feed?definitions=0&token=" + encodeURIComponent(token));
    feed = ws;
    // The server lists what is still pending on every connect.
    ws.onopen = () => { $("status").textContent = "live"; $("status").className = "live"; approvals.clear(); };
    // One WebSocket message carries one or more JSON lines.
    ws.onmessage = (ev) => { for (const line of String(ev.data).split("\\n")) if (line) onMessage(JSON.parse(line)); };
    ws.onclose = (ev) => {
      $("status").textContent = "disconnected (" + (ev.reason || ev.code) + "), retrying…"; $("status").className = "";
      setTimeout(connect, 2000);
    };
  };
  connect();
})();
</script>
</body>
</html>
`
