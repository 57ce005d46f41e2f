// What the scenarios page's parts share: its palette, the KPIs it shows, and how a scenario is
// summed up in a row.
import { el, fmt } from "/ui/static/app.js";

export const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899"];
export const LINE_KPIS = [  // what the comparison plots: [key, title, scale]
  ["throughput", "Throughput (good parts/h)", 1],
  ["good", "Good parts", 1],
  ["oee", "OEE (%)", 100],
];
export const KPI_ROWS = [
  ["throughput", "Throughput", "parts/h", 1], ["good", "Good parts", "", 1],
  ["scrap", "Scrap", "", 1], ["availability", "Availability", "%", 100],
  ["performance", "Performance", "%", 100], ["quality", "Quality", "%", 100],
  ["oee", "OEE", "%", 100],
];
export const TERMINAL = new Set(["done", "failed"]);

export const twinLink = (id) => el("a", { href: `/ui/twins/${encodeURIComponent(id)}` }, id);
export const num = (value, digits = 3) => fmt.number(value, digits);
export const interval = (k, scale = 1, digits = 3) => (k && k.mean !== undefined && k.mean !== null
  ? `${num(k.mean * scale, digits)} [${num(k.low * scale, digits)}, ${num(k.high * scale, digits)}]`
  : "–");

export function progressBar(value, status) {
  return el("div", { class: `progress ${status || ""}`, role: "progressbar", "aria-valuemin": "0",
                     "aria-valuemax": "1", "aria-valuenow": String(value ?? 0) },
    el("div", { style: `width: ${Math.round(100 * Math.max(0, Math.min(1, value || 0)))}%` }));
}

export function target(s) {
  if (s.kind === "line") return s.line;
  if (s.subgraph) return `${s.subgraph.root} (depth ${s.subgraph.depth})`;
  return (s.twins || []).join(", ");
}

export function summary(s) {
  const k = s.kpis;
  if (!k) return s.status === "failed" ? el("span", { class: "error-text" }, s.error || "failed") : "";
  if (s.kind === "line") {
    return `${num(k.throughput?.mean)} parts/h · OEE ${fmt.percent(k.oee?.mean)}`
      + (k.bottleneck ? ` · bottleneck ${k.bottleneck}` : "");
  }
  const events = Object.entries(k.events || {});
  if (!events.length) return `${k.twins ?? 0} twin(s), no event within the horizon`;
  return events.map(([name, e]) => `${name}: ${num(e.expected, 2)} twin(s), earliest ${fmt.duration(e.earliest)}`
    + (e.earliestTwin ? ` (${e.earliestTwin})` : "")).join(" · ");
}

