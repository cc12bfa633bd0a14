// Fits a scmfit fixture from Node.js: loads proto/ at run time, streams progress, prints the result.
// Usage: node fit.js [--address 127.0.0.1:50051] [--case ../../fixtures/linear_chain.json]
"use strict";

const path = require("path");
const fs = require("fs");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

function argument(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

const address = argument("--address", "127.0.0.1:50051");
const casePath = argument("--case", path.join(__dirname, "..", "..", "fixtures", "linear_chain.json"));
const protoRoot = path.join(__dirname, "..", "..", "proto");

const definition = protoLoader.loadSync(path.join(protoRoot, "scmfit/v1/causal_model_service.proto"), {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
});
const scmfit = grpc.loadPackageDefinition(definition).scmfit.v1;

// Typed columns: integers stay int64, booleans bools, strings strings, everything else doubles.
function column(name, values) {
  if (values.every((v) => typeof v === "boolean")) return { name, bools: { values } };
  if (values.every((v) => typeof v === "string")) return { name, strings: { values } };
  if (values.every((v) => Number.isInteger(v))) return { name, int64s: { values } };
  return { name, doubles: { values } };
}

const fixture = JSON.parse(fs.readFileSync(casePath, "utf8"));
const request = {
  graph: { nodes: fixture.graph.nodes, edges: fixture.graph.edges.map(([source, target]) => ({ source, target })) },
  dataset: { columns: Object.entries(fixture.traces).map(([name, values]) => column(name, values)) },
  config: { quality: "QUALITY_GOOD", r2_threshold: fixture.config.r2_threshold ?? 0.7, seed: fixture.config.seed ?? 42 },
};

const client = new scmfit.CausalModelService(address, grpc.credentials.createInsecure());
const deadline = new Date(Date.now() + 120_000);
const call = client.FitModel(request, { deadline });
let result = null;
call.on("data", (response) => {
  if (response.progress) {
    const p = response.progress;
    console.log(`progress ${p.stage.replace("STAGE_", "").toLowerCase().padEnd(10)} ${(p.node || "").padEnd(12)} ${p.done ?? 0}/${p.total}`);
  } else if (response.result) {
    result = response.result;
  }
});
call.on("error", (error) => {
  console.error(`error ${grpc.status[error.code]}: ${error.details}`);
  process.exit(2);
});
call.on("end", () => {
  if (!result) {
    console.error("the stream ended without a result");
    process.exit(2);
  }
  console.log(`\nstatus ${result.status} — ${result.message}`);
  console.log(`${"node".padEnd(10)} ${"mechanism".padEnd(34)} ${"model".padEnd(22)} ${"R²".padStart(8)}  coefficients`);
  for (const node of result.nodes) {
    const coefficients = (node.mechanism.coefficients || []).map((c) => `${c.feature}=${c.value.toFixed(3)}`).join(", ");
    const r2 = node.r2 === undefined ? "-" : node.r2.toFixed(4);
    console.log(`${node.name.padEnd(10)} ${node.mechanism.kind.padEnd(34)} ${node.mechanism.model_type.padEnd(22)} ${r2.padStart(8)}  ${coefficients}`);
  }
  console.log(`model_id ${result.model_id}`);
  process.exit(result.status === "FIT_STATUS_SUCCESS" ? 0 : 1);
});
