// How long the page's layout engine (elkjs's layered algorithm, as app.js configures it) takes on
// random DAGs of 100 to 1,000 nodes, and how many node boxes overlap (should be none). Run from the
// repository root after `npm ci` in web/:   node bench/graph_layout.mjs
import { createRequire } from "node:module";
const require = createRequire(new URL("../web/package.json", import.meta.url));
const ELK = require("elkjs/lib/elk.bundled.js");

function dag(nodes, seed) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const children = [], edges = [];
  for (let i = 0; i < nodes; i++) {
    children.push({ id: `n${i}`, width: 40 + Math.floor(random() * 80), height: 30 });
    const parents = i ? Math.floor(random() * 4) : 0;
    for (let p = 0; p < Math.min(parents, i); p++) {
      edges.push({ id: `e${edges.length}`, sources: [`n${Math.floor(random() * i)}`], targets: [`n${i}`],
        labels: [{ text: "0.123", width: 30, height: 12 }] });
    }
  }
  return { children, edges };
}

const options = {
  "elk.algorithm": "layered", "elk.direction": "RIGHT", "elk.edgeRouting": "POLYLINE",
  "elk.layered.spacing.nodeNodeBetweenLayers": "50", "elk.spacing.nodeNode": "16",
  "elk.spacing.edgeLabel": "2", "elk.edgeLabels.placement": "CENTER",
  "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
};
const elk = new ELK();
console.log("nodes  edges  layout (s)  overlapping pairs  width x height");
for (const size of [100, 150, 300, 500, 1000]) {
  const graph = dag(size, size);
  const started = performance.now();
  const laid = await elk.layout({ id: "root", layoutOptions: options, ...graph });
  const seconds = (performance.now() - started) / 1000;
  const boxes = laid.children;
  let overlaps = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) overlaps++;
  }
  console.log(`${String(size).padStart(5)}  ${String(graph.edges.length).padStart(5)}  ${seconds.toFixed(2).padStart(10)}  ${String(overlaps).padStart(17)}  ${Math.round(laid.width)} x ${Math.round(laid.height)}`);
}
