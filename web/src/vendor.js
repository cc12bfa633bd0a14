// The page's libraries, exposed as one global for app.js (which stays a plain script: no inline code).
import ELK from "elkjs/lib/elk.bundled.js";
import { select } from "d3-selection";
import { zoom, zoomIdentity } from "d3-zoom";
import { Chart, registerables } from "chart.js";

Chart.register(...registerables);

window.scmfitVendor = { ELK, select, zoom, zoomIdentity, Chart };
