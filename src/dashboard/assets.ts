/**
 * The dashboard's front end: one HTML page, its stylesheet and script (plain browser JavaScript,
 * no build step), and the token wall. They are kept in this module so they ship with the code.
 * The script runs in the browser: it reads the browser's clock and timers, not Effect's (the
 * rules on `Clock` and timers are the server's).
 *
 * @since 0.1.0
 */

/**
 * The page. Asset and API addresses are relative, so the page works under any mount path.
 *
 * @since 0.1.0
 * @category assets
 */
export const indexHtml = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sitq dashboard</title>
<link rel="stylesheet" href="app.css">
</head>
<body>
<header>
  <h1><a href="#/">sitq</a></h1>
  <span id="live" class="live" title="live updates">connecting</span>
  <span id="readonly" class="badge ro" hidden>read-only</span>
  <form id="purge" class="action purge">
    <label>Purge finished older than <input id="purge-minutes" type="number" min="0" value="60" size="5"> min</label>
    <button type="submit" data-testid="purge">Purge</button>
  </form>
</header>
<main>
  <p id="message" class="message" hidden></p>
  <section id="home">
    <div id="totals" class="totals" data-testid="totals"></div>
    <div class="row">
      <section class="panel">
        <h2>Finished per minute <small>(last 15 minutes)</small></h2>
        <div id="throughput" class="bars" data-testid="throughput"></div>
        <div class="axis"><span>15 min ago</span><span id="throughput-sum"></span><span>now</span></div>
      </section>
      <section class="panel">
        <h2>Queues</h2>
        <table id="queues" data-testid="queues"><thead><tr><th>queue</th><th>pending</th><th>running</th><th>success</th><th>failed</th><th>cancelled</th></tr></thead><tbody></tbody></table>
      </section>
    </div>
    <section class="panel">
      <h2>Tasks</h2>
      <form id="filters" class="filters">
        <select id="f-status" name="status" data-testid="filter-status">
          <option value="">any status</option>
          <option>pending</option><option value="in_progress">running</option><option>success</option><option>failed</option><option>cancelled</option>
        </select>
        <input id="f-name" name="name" placeholder="task name" data-testid="filter-name">
        <input id="f-queue" name="queue" placeholder="queue" data-testid="filter-queue">
        <button type="submit" data-testid="filter-apply">Filter</button>
      </form>
      <table id="tasks" data-testid="tasks"><thead><tr><th>id</th><th>name</th><th>queue</th><th>status</th><th>attempts</th><th>enqueued</th><th>finished</th><th>error</th><th class="action"></th></tr></thead><tbody></tbody></table>
      <div class="pager"><button id="newer" data-testid="newer">&larr; newer</button><span id="page-no"></span><button id="older" data-testid="older">older &rarr;</button></div>
    </section>
  </section>
  <section id="task" hidden data-testid="task-page"></section>
</main>
<script src="app.js"></script>
</body>
</html>
`

/**
 * The stylesheet.
 *
 * @since 0.1.0
 * @category assets
 */
export const appCss = String.raw`
:root { --bg:#f6f7f9; --fg:#1d2430; --muted:#6b7280; --line:#e3e6eb; --card:#fff;
  --pending:#6366f1; --in_progress:#0ea5e9; --success:#16a34a; --failed:#dc2626; --cancelled:#9ca3af; }
* { box-sizing: border-box; }
[hidden] { display:none !important; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:1rem; padding:.6rem 1.2rem; background:#111827; color:#fff; }
header h1 { font-size:1.2rem; margin:0; } header h1 a { color:#fff; text-decoration:none; }
header .purge { margin-left:auto; display:flex; gap:.4rem; align-items:center; }
header input { width:5em; }
.live { font-size:.8rem; color:#9ca3af; } .live.on { color:#4ade80; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; color:#fff; background:var(--muted); }
.badge.ro { background:#f59e0b; color:#111; }
.badge.pending { background:var(--pending); } .badge.in_progress { background:var(--in_progress); }
.badge.success { background:var(--success); } .badge.failed { background:var(--failed); } .badge.cancelled { background:var(--cancelled); }
main { padding:1rem 1.2rem; max-width:1200px; margin:0 auto; }
.totals { display:grid; grid-template-columns:repeat(5, 1fr); gap:.8rem; margin-bottom:1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.7rem .9rem; cursor:pointer; border-top:4px solid var(--muted); }
.card .n { font-size:1.6rem; font-weight:600; } .card .l { color:var(--muted); }
.card.pending { border-top-color:var(--pending); } .card.in_progress { border-top-color:var(--in_progress); }
.card.success { border-top-color:var(--success); } .card.failed { border-top-color:var(--failed); } .card.cancelled { border-top-color:var(--cancelled); }
.row { display:grid; grid-template-columns:1fr 1fr; gap:1rem; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; margin-bottom:1rem; overflow-x:auto; }
.panel h2 { font-size:1rem; margin:.1rem 0 .6rem; } .panel h2 small { color:var(--muted); font-weight:normal; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:.35rem .5rem; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:.85rem; }
td.err { max-width:14rem; overflow:hidden; text-overflow:ellipsis; color:var(--failed); }
td.id a { font-family:ui-monospace, monospace; font-size:.8rem; }
.bars { display:flex; align-items:flex-end; gap:3px; height:120px; padding-top:.5rem; }
.bar { flex:1; display:flex; flex-direction:column-reverse; min-width:6px; height:100%; }
.axis { display:flex; justify-content:space-between; color:var(--muted); font-size:.8rem; border-top:1px solid var(--line); margin-top:2px; }
.bar .s { background:var(--success); } .bar .f { background:var(--failed); }
.filters { display:flex; gap:.5rem; margin-bottom:.6rem; }
.pager { display:flex; gap:1rem; align-items:center; justify-content:center; margin-top:.6rem; }
button { cursor:pointer; padding:.25rem .7rem; border:1px solid #cbd5e1; background:#fff; border-radius:5px; }
button:disabled { opacity:.45; cursor:default; }
button.danger { border-color:var(--failed); color:var(--failed); }
.message { padding:.5rem .8rem; border-radius:6px; background:#ecfdf5; border:1px solid #a7f3d0; }
.message.error { background:#fef2f2; border-color:#fecaca; }
dl.fields { display:grid; grid-template-columns:max-content 1fr; gap:.3rem 1rem; }
dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; font-family:ui-monospace, monospace; }
pre { background:#0f172a; color:#e2e8f0; padding:.7rem; border-radius:6px; overflow:auto; max-height:24rem; }
ol.timeline { list-style:none; padding:0; margin:0; border-left:3px solid var(--line); }
ol.timeline li { padding:.2rem 0 .5rem 1rem; position:relative; }
ol.timeline li::before { content:""; position:absolute; left:-7px; top:.55rem; width:11px; height:11px; border-radius:50%; background:var(--muted); }
ol.timeline li.success::before { background:var(--success); } ol.timeline li.failed::before { background:var(--failed); }
ol.timeline li.cancelled::before { background:var(--cancelled); }
body.read-only .action { display:none !important; }
@media (max-width: 800px) { .row, .totals { grid-template-columns:1fr; } }
`

/**
 * The script: fetches `api/…`, renders, follows `api/events`.
 *
 * @since 0.1.0
 * @category assets
 */
export const appJs = String.raw`"use strict";
(function () {
  var STATUSES = ["pending", "in_progress", "success", "failed", "cancelled"];
  var LABELS = { pending: "pending", in_progress: "running", success: "success", failed: "failed", cancelled: "cancelled" };
  var PAGE = 25;
  var state = { readOnly: false, cursors: [undefined], pageIndex: 0, next: null };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k.indexOf("on") === 0) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function time(ms) { return ms == null ? "" : new Date(ms).toLocaleString(); }
  function badge(status) { return el("span", { class: "badge " + status, text: LABELS[status] || status }); }
  function api(path, init) {
    return fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, init || {})).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var err = new Error(body.error || ("HTTP " + r.status)); err.status = r.status; err.body = body; throw err; }
        return body;
      });
    });
  }
  function action(path, body) {
    return api(path, { method: "POST", headers: { "x-sitq-action": "1", "content-type": "application/json" }, body: JSON.stringify(body || {}) });
  }
  function say(text, isError) {
    var m = $("message"); m.hidden = false; m.textContent = text; m.className = "message" + (isError ? " error" : "");
    m.setAttribute("data-testid", "message");
  }
  function bytes(view) {
    if (view == null) return "(none)";
    if (view.encoding === "empty") return "(empty)";
    if (view.encoding === "json") return JSON.stringify(view.value, null, 2);
    return "base64: " + view.value;
  }

  function renderStats(s) {
    var totals = $("totals"); totals.textContent = "";
    STATUSES.forEach(function (st) {
      totals.appendChild(el("div", { class: "card " + st, "data-status": st, "data-testid": "count-" + st, onclick: function () {
        $("f-status").value = st; resetPaging(); loadTasks(); } }, [
        el("div", { class: "n", text: String(s.total[st]) }), el("div", { class: "l", text: LABELS[st] })
      ]));
    });
    var body = $("queues").tBodies[0]; body.textContent = "";
    s.queues.forEach(function (q) {
      body.appendChild(el("tr", { "data-queue": q.queue }, [el("td", { text: q.queue })].concat(STATUSES.map(function (st) {
        return el("td", { text: String(q.counts[st]) });
      }))));
    });
    var bars = $("throughput"); bars.textContent = "";
    var max = 1, okSum = 0, badSum = 0;
    for (var i = 0; i < s.throughput.success.length; i++) max = Math.max(max, s.throughput.success[i] + s.throughput.failed[i]);
    for (var j = 0; j < s.throughput.success.length; j++) {
      var ok = s.throughput.success[j], bad = s.throughput.failed[j];
      okSum += ok; badSum += bad;
      var at = new Date(s.throughput.from + j * s.throughput.bucketMillis);
      bars.appendChild(el("div", { class: "bar", title: at.toLocaleTimeString() + ": " + ok + " succeeded, " + bad + " failed" }, [
        el("div", { class: "s", style: "height:" + (100 * ok / max) + "%" }),
        el("div", { class: "f", style: "height:" + (100 * bad / max) + "%" })
      ]));
    }
    $("throughput-sum").textContent = okSum + " succeeded, " + badSum + " failed";
  }
  function loadStats() { return api("api/stats").then(renderStats, function (e) { say("stats: " + e.message, true); }); }

  function filterQuery() {
    var q = new URLSearchParams();
    ["status", "name", "queue"].forEach(function (k) { var v = $("f-" + k).value.trim(); if (v) q.set(k, v); });
    q.set("limit", String(PAGE));
    var after = state.cursors[state.pageIndex]; if (after) q.set("after", after);
    return q.toString();
  }
  function taskActions(t, after) {
    var cell = el("td", { class: "action" });
    if (t.status === "failed" || t.status === "cancelled") {
      cell.appendChild(el("button", { text: "retry", "data-testid": "retry-" + t.id, onclick: function (ev) {
        ev.preventDefault(); action("api/tasks/" + t.id + "/retry").then(function (r) { say("retry " + t.id + ": " + r.result); after(); }, function (e) { say(e.message, true); });
      } }));
    } else if (t.status === "pending" || t.status === "in_progress") {
      cell.appendChild(el("button", { class: "danger", text: "cancel", "data-testid": "cancel-" + t.id, onclick: function (ev) {
        ev.preventDefault(); action("api/tasks/" + t.id + "/cancel").then(function (r) { say("cancel " + t.id + ": " + r.result); after(); }, function (e) { say(e.message, true); });
      } }));
    }
    return cell;
  }
  function renderTasks(page) {
    var body = $("tasks").tBodies[0]; body.textContent = "";
    state.next = page.next;
    page.tasks.forEach(function (t) {
      body.appendChild(el("tr", { "data-id": t.id, "data-status": t.status, "data-testid": "task-row" }, [
        el("td", { class: "id" }, [el("a", { href: "#/task/" + t.id, text: t.id })]),
        el("td", { text: t.name }), el("td", { text: t.queue }), el("td", {}, [badge(t.status)]),
        el("td", { text: String(t.attempts) }), el("td", { text: time(t.enqueuedAt) }), el("td", { text: time(t.finishedAt) }),
        el("td", { class: "err", text: t.error ? t.error.tag + ": " + t.error.message : "", title: t.error ? t.error.message : "" }),
        taskActions(t, refresh)
      ]));
    });
    if (page.tasks.length === 0) body.appendChild(el("tr", {}, [el("td", { colspan: "9", text: "no tasks" })]));
    $("newer").disabled = state.pageIndex === 0;
    $("older").disabled = !page.next;
    $("page-no").textContent = "page " + (state.pageIndex + 1);
  }
  function loadTasks() { return api("api/tasks?" + filterQuery()).then(renderTasks, function (e) { say("tasks: " + e.message, true); }); }
  function resetPaging() { state.cursors = [undefined]; state.pageIndex = 0; }

  function field(dl, name, value) { dl.appendChild(el("dt", { text: name })); dl.appendChild(el("dd", { text: value == null ? "" : String(value) })); }
  function showTask(id) {
    var page = $("task");
    return api("api/tasks/" + encodeURIComponent(id)).then(function (t) {
      page.textContent = "";
      var head = el("h2", {}, [t.name + " ", badge(t.status)]);
      var acts = el("div", { class: "action" });
      var row = taskActions(t, function () { showTask(id); });
      while (row.firstChild) acts.appendChild(row.firstChild);
      var dl = el("dl", { class: "fields" });
      field(dl, "id", t.id); field(dl, "queue", t.queue); field(dl, "priority", t.priority);
      field(dl, "attempts", t.attempts); field(dl, "run at", time(t.runAt)); field(dl, "key", t.key);
      if (t.leaseOwner) field(dl, "lease", t.leaseOwner + " until " + time(t.leaseUntil));
      var tl = el("ol", { class: "timeline", "data-testid": "timeline" });
      t.timeline.forEach(function (e) { tl.appendChild(el("li", { class: e.event, text: e.event + " \u2014 " + time(e.at) })); });
      var parts = [el("p", {}, [el("a", { href: "#/", text: "\u2190 all tasks" })]), head, acts,
        el("section", { class: "panel" }, [dl]),
        el("section", { class: "panel" }, [el("h2", { text: "Timeline" }), tl]),
        el("section", { class: "panel" }, [el("h2", { text: "Payload" }), el("pre", { "data-testid": "payload", text: bytes(t.payload) })])];
      if (t.result) parts.push(el("section", { class: "panel" }, [el("h2", { text: "Result" }), el("pre", { text: bytes(t.result) })]));
      if (t.error) {
        parts.push(el("section", { class: "panel" }, [el("h2", { text: "Error" }),
          el("pre", { "data-testid": "error", text: t.error.tag + ": " + t.error.message + (t.errorData ? "\n\n" + bytes(t.errorData) : "") })]));
      }
      if (t.traceback) parts.push(el("section", { class: "panel" }, [el("h2", { text: "Traceback" }), el("pre", { "data-testid": "traceback", text: t.traceback })]));
      parts.forEach(function (p) { page.appendChild(p); });
    }, function (e) { page.textContent = ""; page.appendChild(el("p", { class: "message error", text: e.message })); });
  }

  function route() {
    var m = /^#\/task\/(.+)$/.exec(location.hash);
    $("home").hidden = !!m; $("task").hidden = !m;
    return m ? showTask(decodeURIComponent(m[1])) : Promise.all([loadStats(), loadTasks()]);
  }
  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; route(); }, 300);
  }

  function live() {
    var source = new EventSource("api/events");
    source.onopen = function () { $("live").textContent = "live"; $("live").className = "live on"; };
    source.onmessage = function () { refresh(); };
    source.onerror = function () { $("live").textContent = "reconnecting"; $("live").className = "live"; };
  }

  $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); resetPaging(); loadTasks(); });
  $("older").addEventListener("click", function () { if (!state.next) return; state.cursors[state.pageIndex + 1] = state.next; state.pageIndex++; loadTasks(); });
  $("newer").addEventListener("click", function () { if (state.pageIndex === 0) return; state.pageIndex--; loadTasks(); });
  $("purge").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var minutes = Number($("purge-minutes").value || "0");
    if (!confirm("Delete finished tasks older than " + minutes + " minutes?")) return;
    action("api/purge", { olderThanMinutes: minutes }).then(function (r) { say("purged " + r.purged + " tasks"); route(); }, function (e) { say(e.message, true); });
  });
  window.addEventListener("hashchange", route);

  api("api/config").then(function (c) {
    state.readOnly = c.readOnly;
    if (c.readOnly) { document.body.classList.add("read-only"); $("readonly").hidden = false; }
    document.body.setAttribute("data-ready", "1");
    route(); live();
  }, function (e) { say(e.message, true); });
})();
`

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c] ?? c)

/**
 * The page shown without a valid token: a form that sends `?token=`.
 *
 * @since 0.1.0
 * @category assets
 */
export const tokenWall = (wrong: boolean): string =>
  `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sitq dashboard: token required</title>
<style>body{font:15px system-ui,sans-serif;background:#111827;color:#fff;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1f2937;padding:2rem;border-radius:10px;display:grid;gap:.8rem;min-width:20rem}
input,button{padding:.5rem;border-radius:5px;border:1px solid #374151;font:inherit}p.bad{color:#f87171;margin:0}</style></head>
<body><form method="get" data-testid="token-wall"><h1>sitq dashboard</h1>
<label for="token">This dashboard needs a token.</label>
${wrong ? `<p class="bad">${escapeHtml("That token is not right.")}</p>` : ""}
<input id="token" name="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">Open</button></form></body></html>`
