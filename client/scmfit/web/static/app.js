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
  state.nodes = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
  drawGraph(r).catch((error) => showError({ message: "the graph could not be drawn: " + error }));
  const names = r.nodes.map((n) => n.name);
  const withParents = r.nodes.filter((n) => n.parents.length).map((n) => n.name);
  const numeric = r.nodes.filter((n) => n.column_type === "double" || n.column_type === "int64").map((n) => n.name);
  const options = (id, list) => $(id).replaceChildren(...list.map((name) => { const o = document.createElement("option"); o.textContent = name; return o; }));
  options("whatif-node", names);
  options("whatif-plot-node", names);
  $("whatif-plot-node").value = names[names.length - 1];
  options("effect-treatment", names);
  options("effect-target", names);
  $("effect-target").value = names[names.length - 1];
  options("attribute-target", withParents);
  options("influence-target", withParents.filter((name) => numeric.includes(name)));
  options("change-target", withParents);
  for (const id of ["attribute-target", "influence-target", "change-target"]) if ($(id).options.length) $(id).selectedIndex = $(id).options.length - 1;
  $("attribute-rows").value = names.join(",") + "\n";
  for (const id of ["effect-text", "attribute-text", "check-text", "change-text", "check-result", "node-details"]) $(id).hidden = true;
  for (const id of ["whatif-chart", "effect-chart", "attribute-chart", "influence-chart", "change-chart"]) $(`${id}-box`).hidden = true;
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

const SVG = "http://www.w3.org/2000/svg";
const NODE_HEIGHT = 30, NODE_PAD = 14;

function svgElement(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// A node's colour class: its R² against the fit's threshold, or none (roots, classifiers).
function r2Class(r, n) {
  if (n.r2 === null || n.r2 === undefined) return "none";
  return r.failed_nodes.includes(n.name) ? "fail" : "pass";
}

// ELK's layered layout (the Eclipse Layout Kernel, built for large diagrams), drawn as SVG with
// pan and zoom. Node boxes are sized to their measured labels, so no label leaves its box.
async function drawGraph(r) {
  const V = window.scmfitVendor;
  const view = $("graph-view");
  const svg = svgElement("svg", { "aria-label": "causal graph" });
  svg.append(svgElement("defs"));
  svg.firstChild.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7585"/></marker>'
    + '<marker id="arrow-suggested" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1a7f37"/></marker>';
  const scene = svgElement("g", { class: "scene" });
  svg.append(scene);
  view.replaceChildren(svg);
  const probe = svgElement("text", { class: "probe" });
  const probeGroup = svgElement("g", { class: "node" });
  probeGroup.append(probe);
  scene.append(probeGroup);
  const measure = (text) => { probe.textContent = text; return probe.getComputedTextLength(); };
  const children = r.nodes.map((n) => ({ id: n.name, width: Math.ceil(measure(n.name)) + 2 * NODE_PAD, height: NODE_HEIGHT }));
  const edges = [];
  for (const n of r.nodes) for (const parent of n.parents) {
    const c = n.coefficients[parent];
    const text = c === undefined ? "" : fmt(c, 3);
    edges.push({
      id: `e${edges.length}`, sources: [parent], targets: [n.name], source: parent, target: n.name,
      labels: text ? [{ text, width: Math.ceil(measure(text) * 0.85) + 4, height: 12 }] : [],
    });
  }
  probeGroup.remove();
  const layout = await new V.ELK().layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered", "elk.direction": "RIGHT", "elk.edgeRouting": "POLYLINE",
      "elk.layered.spacing.nodeNodeBetweenLayers": "50", "elk.spacing.nodeNode": "16",
      "elk.spacing.edgeLabel": "2", "elk.edgeLabels.placement": "CENTER",
      "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
    },
    children, edges,
  });
  const boxes = {};
  for (const c of layout.children) boxes[c.id] = c;
  const edgeLayer = svgElement("g", { class: "edges" }), markLayer = svgElement("g", { class: "marks" });
  const nodeLayer = svgElement("g", { class: "nodes" });
  scene.append(edgeLayer, markLayer, nodeLayer);
  state.edgeLabels = {};
  for (const e of layout.edges) {
    for (const section of e.sections || []) {
      const points = [section.startPoint, ...(section.bendPoints || []), section.endPoint];
      const path = svgElement("path", { class: "edge", d: "M" + points.map((p) => `${p.x},${p.y}`).join(" L"), "marker-end": "url(#arrow)" });
      path.dataset.source = e.sources[0];
      path.dataset.target = e.targets[0];
      edgeLayer.append(path);
    }
    for (const label of e.labels || []) {
      const text = svgElement("text", { class: "edge-label", x: label.x, y: label.y + 10 }, label.text);
      edgeLayer.append(text);
      state.edgeLabels[`${e.sources[0]}\u0000${e.targets[0]}`] = text;
    }
  }
  for (const n of r.nodes) {
    const box = boxes[n.name];
    const group = svgElement("g", { class: `node ${r2Class(r, n)}`, transform: `translate(${box.x},${box.y})` });
    group.dataset.node = n.name;
    group.append(
      svgElement("rect", { width: box.width, height: box.height, rx: 6 }),
      svgElement("text", { x: box.width / 2, y: box.height / 2 + 4, "text-anchor": "middle" }, n.name),
      svgElement("title", {}, `${n.name}: ${n.model_type || n.kind}` + (n.r2 !== null ? `, R² ${fmt(n.r2)}` : "")),
    );
    group.addEventListener("click", () => showNode(n.name));
    nodeLayer.append(group);
  }
  state.graph = { svg, scene, boxes, width: layout.width, height: layout.height, markLayer };
  state.zoom = V.zoom().scaleExtent([0.02, 8]).on("zoom", (event) => scene.setAttribute("transform", event.transform.toString()));
  V.select(svg).call(state.zoom);
  fitView();
  document.body.dataset.graph = "drawn";
}

function fitView() {
  const g = state.graph;
  if (!g) return;
  const V = window.scmfitVendor;
  const width = g.svg.clientWidth || 800, height = g.svg.clientHeight || 500;
  const scale = Math.min(2, 0.95 * Math.min(width / (g.width || 1), height / (g.height || 1)));
  const x = (width - g.width * scale) / 2, y = (height - g.height * scale) / 2;
  V.select(g.svg).call(state.zoom.transform, V.zoomIdentity.translate(x, y).scale(scale));
}

// Highlights every node whose name contains the query; Enter centres the first one.
function searchGraph(center) {
  const query = $("graph-search").value.trim().toLowerCase();
  const groups = [...document.querySelectorAll("#graph-view .node")];
  const matches = groups.filter((g) => query && g.dataset.node.toLowerCase().includes(query));
  for (const g of groups) g.classList.toggle("match", matches.includes(g));
  $("graph-matches").textContent = query ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
  if (center && matches.length) centerOn(matches[0].dataset.node);
}

function centerOn(name) {
  const V = window.scmfitVendor, g = state.graph, box = g.boxes[name];
  const width = g.svg.clientWidth, height = g.svg.clientHeight, scale = 1.5;
  V.select(g.svg).call(state.zoom.transform,
    V.zoomIdentity.translate(width / 2 - (box.x + box.width / 2) * scale, height / 2 - (box.y + box.height / 2) * scale).scale(scale));
}

// A node's mechanism and the models selection tried for it.
function showNode(name) {
  const n = state.nodes[name];
  for (const g of document.querySelectorAll("#graph-view .node")) g.classList.toggle("selected", g.dataset.node === name);
  const box = $("node-details");
  box.hidden = false;
  const title = document.createElement("h4");
  title.textContent = name;
  const lines = [
    `parents: ${n.parents.join(", ") || "none (a root)"}`,
    `mechanism: ${n.kind}, ${n.model_type}`,
    "coefficients: " + (Object.entries(n.coefficients).map(([k, v]) => `${k} = ${fmt(v)}`).join(", ") || "–")
      + (n.intercept !== null ? `; intercept ${fmt(n.intercept)}` : ""),
    n.r2 !== null ? `held-out R²: ${fmt(n.r2)} (threshold ${state.model.threshold})` : n.accuracy !== null ? `accuracy ${fmt(n.accuracy, 3)}` : `R²: none (${n.r2_omission})`,
  ];
  box.replaceChildren(title, ...lines.map((text) => { const p = document.createElement("p"); p.textContent = text; return p; }));
  if (n.candidates.length) box.append(candidateList(n));
}

// Charts (Chart.js on canvas: labels are drawn as text, never parsed as HTML).
function chart(id, config) {
  const V = window.scmfitVendor;
  const old = V.Chart.getChart(id);
  if (old) old.destroy();
  $(`${id}-box`).hidden = false;
  config.options = { animation: false, maintainAspectRatio: false, responsive: true, ...(config.options || {}) };
  return new V.Chart($(id), config);
}

function sortedBars(id, rows, label, colour = "#3056d3") {
  return chart(id, {
    type: "bar",
    data: { labels: rows.map((row) => row.node), datasets: [{ label, data: rows.map((row) => row.value), backgroundColor: colour }] },
    options: { indexAxis: "y", plugins: { legend: { display: true } } },
  });
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
  state.inputs = { fixture: job.fixture, graph: job.graph, traces: job.traces }; // the graph check and the change reuse them
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

// POSTs a question to the bridge; shows its error (by field) and returns null when it fails.
async function ask(path, body, button) {
  $("error").hidden = true;
  $(button).disabled = true;
  try {
    const reply = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = await reply.json();
    if (!reply.ok) { showError(answer); return null; }
    return answer;
  } catch (error) {
    showError({ message: "scmfit web is unreachable: " + error });
    return null;
  } finally {
    $(button).disabled = false;
  }
}

function modelPath(question) { return `/api/models/${state.model.model_id}/${question}`; }

function typedValue(name, text) {
  const node = state.nodes[name];
  if (node.column_type === "bool") return text.trim().toLowerCase() === "true";
  if (node.column_type === "string") return text;
  return Number(text);
}

async function whatIf(event) {
  event.preventDefault();
  const node = $("whatif-node").value, value = whatIfValue(state.nodes[node]);
  const level = $("whatif-interval").checked ? 0.95 : 0;
  const interventions = { [node]: value };
  const body = await ask(modelPath("sample"), { interventions, num_samples: 2000, confidence_level: level }, "whatif");
  if (!body) return;
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
  const drawn = $("whatif-plot-node").value;
  const picture = await ask(modelPath("histogram"), { node: drawn, interventions, num_samples: 2000 }, "whatif");
  if (picture) drawWhatIf(picture, `do(${node} = ${value})`);
}

// The drawn node's distribution before and after, overlaid, with each mean as a vertical line.
function drawWhatIf(h, label) {
  if (h.categories) {
    chart("whatif-chart", {
      type: "bar",
      data: { labels: h.categories, datasets: [
        { label: `${h.node}, observed model`, data: h.before, backgroundColor: "rgba(107,117,133,0.6)" },
        { label: `${h.node} under ${label}`, data: h.after, backgroundColor: "rgba(48,86,211,0.7)" }] },
    });
    return;
  }
  const centres = h.edges.slice(0, -1).map((edge, i) => (edge + h.edges[i + 1]) / 2);
  const top = Math.max(...h.before, ...h.after);
  const curve = (values) => centres.map((x, i) => ({ x, y: values[i] }));
  const line = (x) => [{ x, y: 0 }, { x, y: top }];
  chart("whatif-chart", {
    type: "line",
    data: { datasets: [
      { label: `${h.node}, observed model`, data: curve(h.before), stepped: "middle", fill: true, borderColor: "#6b7585", backgroundColor: "rgba(107,117,133,0.25)", pointRadius: 0 },
      { label: `${h.node} under ${label}`, data: curve(h.after), stepped: "middle", fill: true, borderColor: "#3056d3", backgroundColor: "rgba(48,86,211,0.25)", pointRadius: 0 },
      { label: `mean ${fmt(h.before_mean)}`, data: line(h.before_mean), borderColor: "#6b7585", borderDash: [6, 4], pointRadius: 0 },
      { label: `mean ${fmt(h.after_mean)}`, data: line(h.after_mean), borderColor: "#3056d3", borderDash: [6, 4], pointRadius: 0 },
    ] },
    options: { scales: { x: { type: "linear", title: { display: true, text: h.node } }, y: { title: { display: true, text: "density" } } } },
  });
}

async function estimateEffect(event) {
  event.preventDefault();
  const treatment = $("effect-treatment").value, target = $("effect-target").value;
  const level = $("effect-interval").checked ? 0.95 : 0;
  const body = await ask(modelPath("effect"), {
    treatment, target, confidence_level: level,
    alternative: typedValue(treatment, $("effect-alternative").value), reference: typedValue(treatment, $("effect-reference").value),
  }, "effect");
  if (!body) return;
  const text = $("effect-text");
  text.hidden = false;
  const i = body.interval;
  text.textContent = `effect on ${target}: ${fmt(body.effect)}` + (i ? `, 95% interval [${fmt(i.lower)}, ${fmt(i.upper)}]` : "");
  const datasets = [{ label: "estimate", data: [{ x: body.effect, y: 0 }], pointRadius: 7, backgroundColor: "#3056d3" }];
  if (i) datasets.unshift({ label: "95% interval", data: [{ x: i.lower, y: 0 }, { x: i.upper, y: 0 }], showLine: true, borderWidth: 8, borderColor: "rgba(48,86,211,0.35)", pointRadius: 0 });
  datasets.push({ label: "no effect", data: [{ x: 0, y: -1 }, { x: 0, y: 1 }], showLine: true, borderColor: "#c62828", borderDash: [4, 4], pointRadius: 0 });
  chart("effect-chart", { type: "scatter", data: { datasets }, options: { scales: { y: { display: false, min: -1, max: 1 }, x: { title: { display: true, text: `effect on ${target}` } } } } });
}

async function attribute(event) {
  event.preventDefault();
  const target = $("attribute-target").value;
  const body = await ask(modelPath("attribute"), { target, rows: $("attribute-rows").value }, "attribute");
  if (!body) return;
  const first = body.rows[0];
  $("attribute-text").hidden = false;
  $("attribute-text").textContent = body.rows.map((row) => `row ${row.row}: score ${fmt(row.target_score, 3)}, root cause ${row.contributions[0].node}`).join("; ");
  sortedBars("attribute-chart", first.contributions, `contribution to row ${first.row}'s anomaly score at ${target}`, "#c62828");
}

async function influence(event) {
  event.preventDefault();
  const target = $("influence-target").value;
  const body = await ask(modelPath("influence"), { target }, "influence");
  if (!body) return;
  sortedBars("influence-chart", body.intrinsic, `intrinsic influence on Var(${target})`);
  for (const s of body.strengths) {
    const label = state.edgeLabels[`${s.source}\u0000${s.target}`];
    if (label) { label.textContent = `strength ${fmt(s.strength, 3)}`; label.classList.add("strength"); }
  }
}

// Marks the violated pairs (dashed red, between the boxes' centres) and the suggested edges (green arrows).
function markGraph(violations, suggested) {
  const g = state.graph;
  g.markLayer.replaceChildren();
  const centre = (name) => ({ x: g.boxes[name].x + g.boxes[name].width / 2, y: g.boxes[name].y + g.boxes[name].height / 2 });
  for (const v of violations) {
    const a = centre(v.other), b = centre(v.node);
    const line = svgElement("line", { class: "violation", x1: a.x, y1: a.y, x2: b.x, y2: b.y });
    line.dataset.node = v.node;
    line.dataset.other = v.other;
    g.markLayer.append(line);
  }
  for (const [source, target] of suggested) {
    const a = centre(source), b = g.boxes[target];
    const end = { x: b.x + b.width / 2, y: a.y < b.y ? b.y : b.y + b.height };
    const line = svgElement("line", { class: "suggested", x1: a.x, y1: a.y, x2: end.x, y2: end.y, "marker-end": "url(#arrow-suggested)" });
    line.dataset.source = source;
    line.dataset.target = target;
    g.markLayer.append(line);
  }
}

async function checkGraph(event) {
  event.preventDefault();
  const body = await ask("/api/check", state.inputs, "check");
  if (!body) return;
  $("check-text").hidden = false;
  $("check-text").textContent = (body.falsified ? "Falsified: " : "Not falsified: ")
    + `${body.violations.length} of ${body.num_tests} independence tests violated`
    + (body.informative ? "" : " (the graph is not informative: permuted graphs do as well)")
    + (body.suggested_edges.length ? `; missing edges? ${body.suggested_edges.map(([a, b]) => `${a} → ${b}`).join(", ")}` : "");
  const table = $("check-result");
  table.hidden = !body.violations.length;
  table.tBodies[0].replaceChildren(...body.violations.map((v) => {
    const row = document.createElement("tr");
    for (const text of [v.node, v.other, v.given.join(", ") || "–", fmt(v.p_value, 3)]) {
      const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
    }
    return row;
  }));
  markGraph(body.violations, body.suggested_edges);
}

async function attributeChange(event) {
  event.preventDefault();
  const file = $("change-new").files[0];
  if (!file) return showError({ message: "choose the new version's traces (CSV)" });
  const target = $("change-target").value;
  const body = await ask("/api/change", { ...state.inputs, new: await file.text(), target }, "change");
  if (!body) return;
  $("change-text").hidden = false;
  $("change-text").textContent = `changed mechanisms: ${body.changed.join(", ") || "none"}; total change ${fmt(body.total, 3)} nats`;
  sortedBars("change-chart", body.contributions, `contribution to the change of ${target}'s distribution`, "#b26a00");
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
$("effect-form").addEventListener("submit", estimateEffect);
$("attribute-form").addEventListener("submit", attribute);
$("influence-form").addEventListener("submit", influence);
$("check-form").addEventListener("submit", checkGraph);
$("change-form").addEventListener("submit", attributeChange);
$("graph-search").addEventListener("input", () => searchGraph(false));
$("graph-search").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); searchGraph(true); } });
$("graph-fit-view").addEventListener("click", fitView);
$("whatif-node").addEventListener("change", whatIfInput);
loadFixtures();
