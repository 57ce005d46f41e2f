// What the twin page's parts share: the twin it shows, the page's state, and small helpers.
import { ApiError, el, fmt, loadPlotly } from "/ui/static/app.js";

export const twinId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
export const enc = encodeURIComponent;
export const base = `/digitaltwins/${enc(twinId)}`;

// plotly.js (preloaded by the page) runs only once the page's text is drawn: it takes long
let start;
export const plotly = new Promise((resolve, reject) => {
  start = () => loadPlotly().then(resolve, reject);
});
export const startPlotly = () => start();

export const page = {
  twin: null, view: null, units: {}, writable: [], binding: null,
  estimate: null, charts: [], span: 600, start: 0, interval: null,
};

const DERIVED = ["anomaly.", "residual.", "estimate.", "timeToEvent."];
export const isDerived = (name) => DERIVED.some((prefix) => name.startsWith(prefix));
export const iso = (ms) => new Date(ms).toISOString();
export const timeCell = (value) => value ? el("span", { title: value }, fmt.time(value)) : "–";
export const show = (value) => typeof value === "object" && value !== null ? JSON.stringify(value)
  : typeof value === "number" ? fmt.number(value) : String(value);
// durations of estimates and predictions, a little finer than fmt.duration
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (Math.abs(seconds) < 120) return `${Math.round(seconds)} s`;
  if (Math.abs(seconds) < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
export const problem = (error) => error instanceof ApiError ? error.message : String(error.message || error);

export function section(id, title, ...content) {
  return el("section", { class: "card", id }, el("h2", {}, title), ...content);
}

export function fill(node, ...content) {
  const heading = node.querySelector(":scope > h2");
  node.replaceChildren(...(heading ? [heading] : []), ...content.flat());
}

// a section that fails shows why, the rest of the page goes on
export function soft(node) {
  return (error) => {
    if (error instanceof ApiError && error.status === 401) return;
    fill(node, el("p", { class: "error" }, problem(error)));
  };
}
