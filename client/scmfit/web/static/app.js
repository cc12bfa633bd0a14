// scmfit web view: POST a job, follow it with EventSource, render progress, result, graph and what-ifs.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { source: null, started: 0, timer: null, model: null, rows: {}, nodes: {} };
window.scmfitEvents = []; // [{type, node, stage, t}] for tests and debugging: when each event arrived

function showError(body) {
  const box = $("error");
  box.hidden = false;
  box.replaceChildren();
  const title = document.createElement("div");
  title.textContent = body.message || "request failed";
  box.append(title);
  if (body.violations && body.violations.length) {
    const list = document.createElement("ul");
    for (const v of body.violations) {
      const item = document.createElement("li");
      const field = document.createElement("code");
      field.textContent = v.field;
      item.append(field, ": " + v.description);
      list.append(item);
    }
    box.append(list);
  }
}

function setRunning(running) {
  $("fit").disabled = running;
  $("cancel").disabled = !running;
  if (!running && state.timer) { clearInterval(state.timer); state.timer = null; }
}

function stageRow(node) {
  if (!state.rows[node]) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = node;
    const stage = document.createElement("td");
    stage.innerHTML = '<span class="stage">waiting</span>';
    row.append(name, stage);
    row.dataset.node = node;
    $("stages").tBodies[0].append(row);
    state.rows[node] = stage.firstChild;
  }
  return state.rows[node];
}

function onProgress(p) {
  window.scmfitEvents.push({ type: "progress", node: p.node, stage: p.stage, t: performance.now() });
  if (p.stage === "validating") return;
  for (const badge of Object.values(state.rows)) {
    if (badge.textContent === "evaluating" && badge !== state.rows[p.node]) { badge.textContent = "done"; badge.className = "stage done"; }
  }
  const badge = stageRow(p.node);
  badge.textContent = p.stage;
  badge.className = "stage " + p.stage;
  const steps = { assigning: 0, fitting: 1, evaluating: 2 };
  $("bar").max = 3 * p.total;
  $("bar").value = 3 * p.done + steps[p.stage];
}

function fmt(x, digits = 4) { return x === null || x === undefined ? "–" : Number(x).toPrecision(digits); }

function onResult(r) {
  window.scmfitEvents.push({ type: "result", t: performance.now() });
  for (const badge of Object.values(state.rows)) { badge.textContent = "done"; badge.className = "stage done"; }
  $("bar").value = $("bar").max;
  state.model = r;
  $("result-card").hidden = false;
  const status = $("status");
  status.replaceChildren();
  const label = document.createElement("span");
  label.className = "status-" + r.status;
  label.textContent = r.status.toUpperCase().replace("_", " ");
  status.append(label, " — " + r.message + ` (${r.seconds.toFixed(2)} s, model ${r.model_id.slice(0, 12)})`);
  const body = $("result").tBodies[0];
  body.replaceChildren();
  for (const n of r.nodes) {
    const row = document.createElement("tr");
    row.dataset.node = n.name;
    const coefficients = Object.entries(n.coefficients).map(([k, v]) => `${k}=${fmt(v)}`).join(", ")
      + (n.intercept !== null ? ` (${n.intercept >= 0 ? "+" : ""}${fmt(n.intercept, 3)})` : "");
    let score = n.r2 !== null ? fmt(n.r2) : n.accuracy !== null ? "acc " + fmt(n.accuracy, 3) : "– (" + n.r2_omission + ")";
    const failed = r.failed_nodes.includes(n.name);
    for (const text of [n.name, n.parents.join(", ") || "–", n.kind, n.model_type, coefficients || "–", score]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    if (n.candidates.length) row.children[3].append(candidateList(n));
    if (n.r2 !== null) row.lastChild.className = failed ? "fail" : "pass";
    if (n.r2 !== null) row.lastChild.textContent += failed ? " ✗" : " ✓";
    body.append(row);
  }
  drawGraph(r);
  const select = $("whatif-node");
  state.nodes = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
  select.replaceChildren(...r.nodes.map((n) => { const o = document.createElement("option"); o.textContent = n.name; return o; }));
  whatIfInput();
}

// A number box for numeric nodes; the node's own categories (or true/false) for bool and string nodes.
function whatIfInput() {
  const node = state.nodes[$("whatif-node").value];
  const categorical = node && (node.column_type === "bool" || node.column_type === "string");
  $("whatif-value").hidden = categorical;
  const choices = $("whatif-category");
  choices.hidden = !categorical;
  if (categorical) {
    choices.replaceChildren(...node.categories.map((c) => { const o = document.createElement("option"); o.textContent = c; return o; }));
  }
}

function whatIfValue(node) {
  if (node.column_type === "bool") return $("whatif-category").value === "true";
  if (node.column_type === "string") return $("whatif-category").value;
  return Number($("whatif-value").value);
}

// The models selection tried for a node, as `scmfit fit --explain` lists them.
function candidateList(n) {
  const details = document.createElement("details");
  details.className = "candidates";
  const summary = document.createElement("summary");
  summary.textContent = `${n.candidates.length} candidates (${n.selection_metric})`;
  details.append(summary);
  const list = document.createElement("ul");
  for (const c of n.candidates) {
    const item = document.createElement("li");
    item.className = c.outcome;
    item.textContent = `${c.outcome.replace("_", " ")}: ${c.model_type}, ${fmt(c.mean_loss, 4)} over ${c.folds} fold${c.folds === 1 ? "" : "s"}`;
    list.append(item);
  }
  details.append(list);
  for (const reason of n.selection_note.split("; ").filter(Boolean)) {
    const why = document.createElement("p");
    why.className = "selection-note";
    why.textContent = `Why: ${reason}`;
    details.append(why);
  }
  return details;
}

function drawGraph(r) {
  // A tiny layered layout: a node's layer is its longest path from a root.
  const layer = {};
  const byName = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
  const depth = (name, seen = new Set()) => {
    if (layer[name] !== undefined) return layer[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    const parents = byName[name] ? byName[name].parents : [];
    return (layer[name] = parents.length ? 1 + Math.max(...parents.map((p) => depth(p, seen))) : 0);
  };
  r.nodes.forEach((n) => depth(n.name));
  const columns = {};
  for (const n of r.nodes) (columns[layer[n.name]] ||= []).push(n.name);
  const pos = {};
  const width = 170, height = 70;
  for (const [l, names] of Object.entries(columns)) names.forEach((name, i) => (pos[name] = { x: 60 + l * width, y: 40 + i * height }));
  const maxX = Math.max(...Object.values(pos).map((p) => p.x)) + 80, maxY = Math.max(...Object.values(pos).map((p) => p.y)) + 50;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${maxX} ${maxY}`);
  svg.setAttribute("width", maxX);
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7585"/></marker></defs>';
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  for (const n of r.nodes) for (const parent of n.parents) {
    const a = pos[parent], b = pos[n.name];
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1, rx = 38;
    add("line", { x1: a.x + (dx / len) * rx, y1: a.y + (dy / len) * 18, x2: b.x - (dx / len) * rx, y2: b.y - (dy / len) * 18, stroke: "#6b7585", "marker-end": "url(#arrow)", class: "edge" });
    const c = n.coefficients[parent];
    if (c !== undefined) add("text", { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 6, "text-anchor": "middle", fill: "#3056d3", class: "edge-label" }, fmt(c, 3));
  }
  for (const n of r.nodes) {
    const p = pos[n.name], failed = r.failed_nodes.includes(n.name);
    add("ellipse", { cx: p.x, cy: p.y, rx: 38, ry: 18, fill: "#fff", stroke: failed ? "#c62828" : "#3056d3", "stroke-width": 1.5 });
    add("text", { x: p.x, y: p.y + 4, "text-anchor": "middle", class: "node-label" }, n.name.length > 10 ? n.name.slice(0, 9) + "…" : n.name);
  }
  $("graph-view").replaceChildren(svg);
}

async function startFit(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("result-card").hidden = true;
  $("whatif-result").hidden = true;
  $("stages").tBodies[0].replaceChildren();
  state.rows = {};
  window.scmfitEvents = [];
  // JSON, not a form: the bridge accepts only application/json, which a cross-site form cannot send.
  const job = { fixture: $("fixture").value, quality: $("quality").value, threshold: $("threshold").value };
  if (!job.fixture) {
    const graph = $("graph").files[0], traces = $("traces").files[0];
    if (graph) job.graph = await graph.text();
    if (traces) job.traces = await traces.text();
  }
  let reply;
  try {
    reply = await fetch("/api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(job),
    });
  } catch (error) {
    return showError({ message: "scmfit web is unreachable: " + error });
  }
  const body = await reply.json();
  if (!reply.ok) {
    const wait = reply.headers.get("Retry-After");
    return showError(wait ? { ...body, message: `${body.message} (retry in ${wait} s)` } : body);
  }
  $("progress-card").hidden = false;
  $("bar").value = 0;
  setRunning(true);
  state.started = performance.now();
  state.timer = setInterval(() => ($("elapsed").textContent = ((performance.now() - state.started) / 1000).toFixed(1) + " s"), 100);
  const source = new EventSource(`/api/jobs/${body.job_id}/events`);
  state.source = source;
  source.addEventListener("progress", (e) => onProgress(JSON.parse(e.data)));
  source.addEventListener("result", (e) => onResult(JSON.parse(e.data)));
  source.addEventListener("end", () => { source.close(); setRunning(false); });
  source.addEventListener("fail", (e) => { source.close(); setRunning(false); showError(JSON.parse(e.data)); });
  source.onerror = () => { if (source.readyState !== EventSource.CLOSED) { source.close(); setRunning(false); showError({ message: "lost the connection to scmfit web" }); } };
}

function cancelFit() {
  if (state.source) { state.source.close(); state.source = null; }
  window.scmfitEvents.push({ type: "cancelled", t: performance.now() });
  setRunning(false);
  showError({ message: "fit cancelled; the server stopped its work" });
}

async function whatIf(event) {
  event.preventDefault();
  const node = $("whatif-node").value, value = whatIfValue(state.nodes[node]);
  const level = $("whatif-interval").checked ? 0.95 : 0;
  $("whatif").disabled = true;
  const reply = await fetch(`/api/models/${state.model.model_id}/sample`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ interventions: { [node]: value }, num_samples: 2000, confidence_level: level }),
  }).finally(() => { $("whatif").disabled = false; });
  const body = await reply.json();
  if (!reply.ok) return showError(body);
  const table = $("whatif-result");
  table.hidden = false;
  table.tBodies[0].replaceChildren(...Object.entries(body.statistics).map(([name, s]) => {
    const row = document.createElement("tr");
    row.dataset.node = name;
    const shares = Object.entries(s.categories).map(([c, share]) => `${c}: ${fmt(share)}`).join(", ");
    const interval = s.mean_interval ? `[${fmt(s.mean_interval.lower)}, ${fmt(s.mean_interval.upper)}]` : "–";
    const cells = shares && !s.std ? [name, shares, "", "", "", "", interval]
      : [name, fmt(s.mean), fmt(s.std), fmt(s.q05), fmt(s.q50), fmt(s.q95), interval];
    for (const text of cells) {
      const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
    }
    return row;
  }));
}

async function loadFixtures() {
  const reply = await fetch("/api/fixtures");
  const cases = await reply.json();
  for (const c of cases) {
    const option = document.createElement("option");
    option.value = c.name;
    option.textContent = `${c.name} (expected ${c.expected})`;
    $("fixture").append(option);
  }
  // A default only while the user has not chosen: the listing may arrive after their first click.
  if (cases.length && !fixtureChosen) {
    $("fixture").value = cases.find((c) => c.name === "complex_dag") ? "complex_dag" : cases[0].name;
  }
  document.body.dataset.fixtures = "loaded";
}

let fixtureChosen = false;
$("fixture").addEventListener("change", () => { fixtureChosen = true; });

$("fit-form").addEventListener("submit", startFit);
$("cancel").addEventListener("click", cancelFit);
$("whatif-form").addEventListener("submit", whatIf);
$("whatif-node").addEventListener("change", whatIfInput);
loadFixtures();
