// The Keel dashboard: renders the document the server pushes as `view` events
// (GET /api/events) and keeps a few minutes of history for the plots. Start and stop go to
// PUT /api/units/<name>, scale to PUT /api/units/<template>/replicas; everything shown comes
// from the server's document.
"use strict";

const HISTORY = 300; // samples kept for the plots: five minutes of one-second updates
const history = { commits: [], states: [] };
let lastCommit = null;
// Per daemon: its request rates (the plot) and its last total with the time it was read.
const requestHistory = {};
const REQUEST_COLORS = { keel: "#4fb3ff", fleet: "#3ecf8e", dns: "#c792ea" };

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(text, kind) {
  return element("span", { class: `badge ${kind || ""}` }, text);
}

function rows(table, items, cells) {
  const body = $(`${table} tbody`);
  body.replaceChildren(...items.map((item) => element("tr", {}, ...cells(item).map((cell) =>
    cell instanceof Node && cell.tagName === "TD" ? cell : element("td", {}, cell)))));
}

function renderMembers(view) {
  rows("#members", view.members, (member) => [
    member.name || "(starting)",
    element("td", { class: "mono" }, member.id),
    member.leader ? badge("leader", "good") : member.up ? badge("follower") : badge("down", "bad"),
    member.raft_index,
    member.raft_term,
    element("td", { class: "mono" }, member.client_urls.join(", ")),
  ]);
}

// CPU and memory the units placed on a machine ask of it, against what it offers.
function allocationRows(machine) {
  if (!machine.allocated) return [];
  const capacity = machine.capacity;
  const cores = (millis) => `${(millis / 1000).toFixed(millis % 1000 ? 2 : 0)} cores`;
  const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const row = (label, used, offered, format) => {
    const share = offered ? Math.min(100, (100 * used) / offered) : 0;
    const text = offered ? `${label} ${format(used)} of ${format(offered)} allocated`
      : `${label} ${format(used)} requested (no capacity declared)`;
    return [element("div", { class: "allocation" }, text),
      element("div", { class: "bar" }, element("span", { class: share > 90 ? "full" : "", style: `width:${share}%` }))];
  };
  return [
    ...row("CPU", machine.allocated.cpuMillis, capacity && capacity.cpuMillis, cores),
    ...row("memory", machine.allocated.memoryBytes, capacity && capacity.memoryBytes, gib),
  ];
}

function renderMachines(view) {
  const tiles = view.machines.map((machine) => {
    const share = machine.units ? (100 * machine.active) / machine.units : 0;
    const metadata = Object.entries(machine.metadata).map(([k, v]) => `${k}=${v}`).join(" ");
    return element("div", { class: "tile" },
      element("div", { class: "id" }, machine.id.slice(0, 12)),
      element("div", {}, machine.ip),
      element("div", { class: "muted" }, metadata || "no metadata"),
      element("div", {}, `${machine.active} of ${machine.units} units active`),
      element("div", { class: "bar" }, element("span", { style: `width:${share}%` })),
      ...allocationRows(machine));
  });
  $("#machines").replaceChildren(...(tiles.length ? tiles : [element("div", { class: "muted" }, "no machines")]));
}

async function setDesired(name, desiredState) {
  const reply = await fetch(`/api/units/${encodeURIComponent(name)}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ desiredState }),
  });
  if (!reply.ok) alert(`${name}: ${reply.status} ${await reply.text()}`);
}

function stateBadge(unit) {
  const kind = unit.active === "active" ? "good" : unit.active === "failed" ? "bad" : "warn";
  return badge(unit.active === "-" ? unit.current : `${unit.active} (${unit.sub})`, kind);
}

function countCell(value, kind) {
  return element("td", { class: `count ${value ? kind : "muted"}` }, value);
}

function renderUnits(view) {
  rows("#units", view.units, (unit) => [
    element("td", { class: "mono" }, unit.name),
    unit.desired,
    stateBadge(unit),
    element("td", { class: "mono" }, unit.machine === "-" ? "-" : unit.machine.slice(0, 12)),
    unit.pending || "",
    countCell(unit.counts.failures, "bad"),
    countCell(unit.counts.restarts, "warn"),
    unit.desired === "launched"
      ? element("button", { "data-action": "stop", onclick: () => setDesired(unit.name, "loaded") }, "stop")
      : element("button", { "data-action": "start", onclick: () => setDesired(unit.name, "launched") }, "start"),
  ]);
}

async function scale(template, input) {
  const text = input.value.trim();
  const count = Number(text);
  if (text === "" || !Number.isInteger(count) || count < 0) {
    alert(`${template}: a replica count is a whole number`);
    return;
  }
  if (count === 0 && !confirm(`Scale ${template} to 0? Every instance stops.`)) return;
  const reply = await fetch(`/api/units/${encodeURIComponent(template)}/replicas`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ count }),
  });
  if (!reply.ok) alert(`${template}: ${reply.status} ${await reply.text()}`);
}

function renderTemplates(view) {
  rows("#templates", view.templates, (template) => {
    const input = element("input", { type: "number", min: "0", value: String(template.replicas ?? template.instances) });
    return [
      element("td", { class: "mono" }, template.name),
      template.replicas === null ? element("td", { class: "muted" }, "not scaled") : template.replicas,
      `${template.active} of ${template.instances}`,
      element("td", {}, input, element("button", { "data-action": "scale", onclick: () => scale(template.name, input) }, "scale")),
    ];
  });
}

function renderLocks(view) {
  const groups = view.locks.map((lock) => element("div", { class: "tile" },
    element("div", {}, `group ${lock.group}: ${lock.holders.length} of ${lock.max} slots held`),
    element("div", { class: "muted mono" }, lock.holders.join(", ") || "no holders"),
    element("div", { class: "bar" }, element("span", {
      style: `width:${lock.max ? (100 * lock.holders.length) / lock.max : 0}%`,
    }))));
  $("#locks").replaceChildren(...(groups.length ? groups : [element("div", { class: "muted" }, "no semaphore yet")]));
}

function renderRecords(view) {
  rows("#records", view.records, (record) => [
    element("td", { class: "mono" }, record.name),
    record.host,
    record.port ?? "",
  ]);
}

const WINDOW_MIN = 60; // a fresh page spreads its first minute over the whole width

// An SVG polyline per series over the samples kept, newest at the right, scaled to the
// largest value shown; the window grows from a minute to the whole history.
function plot(svg, series) {
  const width = 300, height = 90;
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  const window = Math.min(HISTORY, Math.max(WINDOW_MIN, ...series.map((s) => s.values.length)));
  const lines = series.map((s) => {
    const step = width / Math.max(1, window - 1);
    const offset = (window - s.values.length) * step;
    const points = s.values.map((v, i) => `${(offset + i * step).toFixed(1)},${(height - 4 - (v / top) * (height - 12)).toFixed(1)}`);
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" points="${points.join(" ")}"/>`;
  });
  svg.innerHTML = `<text x="4" y="11" fill="#8a99aa" font-size="9">${top.toFixed(0)}</text>${lines.join("")}`;
}

function remember(view) {
  const leader = view.members.find((member) => member.leader) || view.members[0];
  const now = Date.now() / 1000;
  // A rate over at least a second: documents can follow each other closely.
  if (leader && (!lastCommit || now - lastCommit.at >= 1)) {
    if (lastCommit) {
      const rate = Math.max(0, (leader.raft_index - lastCommit.index) / (now - lastCommit.at));
      history.commits.push(rate);
    }
    lastCommit = { index: leader.raft_index, at: now };
  }
  // A daemon whose metrics were not read this round starts a new series when it is back,
  // rather than being drawn as if current.
  for (const name of Object.keys(requestHistory)) if (!(name in view.requests)) delete requestHistory[name];
  for (const [name, total] of Object.entries(view.requests)) {
    const entry = requestHistory[name] || (requestHistory[name] = { rates: [], last: null });
    if (!entry.last || now - entry.last.at >= 1) {
      if (entry.last) entry.rates.push(Math.max(0, (total - entry.last.total) / (now - entry.last.at)));
      entry.last = { total, at: now };
      while (entry.rates.length > HISTORY) entry.rates.shift();
    }
  }
  const states = view.unit_states;
  const active = states.active || 0, failed = states.failed || 0;
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  history.states.push({ active, failed, other: total - active - failed });
  for (const list of Object.values(history)) while (list.length > HISTORY) list.shift();
}

function renderPlots() {
  plot($("#commit-rate"), [{ color: "#4fb3ff", values: history.commits }]);
  const daemons = Object.entries(requestHistory);
  plot($("#request-rate"), daemons.map(([name, entry]) => ({ color: REQUEST_COLORS[name] || "#dde6ef", values: entry.rates })));
  $("#request-legend").replaceChildren(...daemons.map(([name, entry]) => {
    const rate = entry.rates.length ? entry.rates[entry.rates.length - 1] : 0;
    return element("span", {}, element("i", { style: `background:${REQUEST_COLORS[name] || "#dde6ef"}` }), `${name} ${rate.toFixed(1)}/s`);
  }));
  const series = [
    { name: "active", color: "#3ecf8e" },
    { name: "failed", color: "#ff6b6b" },
    { name: "other", color: "#f5b83d" },
  ];
  // Drawn other, active, failed: failures on top where lines meet.
  const drawn = [series[2], series[0], series[1]];
  plot($("#unit-states"), drawn.map((s) => ({ color: s.color, values: history.states.map((x) => x[s.name]) })));
  const last = history.states[history.states.length - 1] || {};
  $("#unit-legend").replaceChildren(...series.map((s) =>
    element("span", {}, element("i", { style: `background:${s.color}` }), `${s.name} ${last[s.name] ?? 0}`)));
}

function renderFailures(view) {
  const history = view.history;
  plot($("#failure-rate"), [
    { color: "#f5b83d", values: history.restarts },
    { color: "#ff6b6b", values: history.failures },
  ]);
  $("#failure-caption").textContent = `per ${history.bucket_seconds} s, last ${(history.bucket_seconds * history.failures.length) / 60} minutes`;
  $("#failure-legend").replaceChildren(
    element("span", {}, element("i", { style: "background:#ff6b6b" }), `failures ${history.total.failures}`),
    element("span", {}, element("i", { style: "background:#f5b83d" }), `restarts ${history.total.restarts}`));
}

const rendered = {};

function changed(section, part) {
  const text = JSON.stringify(part);
  if (rendered[section] === text) return false;
  rendered[section] = text;
  return true;
}

function render(view) {
  const leader = view.members.find((member) => member.leader);
  $("#health").replaceWith(Object.assign(
    leader ? badge(`healthy: leader ${leader.name}`, "good") : badge("no leader", "bad"), { id: "health" }));
  $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  const errors = $("#errors");
  errors.hidden = view.errors.length === 0;
  errors.textContent = view.errors.join(" · ");
  // A section is rebuilt only when its part of the document changed, so a button is not
  // replaced under the pointer when only raft positions moved.
  changed("members", view.members) && renderMembers(view);
  changed("machines", view.machines) && renderMachines(view);
  changed("units", view.units) && renderUnits(view);
  // Rebuilt only when the templates change (a count, an instance's state): a count being
  // typed is replaced then, and only then.
  changed("templates", view.templates) && renderTemplates(view);
  changed("history", view.history) && renderFailures(view);
  changed("locks", view.locks) && renderLocks(view);
  changed("records", view.records) && renderRecords(view);
  remember(view);
  renderPlots();
  document.body.dataset.units = String(view.units.length);
}

const events = new EventSource("/api/events");
events.addEventListener("view", (event) => render(JSON.parse(event.data)));
events.onerror = () => {
  $("#health").replaceWith(Object.assign(badge("reconnecting…", "warn"), { id: "health" }));
};
