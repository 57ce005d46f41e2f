// What every dashboard page shares: the API client, the session, the header, formatting.
// Plain ES module, no build step. Pages import what they need:
//   import { api, boot, el, fmt } from "/ui/static/app.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// fetch a path of the REST API as JSON; the session cookie goes along (same origin)
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.assign(`/ui/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, { detail: "Sign in first" });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  return data;
}

// create an element: el("a", { href: "/ui/", class: "x" }, "text", child, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const fmt = {
  number(value, digits = 3) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (typeof value !== "number") return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
    return value.toLocaleString("en", { maximumSignificantDigits: digits + 2 });
  },
  percent(value) {
    return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)} %`;
  },
  time(value) {  // ISO text or epoch seconds -> local time
    if (value === null || value === undefined) return "–";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return date.toLocaleString("en-GB", { hour12: false });
  },
  ago(value) {
    const date = typeof value === "number" ? value * 1000 : Date.parse(value);
    const seconds = Math.max(0, (Date.now() - date) / 1000);
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  },
  model(id) {  // dtmi:holotwin:demo:Machine;1 -> Machine
    const m = /:([^:;]+);\d+$/.exec(id || "");
    return m ? m[1] : id;
  },
};

export const session = { auth: false, signedIn: true, scope: "admin", name: null };

// may this session change things (write scope)?
export function canWrite() {
  return !session.auth || session.scope === "write" || session.scope === "admin";
}

function header(active) {
  const links = [["/ui/", "Plant"], ["/ui/twins", "Twins"], ["/ui/scenarios", "Scenarios"]];
  const who = session.auth
    ? el("span", { class: "who" }, `${session.name} (${session.scope})`, " ",
        el("button", { class: "link", id: "signout", onclick: signOut }, "Sign out"))
    : el("span", { class: "who muted" }, "no sign-in needed (local)");
  return el("header", { class: "top" },
    el("a", { href: "/ui/", class: "brand" }, "holotwin"),
    el("nav", {}, links.map(([href, text]) =>
      el("a", { href, class: href === active ? "active" : null }, text))),
    el("form", { class: "search", onsubmit: (e) => {
      e.preventDefault();
      const q = e.target.elements.q.value.trim();
      location.assign(`/ui/twins${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    } }, el("input", { name: "q", type: "search", placeholder: "Find a twin…", "aria-label": "Find a twin" })),
    who);
}

async function signOut() {
  await fetch("/ui/session", { method: "DELETE", credentials: "same-origin" });
  location.assign("/ui/signin");
}

// every page: check the session, draw the header, then run the page (errors are shown)
export async function boot(active, page) {
  const main = document.querySelector("main");
  try {
    Object.assign(session, await api("/ui/session"));
    if (session.auth && !session.signedIn) {
      location.assign(`/ui/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    document.body.prepend(header(active));
    document.body.classList.toggle("read-only", !canWrite());
    await page(main);
    // the page's content is there: tests and the load-time measurement wait for this
    document.body.dataset.ready = String(Math.round(performance.now()));
  } catch (error) {
    showError(main, error);
    document.body.dataset.ready = "error";
  }
}

export function showError(where, error) {
  console.error(error);
  const box = el("div", { class: "error", role: "alert" }, error.message || String(error));
  (where || document.body).prepend(box);
  return box;
}

// the change feed of some twins (SSE), with a callback per event; returns a close function
export function follow(params, onEvent) {
  const query = new URLSearchParams(params);
  const source = new EventSource(`/events?${query}`, { withCredentials: true });
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  for (const type of ["telemetry", "twin.updated", "alert.raised", "alert.acknowledged", "alert.cleared"]) {
    source.addEventListener(type, (message) => onEvent(JSON.parse(message.data)));
  }
  return () => source.close();
}

// a small table: columns [[title, row => cell]], rows
export function table(columns, rows, { empty = "Nothing yet.", id } = {}) {
  if (!rows.length) return el("p", { class: "muted", id }, empty);
  return el("table", { id },
    el("thead", {}, el("tr", {}, columns.map(([title]) => el("th", {}, title)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))))));
}

export function severityBadge(severity) {
  return el("span", { class: `badge ${severity || "none"}` }, severity || "ok");
}

export function statusBadge(status) {
  return status ? el("span", { class: `status ${status}` }, status) : "";
}

// plotly.js (4.8 MB) is loaded when a page first draws a chart, not by the page shell:
// evaluating it takes longer than the rest of a page (about a second in a headless Chromium),
// and a page's text need not wait for it. Resolves to the global Plotly.
let plotlyLoading = null;
export function loadPlotly() {
  if (typeof Plotly !== "undefined") return Promise.resolve(window.Plotly);
  plotlyLoading ??= new Promise((resolve, reject) => {
    document.head.append(el("script", {
      src: "/ui/vendor/plotly.min.js", onload: () => resolve(window.Plotly),
      onerror: () => { plotlyLoading = null; reject(new Error("plotly.js is missing (pip install plotly)")); },
    }));
  });
  return plotlyLoading;
}

// plotly with the dashboard's look
export const chartLayout = (extra = {}) => ({
  margin: { l: 50, r: 20, t: 30, b: 40 },
  font: { family: "system-ui, sans-serif", size: 12 },
  paper_bgcolor: "white", plot_bgcolor: "white",
  xaxis: { type: "date", gridcolor: "#eee" },
  yaxis: { gridcolor: "#eee", zeroline: false },
  legend: { orientation: "h", y: -0.2 },
  ...extra,
});
export const chartConfig = { displaylogo: false, responsive: true };
