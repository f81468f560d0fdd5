// The taskcancel dashboard (docs/control-plane.md, "The dashboard"). Read-only: it only
// GETs the control plane's JSON routes. Every string from the server is put in the page
// with textContent / DOM APIs, never as markup. The control token (when the plane has
// one) is typed into a form field, kept in this tab's sessionStorage and sent as an
// Authorization header: never in a URL.
"use strict";

(() => {
  const BASE = "/_taskcancel/";
  const ROW = 22; // px: one journal row (style.css .jrow height)
  const MAX_ENTRIES = 10000; // the journal's default size
  const WAIT_SECONDS = 20; // the long-poll's hold (docs/journal.md: at most 30)
  const MAX_TASK_ROWS = 2000; // more than this: filter to see them
  const TOKEN_KEY = "taskcancel-control-token";
  const MIN_REFRESH_GAP = 300; // ms between two state refreshes, at least
  const MS_PER_TASK = 0.2; // ms between two state refreshes, per task in the world
  const BATCH_PAUSE = 200; // ms after a long-poll that brought entries
  const BATCH_LIMIT = 200; // newest entries taken a round
  const BUSY_PAUSE = 800; // ms after a round that brought a full batch

  const $ = (id) => document.getElementById(id);
  const view = {
    token: sessionStorage.getItem(TOKEN_KEY),
    entries: [], // oldest first
    lastSeq: 0,
    dropped: 0,
    skipped: 0, // entries not fetched: more than BATCH_LIMIT came in a round
    selected: null,
    world: null,
    faults: null,
    rulesAvailable: true,
    journal: "loading", // "loading" | "live" | "missing"
    needsToken: false,
  };
  const cancellable = readPolicy();
  let tokenGiven = null; // resolves when the user submits a token
  let tokenWaiters = [];

  class HttpError extends Error {
    constructor(status, body) {
      super(body && body.Message ? body.Message : "HTTP " + status);
      this.status = status;
      this.code = body && body.Code;
    }
  }

  function readPolicy() {
    const meta = document.querySelector('meta[name="taskcancel-cancellable"]');
    try {
      const policy = JSON.parse(meta ? meta.content : "{}");
      return { actions: new Set(policy.Actions || []), statuses: new Set(policy.Statuses || []) };
    } catch (_) {
      return { actions: new Set(), statuses: new Set() };
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(text) {
    const notice = $("notice");
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  async function get(route) {
    const headers = { Accept: "application/json" };
    if (view.token) headers.Authorization = "Bearer " + view.token;
    const response = await fetch(BASE + route, {
      headers,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) throw new HttpError(response.status, body);
    return body;
  }

  const missing = (error) => error instanceof HttpError && (error.status === 404 || error.status === 405);
  const forbidden = (error) => error instanceof HttpError && error.status === 403;
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // -- the token ----------------------------------------------------------------------

  function askToken() {
    view.needsToken = true;
    $("auth").hidden = false;
    renderControl();
    if (!tokenGiven) tokenGiven = new Promise((resolve) => tokenWaiters.push(resolve));
    return tokenGiven;
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    view.token = value;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    $("auth").hidden = true;
    const waiters = tokenWaiters;
    tokenWaiters = [];
    tokenGiven = null;
    waiters.forEach((resolve) => resolve());
  });

  // -- header ---------------------------------------------------------------------------

  let clockKind = "";
  function renderHealth(health) {
    $("version").textContent = health.Version;
    $("profile").textContent = health.Profile;
    $("store").textContent = health.Store;
    clockKind = health.Clock;
    renderClock();
  }

  function renderClock() {
    const now = view.world ? view.world.Now : "…";
    $("clock").textContent = now + (clockKind ? " (" + clockKind + ")" : "");
  }

  function renderControl() {
    let text = "open (loopback)";
    if (view.needsToken) text = view.token ? "token (rejected: enter it again)" : "token needed";
    else if (view.token) text = "token";
    $("control").textContent = text;
  }

  // -- tasks ----------------------------------------------------------------------------

  function supportCancel(task) {
    return cancellable.actions.has(task.TaskAction) && cancellable.statuses.has(task.TaskStatus);
  }

  function schedule(task) {
    const s = task.Schedule;
    if (!s) return "";
    return "queued " + s.QueuedSeconds + " s, processing " + s.ProcessingSeconds + " s → " + s.Outcome;
  }

  function taskText(task) {
    return [task.TaskId, task.RegionId, task.AccessKeyId, task.TaskAction, task.TaskStatus]
      .join(" ")
      .toLowerCase();
  }

  let drawn = null; // what the task table shows: no redraw when nothing changed
  function renderTasks() {
    const box = $("tasks");
    const tasks = view.world ? view.world.Tasks || [] : [];
    const needle = $("filter").value.trim().toLowerCase();
    const key = JSON.stringify([needle, view.world ? tasks : null]);
    if (key === drawn) return;
    drawn = key;
    const shown = needle ? tasks.filter((t) => taskText(t).includes(needle)) : tasks;
    $("task-count").textContent =
      needle ? shown.length + " of " + tasks.length : String(tasks.length);
    const groups = new Map();
    for (const task of shown.slice(0, MAX_TASK_ROWS)) {
      const key = task.AccessKeyId + "\u0000" + task.RegionId;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(task);
    }
    const keys = [...groups.keys()].sort();
    const nodes = [];
    for (const key of keys) {
      const [account, region] = key.split("\u0000");
      const table = el("table");
      const caption = el("caption");
      caption.append(el("span", "mono", account), " · ", el("span", "mono", region));
      table.append(caption);
      const head = el("tr");
      for (const name of ["TaskId", "Action", "Status", "Progress", "SupportCancel", "CancelFails", "Schedule"]) {
        head.append(el("th", null, name));
      }
      table.append(head);
      for (const task of groups.get(key)) {
        const row = el("tr", "task");
        row.dataset.taskId = task.TaskId;
        row.dataset.regionId = task.RegionId;
        row.append(
          el("td", "id", task.TaskId),
          el("td", null, task.TaskAction),
          el("td", "status st-" + String(task.TaskStatus).replace(/[^A-Za-z]/g, ""), task.TaskStatus),
          el("td", null, task.TaskProcess === undefined ? "" : task.TaskProcess),
          el("td", null, supportCancel(task) ? "true" : "false"),
          el("td", null, task.CancelFails ? "true" : "false"),
          el("td", null, schedule(task)),
        );
        table.append(row);
      }
      nodes.push(table);
    }
    if (shown.length > MAX_TASK_ROWS) {
      nodes.push(el("p", "muted", "showing " + MAX_TASK_ROWS + " of " + shown.length + ": filter to see the rest"));
    }
    if (!tasks.length) nodes.push(el("p", "muted", view.world ? "no tasks" : "loading…"));
    box.replaceChildren(...nodes);
  }

  $("filter").addEventListener("input", renderTasks);

  // -- faults ---------------------------------------------------------------------------

  function renderFaults() {
    const box = $("faults");
    const faults = view.faults || (view.world && view.world.Faults) || null;
    if (!faults) {
      box.replaceChildren(el("p", "muted", "loading…"));
      return;
    }
    const facts = el("dl");
    for (const name of ["ThrottleRate", "RetryAfterMs", "LatencyMs"]) {
      if (name in faults) facts.append(el("dt", null, name), el("dd", null, faults[name]));
    }
    const nodes = [facts];
    if (!view.rulesAvailable) {
      nodes.push(el("p", "muted", "fault rules not available on this emulator (no GET /_taskcancel/faults)"));
    } else {
      const rules = faults.Rules || [];
      if (!rules.length) nodes.push(el("p", "muted", "no fault rules"));
      else {
        const table = el("table");
        const head = el("tr");
        for (const name of ["#", "Name", "Match", "When", "Does", "Matched", "Fired"]) head.append(el("th", null, name));
        table.append(head);
        rules.forEach((rule, index) => {
          const does = [rule.Error, rule.Fault, rule.LatencyMs ? rule.LatencyMs + " ms" : null]
            .filter((x) => x !== undefined && x !== null)
            .join(", ");
          const row = el("tr", "rule");
          row.append(
            el("td", null, index + 1),
            el("td", "mono", rule.Name === undefined ? "" : rule.Name),
            el("td", "mono", rule.Match ? JSON.stringify(rule.Match) : "any"),
            el("td", "mono", rule.When ? JSON.stringify(rule.When) : "always"),
            el("td", null, does),
            el("td", "matched", rule.Matched === undefined ? "" : rule.Matched),
            el("td", "fired", rule.Fired === undefined ? "" : rule.Fired),
          );
          table.append(row);
        });
        nodes.push(table);
      }
    }
    box.replaceChildren(...nodes);
  }

  // -- state and faults, refreshed when something happened ------------------------------

  let refreshing = null;
  let refreshAgain = false;
  let lastRefresh = 0;
  let refreshGap = MIN_REFRESH_GAP;

  async function refreshOnce() {
    try {
      view.world = await get("state");
    } catch (error) {
      if (forbidden(error)) {
        askToken(); // start() waits for it
        return;
      }
      if (missing(error)) show("the control plane is off: nothing to show");
      else show("emulator unreachable: " + error.message);
      return;
    }
    if (view.rulesAvailable) {
      try {
        view.faults = await get("faults");
      } catch (error) {
        if (!missing(error)) throw error;
        view.rulesAvailable = false;
        view.faults = null;
      }
    }
    show(view.journal === "missing" ? "journal not available on this emulator (no GET /_taskcancel/requests): tasks refresh every second" : "");
    renderClock();
    renderTasks();
    renderFaults();
  }

  // At most one refresh in flight and one queued behind it, at most ~3 a second, and
  // further apart for a large world (see refreshGap).
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        const wait = lastRefresh + refreshGap - Date.now();
        if (wait > 0) await pause(wait);
        lastRefresh = Date.now();
        try {
          await refreshOnce();
        } catch (error) {
          show("refresh failed: " + error.message);
        }
        // A large world costs the emulator more to send (a few µs a task): under a stream
        // of calls, look again no sooner than 0.2 ms a task (5,000 tasks: once a second).
        const tasks = view.world && view.world.Tasks ? view.world.Tasks.length : 0;
        refreshGap = Math.max(MIN_REFRESH_GAP, MS_PER_TASK * tasks);
      } while (refreshAgain);
      refreshing = null;
    })();
    return refreshing;
  }

  // -- the journal: a windowed list, newest first ---------------------------------------

  function addEntries(entries) {
    for (const entry of entries) {
      if (entry.Seq <= view.lastSeq) continue;
      if (entry.Kind === "control" && /\/reset$/.test(entry.Path || "")) view.entries = [];
      view.entries.push(entry);
      view.lastSeq = entry.Seq;
    }
    if (view.entries.length > MAX_ENTRIES) view.entries.splice(0, view.entries.length - MAX_ENTRIES);
    renderJournal();
  }

  function cells(entry) {
    const decision = entry.Decision || {};
    const time = typeof entry.Time === "string" && entry.Time.length >= 19 ? entry.Time.slice(11, 19) : entry.Time;
    const action = entry.Kind === "control" ? entry.Method + " " + entry.Path : entry.Action;
    const decided = decision.Step ? decision.Step + (decision.Check ? ": " + decision.Check : "") : "";
    return [time, action, entry.RegionId, entry.TaskId, entry.AccessKeyId, entry.Status, entry.Code, decided];
  }

  let pendingFrame = 0;
  function renderJournal() {
    if (pendingFrame) return;
    pendingFrame = requestAnimationFrame(() => {
      pendingFrame = 0;
      drawJournal();
    });
  }

  function drawJournal() {
    const port = $("journal");
    const spacer = $("journal-spacer");
    const total = view.entries.length;
    let count = String(total);
    if (view.journal === "missing") count = "not available";
    else {
      if (view.dropped) count += " (" + view.dropped + " dropped)";
      if (view.skipped) count += " (" + view.skipped + " not fetched: too many calls to show each)";
    }
    $("journal-count").textContent = count;
    spacer.style.height = total * ROW + "px";
    const first = Math.max(0, Math.floor(port.scrollTop / ROW) - 5);
    const last = Math.min(total, Math.ceil((port.scrollTop + port.clientHeight) / ROW) + 5);
    const rows = [spacer];
    for (let i = first; i < last; i++) {
      const entry = view.entries[total - 1 - i];
      const row = el("div", "jrow");
      row.setAttribute("role", "listitem");
      row.tabIndex = -1;
      row.style.top = i * ROW + "px";
      row.dataset.seq = entry.Seq;
      if (entry.Kind === "control") row.classList.add("control");
      if (entry.Code && entry.Code !== "OK") row.classList.add("bad");
      if (entry.Seq === view.selected) row.classList.add("selected");
      for (const value of cells(entry)) {
        row.append(el("span", null, value === undefined || value === null ? "" : value));
      }
      rows.push(row);
    }
    port.replaceChildren(...rows);
  }

  $("journal").addEventListener("scroll", renderJournal, { passive: true });
  $("journal").addEventListener("click", (event) => {
    const row = event.target.closest(".jrow");
    if (!row) return;
    select(Number(row.dataset.seq));
  });
  $("journal").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const total = view.entries.length;
    if (!total) return;
    let index = view.entries.findIndex((e) => e.Seq === view.selected);
    index = index < 0 ? total - 1 : index + (event.key === "ArrowDown" ? -1 : 1);
    index = Math.max(0, Math.min(total - 1, index));
    select(view.entries[index].Seq);
    const position = (total - 1 - index) * ROW;
    const port = $("journal");
    if (position < port.scrollTop) port.scrollTop = position;
    else if (position + ROW > port.scrollTop + port.clientHeight) port.scrollTop = position + ROW - port.clientHeight;
  });

  function pairs(list, object) {
    for (const [name, value] of Object.entries(object)) {
      list.append(el("dt", null, name), el("dd", "mono", typeof value === "object" && value !== null ? JSON.stringify(value) : value));
    }
    return list;
  }

  function select(seq) {
    view.selected = seq;
    renderJournal();
    const entry = view.entries.find((e) => e.Seq === seq);
    const box = $("entry");
    if (!entry) {
      box.replaceChildren(el("p", "muted", "that call is no longer in the journal"));
      return;
    }
    const title = entry.Kind === "control" ? entry.Method + " " + entry.Path : entry.Action;
    const nodes = [el("h3", null, "#" + entry.Seq + " " + title + " → " + entry.Status + " " + entry.Code)];
    const facts = {
      Time: entry.Time,
      RequestId: entry.RequestId,
      Kind: entry.Kind,
      Request: entry.Method + " " + entry.Path,
    };
    if (entry.Kind !== "control") {
      Object.assign(facts, {
        Signature: entry.Signature === null ? "none" : entry.Signature,
        AccessKeyId: entry.AccessKeyId,
        RegionId: entry.RegionId,
        TaskId: entry.TaskId,
      });
    }
    if (entry.LatencyMs !== undefined) facts.LatencyMs = entry.LatencyMs;
    nodes.push(pairs(el("dl"), facts));
    const decision = entry.Decision;
    if (decision) {
      nodes.push(el("h3", null, "Decision"));
      const list = el("dl", "decision");
      list.append(el("dt", null, "Step"), el("dd", "step", decision.Step));
      list.append(el("dt", null, "Check"), el("dd", "check mono", decision.Check));
      list.append(
        el("dt", null, "Rule"),
        el("dd", "rule", decision.Rule === null || decision.Rule === undefined ? "none" : "contract row " + decision.Rule),
      );
      list.append(el("dt", null, "Reason"), el("dd", "reason", decision.Reason === null || decision.Reason === undefined ? "none" : decision.Reason));
      nodes.push(list);
      if (decision.Task) {
        nodes.push(el("h3", null, "Task as the rules saw it"));
        nodes.push(pairs(el("dl", "decision-task"), decision.Task));
      }
    }
    const ignored = new Set(entry.Ignored || []);
    if (entry.Params) {
      nodes.push(el("h3", null, "Parameters"));
      const table = el("table", "params");
      for (const name of Object.keys(entry.Params).sort()) {
        const row = el("tr", ignored.has(name) ? "ignored" : null);
        const label = el("td", "mono", name);
        if (ignored.has(name)) label.append(el("span", "tag", "ignored"));
        row.append(label, el("td", "mono", entry.Params[name]));
        table.append(row);
      }
      nodes.push(table);
    }
    if (ignored.size) {
      nodes.push(el("p", "ignored-list", "Ignored (neither the action's own nor common parameters): " + [...ignored].join(", ")));
    }
    box.replaceChildren(...nodes);
  }

  async function follow() {
    for (;;) {
      try {
        const first = await get("requests");
        view.journal = "live";
        view.dropped = first.Dropped || 0;
        addEntries(first.Requests || []);
        break;
      } catch (error) {
        if (forbidden(error)) await askToken();
        else if (missing(error)) {
          view.journal = "missing";
          renderJournal();
          setInterval(refresh, 1000); // no journal to wait on: poll the state instead
          refresh();
          return;
        } else {
          show("emulator unreachable: " + error.message);
          await pause(2000);
        }
      }
    }
    for (;;) {
      try {
        // Wait for one new entry, then take the newest BATCH_LIMIT: a busy emulator pays
        // for at most that many entries a round (the rest are counted as not fetched).
        const wake = await get("requests?Since=" + view.lastSeq + "&Limit=1&WaitSeconds=" + WAIT_SECONDS);
        if ((wake.Requests || []).length) {
          const answer = await get("requests?Limit=" + BATCH_LIMIT);
          view.dropped = answer.Dropped || 0;
          const fresh = (answer.Requests || []).filter((e) => e.Seq > view.lastSeq);
          if (fresh.length && view.lastSeq && fresh[0].Seq > view.lastSeq + 1) {
            view.skipped += fresh[0].Seq - view.lastSeq - 1;
          }
          addEntries(fresh);
          refresh();
          await pause(fresh.length >= BATCH_LIMIT ? BUSY_PAUSE : BATCH_PAUSE);
        }
      } catch (error) {
        if (forbidden(error)) await askToken();
        else {
          show("emulator unreachable: " + error.message);
          await pause(2000);
        }
      }
    }
  }

  async function start() {
    renderControl();
    renderTasks();
    renderFaults();
    renderJournal();
    for (;;) {
      try {
        renderHealth(await get("health"));
        break;
      } catch (error) {
        show("emulator unreachable: " + error.message);
        await pause(2000);
      }
    }
    await refresh();
    while (view.needsToken && !view.world) {
      await (tokenGiven || askToken());
      view.needsToken = false;
      renderControl();
      await refresh();
    }
    renderControl();
    // Statuses move with the clock too (a task's Schedule): look again now and then.
    setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, 5000);
    follow();
  }

  start();
})();
