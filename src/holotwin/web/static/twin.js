// The twin page, /ui/twins/{id}: header and related twins, properties and desired state,
// live telemetry charts, the behavior estimate and remaining life, alerts, KPIs, history.
// Loading: the twin (header and properties drawn at once), then one parallel wave (its model,
// relationships, one telemetry read per signal, alerts, KPIs, history, and the detectors and the
// estimate only when the twin has such signals). The page is ready when its text is drawn; then
// plotly.js runs and the charts are drawn (main[data-complete]). The change feed keeps it live.
import {
  ApiError, api, boot, canWrite, chartConfig, chartLayout, el, fmt, follow, loadPlotly, session, severityBadge, statusBadge,
} from "/ui/static/app.js";

const DERIVED = ["anomaly.", "residual.", "estimate.", "timeToEvent."];
const RANGES = [["10 min", 600], ["1 h", 3600], ["24 h", 86400], ["all", null]];
const RAW_SPAN = 900;     // s: charts of spans up to this show raw readings, longer ones aggregates
const BUCKETS = 500;      // about this many aggregate buckets per chart
const INTERVALS = [2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
const MAX_POINTS = 20000; // live points kept per chart
const HISTORY_ROWS = 50;
const ACCENT = "#2563eb", BAND = "rgba(37, 99, 235, 0.15)", BAND2 = "rgba(37, 99, 235, 0.3)";
const RED = "#b91c1c";

const twinId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
const enc = encodeURIComponent;
const base = `/digitaltwins/${enc(twinId)}`;

// plotly.js (preloaded by the page) runs only once the page's text is drawn: it takes long
let startPlotly;
const plotly = new Promise((resolve, reject) => {
  startPlotly = () => loadPlotly().then(resolve, reject);
});

const page = {
  twin: null, view: null, units: {}, writable: [], binding: null,
  estimate: null, charts: [], span: 600, start: 0, interval: null,
};

const isDerived = (name) => DERIVED.some((prefix) => name.startsWith(prefix));
const iso = (ms) => new Date(ms).toISOString();
const pad = (n, w = 2) => String(n).padStart(w, "0");
// plotly shows date strings as they are: give it local time, as fmt.time shows
function plotTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
const fromPlot = (text) => new Date(String(text).replace(" ", "T")).getTime();
const timeCell = (value) => value ? el("span", { title: value }, fmt.time(value)) : "–";
const show = (value) => typeof value === "object" && value !== null ? JSON.stringify(value)
  : typeof value === "number" ? fmt.number(value) : String(value);
// durations of estimates and predictions, a little finer than fmt.duration
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (Math.abs(seconds) < 120) return `${Math.round(seconds)} s`;
  if (Math.abs(seconds) < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
const problem = (error) => error instanceof ApiError ? error.message : String(error.message || error);

function section(id, title, ...content) {
  return el("section", { class: "card", id }, el("h2", {}, title), ...content);
}

function fill(node, ...content) {
  const heading = node.querySelector(":scope > h2");
  node.replaceChildren(...(heading ? [heading] : []), ...content.flat());
}

// a section that fails shows why, the rest of the page goes on
function soft(node) {
  return (error) => {
    if (error instanceof ApiError && error.status === 401) return;
    fill(node, el("p", { class: "error" }, problem(error)));
  };
}

// ---------------------------------------------------------------- header, properties, KPIs

function renderHeader() {
  const twin = page.twin, meta = twin.$metadata || {};
  const model = meta.$model;
  const updated = meta.$lastUpdateTime;
  page.view.title.replaceChildren(el("span", { id: "twin-id" }, twin.$dtId), " ",
    statusBadge(typeof twin.status === "string" ? twin.status : null));
  page.view.meta.replaceChildren(
    el("span", {}, "Model ", el("strong", { id: "twin-model", title: model }, fmt.model(model))),
    el("span", {}, "Revision ", el("strong", { id: "twin-revision" }, meta.$revision ?? "–")),
    el("span", {}, "Updated ", el("strong", { id: "twin-updated", title: updated || "" },
      updated ? `${fmt.time(updated)} (${fmt.ago(updated)})` : "–")));
}

function renderRelations([outgoing, incoming]) {
  const link = (id) => el("a", { href: `/ui/twins/${enc(id)}`, class: "twin-link" }, id);
  const items = [
    ...outgoing.value.map((r) => el("li", { class: "out" }, el("span", { class: "muted" },
      `${r.$relationshipName} →`), " ", link(r.$targetId))),
    ...incoming.value.map((r) => el("li", { class: "in" }, link(r.$sourceId), " ",
      el("span", { class: "muted" }, `${r.$relationshipName} → this twin`))),
  ];
  page.view.related.replaceChildren(items.length
    ? el("ul", { class: "related" }, items) : el("span", { class: "muted" }, "No related twins"));
}

function properties(twin) {
  return Object.keys(twin).filter((key) => !key.startsWith("$"));
}

function renderProperties() {
  const twin = page.twin, meta = twin.$metadata || {};
  const names = [...new Set([...properties(twin), ...page.writable.map((p) => p.name)])];
  const desired = names.some((name) => meta[name] && "desiredValue" in meta[name]);
  const head = ["Property", "Reported", "Updated", "Source time"];
  if (desired) head.push("Desired", "Version", "Ack");
  const rows = names.map((name) => {
    const m = meta[name] || {};
    const cells = [
      el("td", { title: page.units[name] || null }, name),
      el("td", { class: "value" }, name in twin ? show(twin[name]) : "–",
        page.units[name] ? el("span", { class: "muted" }, ` ${page.units[name]}`) : ""),
      el("td", {}, timeCell(m.lastUpdateTime)),
      el("td", {}, timeCell(m.sourceTime)),
    ];
    if (desired) {
      const has = "desiredValue" in m;
      cells.push(
        el("td", { class: "desired" }, has ? show(m.desiredValue) : ""),
        el("td", { class: "num" }, has ? m.desiredVersion ?? "" : ""),
        el("td", { class: "ack", title: m.ackDescription || null },
          has ? [m.ackVersion !== undefined ? `v${m.ackVersion} ` : "",
            m.ackCode !== undefined ? `(${m.ackCode})` : ""] : ""));
    }
    return el("tr", { dataset: { prop: name } }, cells);
  });
  page.view.propsTable.replaceChildren(rows.length
    ? el("table", { id: "properties-table" },
      el("thead", {}, el("tr", {}, head.map((title) => el("th", {}, title)))),
      el("tbody", {}, rows))
    : el("p", { class: "muted" }, "No properties reported."));
}

// the interfaces of the model and its bases: units and writable properties
function readModel(answer) {
  const byId = new Map(answer.value.map((m) => [m.id, m.model]));
  const contents = [], seen = new Set();
  const walk = (id) => {
    const doc = byId.get(id);
    if (!doc || seen.has(id)) return;
    seen.add(id);
    const bases = doc.extends ? [].concat(doc.extends) : [];
    bases.forEach((b) => walk(typeof b === "string" ? b : b["@id"]));
    contents.push(...(doc.contents || []));
  };
  walk(page.twin.$metadata.$model);
  for (const item of contents) {
    if (item.unit) page.units[item.name] = unitText(item.unit);
  }
  page.writable = contents.filter((item) => [].concat(item["@type"]).includes("Property") && item.writable);
}

const UNITS = { degreeCelsius: "°C", kilowatt: "kW", watt: "W", millimetrePerSecond: "mm/s",
  kelvin: "K", volt: "V", ampere: "A", hour: "h", second: "s", percent: "%", kilowattHour: "kWh",
  revolutionPerMinute: "rpm", metrePerSecond: "m/s", pascal: "Pa", bar: "bar" };
const unitText = (unit) => UNITS[unit] || unit;

function desiredForm() {
  const note = el("span", { class: "form-note", id: "desired-note", role: "status" });
  const error = el("span", { class: "form-error", id: "desired-error", role: "alert", hidden: true });
  const select = el("select", { name: "prop", "aria-label": "Property" },
    page.writable.map((p) => el("option", { value: p.name }, p.name)));
  const value = el("input", { name: "value", type: "text", inputmode: "decimal", required: true,
    placeholder: "value", "aria-label": "Desired value", size: 10 });
  const form = el("form", { id: "desired-form", class: "row desired-form write-only", onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    note.textContent = "";
    const prop = page.writable.find((p) => p.name === select.value);
    const body = { [prop.name]: parseValue(prop.schema, value.value) };
    form.querySelector("button").disabled = true;
    try {
      const twin = await api(`${base}/desired`, { method: "PATCH", body });
      page.twin = { ...twin, $metadata: { ...twin.$metadata, $telemetry: page.twin.$metadata.$telemetry } };
      renderHeader();
      renderProperties();
      const m = twin.$metadata[prop.name] || {};
      note.textContent = `Desired ${prop.name} = ${show(m.desiredValue)} sent (version ${m.desiredVersion}).`;
    } catch (failure) {
      error.textContent = problem(failure);
      error.hidden = false;
    } finally {
      form.querySelector("button").disabled = false;
    }
  } }, el("strong", {}, "Set desired"), select, value, el("button", { type: "submit" }, "Send"),
  error, note);
  return form;
}

// the text of the form as the property's schema wants it; the server validates the rest
function parseValue(schema, text) {
  const kind = typeof schema === "string" ? schema : schema && schema["@type"];
  const t = text.trim();
  if (["double", "float", "integer", "long"].includes(kind)) return t !== "" && !Number.isNaN(Number(t)) ? Number(t) : t;
  if (kind === "boolean") return t === "true" ? true : t === "false" ? false : t;
  if (kind === "Enum" || kind === "string") return t;
  try { return JSON.parse(t); } catch { return t; }
}

const KPI_SHOWN = [
  ["availability", "Availability", fmt.percent], ["oee", "OEE", fmt.percent],
  ["mtbf", "MTBF", fmt.duration], ["mttr", "MTTR", fmt.duration],
  ["failures", "Failures", (v) => fmt.number(v)], ["energy", "Energy", (v) => `${fmt.number(v, 1)} kWh`],
];

function renderKpis(answer) {
  const k = answer.kpis || {};
  const tiles = KPI_SHOWN.filter(([key]) => k[key] !== null && k[key] !== undefined)
    .map(([key, label, format]) => el("div", { class: "kpi", dataset: { kpi: key } },
      el("div", { class: "label" }, label), el("div", { class: "value" }, format(k[key]))));
  const when = `${fmt.time(answer.start)} – ${fmt.time(answer.end)}`;
  page.view.kpis.replaceChildren(tiles.length
    ? el("div", { class: "kpi-strip" }, el("div", { class: "kpis" }, tiles),
      el("p", { class: "muted small", title: (answer.notes || []).join("\n") || null }, `KPIs over ${when}`))
    : "");
}

// ---------------------------------------------------------------- charts

function pickInterval(span) {
  if (span <= RAW_SPAN) return null;
  return INTERVALS.find((i) => span / i <= BUCKETS) || INTERVALS.at(-1);
}

async function readSeries(signal, start, end, interval) {
  const params = new URLSearchParams({ signal, start: iso(start) });
  if (end) params.set("end", iso(end));
  if (interval) params.set("interval", String(interval));
  const answer = await api(`${base}/telemetry?${params}`);
  if (interval) {
    return answer.value.filter((b) => typeof b.mean === "number").map((b) => ({
      t: Date.parse(b.start) + interval * 500, v: b.mean, min: b.min, max: b.max }));
  }
  return answer.value.filter((p) => typeof p.value === "number")
    .map((p) => ({ t: Date.parse(p.time), v: p.value }));
}

async function firstTime(signal) {
  const answer = await api(`${base}/telemetry?${new URLSearchParams({ signal, start: iso(0), limit: "1" })}`);
  return answer.value.length ? Date.parse(answer.value[0].time) : Date.now() - 600_000;
}

function nearest(ms, t) {
  let lo = 0, hi = ms.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms[mid] < t) lo = mid + 1; else hi = mid;
  }
  return lo > 0 && Math.abs(ms[lo - 1] - t) < Math.abs(ms[lo] - t) ? lo - 1 : lo;
}

// one signal's history: a main line, an optional band (±2σ from a std signal, p5–p95 from
// two signals, or min–max of aggregates) and red markers where a detector flagged a reading
class Chart {
  static LOWER = 0; static UPPER = 1; static MAIN = 2; static FLAGS = 3;

  constructor(signal, { title = signal, unit = "", band = null, percent = false } = {}) {
    Object.assign(this, { signal, title, unit, band, percent });
    this.detectors = [];
    this.ms = []; this.y = []; this.lo = []; this.hi = []; this.flags = [];
    this.interval = null; this.zoomed = null; this.loading = false; this.queue = []; this.token = 0;
    this.node = el("div", { class: "chart", dataset: { signal, points: "0", flags: "0" } });
    this.status = el("span", { class: "muted small chart-status" }, "loading…");
    this.caption = el("figcaption", {}, el("strong", {}, title),
      unit ? el("span", { class: "muted" }, ` (${unit})`) : "", " ", this.status);
    this.figure = el("figure", { class: "chart-card" }, this.caption, this.node);
  }

  setUnit(unit) {
    if (!unit || unit === this.unit) return;
    this.unit = unit;
    this.caption.replaceChildren(el("strong", {}, this.title), el("span", { class: "muted" }, ` (${unit})`),
      " ", this.status);
  }

  aux() {
    if (!this.band) return [];
    return this.band.std ? [this.band.std] : [this.band.lower, this.band.upper];
  }

  bandName() {
    if (this.band?.std) return "±2σ";
    if (this.band) return "5–95 %";
    return this.interval ? "min–max" : "";
  }

  bandAt(v, aux) {  // [lower, upper] for a value and its aux values (same order as aux())
    if (!this.band) return [null, null];
    if (this.band.std) return aux[0] === undefined ? [null, null] : [v - 2 * aux[0], v + 2 * aux[0]];
    return [aux[0] ?? null, aux[1] ?? null];
  }

  async load(start, end, interval, range = null) {
    const token = ++this.token;
    this.loading = true;
    this.status.textContent = "loading…";
    try {
      const [main, ...aux] = await Promise.all([this.signal, ...this.aux()]
        .map((s) => readSeries(s, start, end, interval)));
      await plotly;
      if (token !== this.token) return;
      const maps = aux.map((series) => new Map(series.map((p) => [p.t, p.v])));
      this.interval = interval;
      this.zoomed = range;
      this.ms = main.map((p) => p.t);
      this.y = main.map((p) => p.v);
      const bands = main.map((p) => this.band ? this.bandAt(p.v, maps.map((m) => m.get(p.t)))
        : interval ? [p.min, p.max] : [null, null]);
      this.lo = bands.map((b) => b[0]);
      this.hi = bands.map((b) => b[1]);
      this.flags = [];
      this.draw(range);
      this.status.textContent = interval ? `mean per ${fmt.duration(interval)}` : "";
      if (this.detectors.length) await this.loadFlags(start, end, interval, token);
    } catch (error) {
      if (token === this.token) this.status.textContent = problem(error);
    } finally {
      if (token === this.token) {
        this.loading = false;
        const queued = this.queue.splice(0);
        queued.forEach((args) => this.push(...args));
        if (this.behind) { this.behind = false; this.catchUp(); }
      }
    }
  }

  async loadFlags(start, end, interval, token = this.token) {
    const series = await Promise.all(this.detectors.map((id) =>
      readSeries(`anomaly.${id}.flag`, start, end, interval)));
    if (token !== this.token || !this.node.data) return;
    const times = series.flat().filter((p) => (interval ? p.max : p.v) >= 1).map((p) => p.t);
    this.flags = [...new Set(times)].sort((a, b) => a - b);
    Plotly.restyle(this.node, { x: [this.flags.map(plotTime)], y: [this.flags.map((t) => this.flagY(t))] },
      [Chart.FLAGS]);
    this.node.dataset.flags = String(this.flags.length);
  }

  flagY(t) {
    const i = nearest(this.ms, t);
    return i < 0 ? null : this.y[i];
  }

  traces() {
    const x = this.ms.map(plotTime);
    const band = this.bandName();
    const flagged = `flagged by ${this.detectors.join(", ")}`;
    return [
      { x, y: this.lo, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, name: band },
      { x, y: this.hi, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: BAND,
        hoverinfo: "skip", name: band, showlegend: Boolean(band) },
      { x, y: this.y, mode: "lines", line: { color: ACCENT, width: 1.6 }, name: this.title,
        showlegend: false, hovertemplate: this.percent ? "%{y:.1%}<extra></extra>" : "%{y:.4g}<extra></extra>" },
      { x: this.flags.map(plotTime), y: this.flags.map((t) => this.flagY(t)), mode: "markers",
        marker: { color: RED, size: 7 }, name: flagged, showlegend: this.detectors.length > 0 },
    ];
  }

  draw(range) {
    const layout = chartLayout({
      height: 240, margin: { l: 55, r: 15, t: 8, b: 40 }, showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.12, font: { size: 11 } },
      uirevision: `${this.signal}:${this.token}`,
    });
    layout.xaxis = { ...layout.xaxis, ...(range ? { range: range.map(plotTime), autorange: false } : {}) };
    layout.yaxis = { ...layout.yaxis, tickformat: this.percent ? ".0%" : "" };
    Plotly.react(this.node, this.traces(), layout, chartConfig);
    if (!this.node.dataset.zoomable) {
      this.node.dataset.zoomable = "1";
      this.node.on("plotly_relayout", (event) => this.zoom(event));
    }
    this.node.dataset.points = String(this.ms.length);
  }

  // a zoom into a long range reloads at a finer resolution; a reset goes back to the page's range
  zoom(event) {
    if (this.loading) return;
    if (event["xaxis.autorange"] && this.zoomed) {
      this.load(page.start, null, page.interval);
    } else if (event["xaxis.range[0]"] !== undefined) {
      const a = fromPlot(event["xaxis.range[0]"]), b = fromPlot(event["xaxis.range[1]"]);
      const interval = pickInterval((b - a) / 1000);
      if (interval !== this.interval) this.load(a, b, interval, [a, b]);
    }
  }

  // a new reading from the change feed (aux: the band's signals at the same time)
  push(t, v, aux = []) {
    if (this.loading) { this.queue.push([t, v, aux]); return; }
    if (!this.node.data) return;
    if (this.ms.length && t <= this.ms.at(-1)) return;
    const [lo, hi] = this.band ? this.bandAt(v, aux) : this.interval ? [v, v] : [null, null];
    this.ms.push(t); this.y.push(v); this.lo.push(lo); this.hi.push(hi);
    if (this.ms.length > MAX_POINTS) [this.ms, this.y, this.lo, this.hi].forEach((a) => a.shift());
    const x = plotTime(t);
    Plotly.extendTraces(this.node, { x: [[x], [x], [x]], y: [[lo], [hi], [v]] },
      [Chart.LOWER, Chart.UPPER, Chart.MAIN], MAX_POINTS);
    this.node.dataset.points = String(this.ms.length);
  }

  // several readings arrived at once: read what is new since the last point
  async catchUp() {
    if (this.loading) { this.behind = true; return; }
    if (this.catching) { this.again = true; return; }
    this.catching = true;
    try {
      do {
        this.again = false;
        const since = (this.ms.at(-1) ?? page.start) + 1;
        const [main, ...aux] = await Promise.all([this.signal, ...this.aux()]
          .map((s) => readSeries(s, since, null, null)));
        const maps = aux.map((series) => new Map(series.map((p) => [p.t, p.v])));
        main.forEach((p) => this.push(p.t, p.v, maps.map((m) => m.get(p.t))));
      } while (this.again);
    } catch (error) {
      this.status.textContent = problem(error);
    } finally {
      this.catching = false;
    }
  }

  flag(t) {
    if (this.flags.includes(t) || !this.node.data) return;
    this.flags.push(t);
    Plotly.extendTraces(this.node, { x: [[plotTime(t)]], y: [[this.flagY(t)]] }, [Chart.FLAGS]);
    this.node.dataset.flags = String(this.flags.length);
  }

  // a telemetry event: its latest value per signal, at its source time
  onValues(values, t, several) {
    if (this.signal in values) {
      if (several) this.catchUp();
      else if (typeof values[this.signal] === "number") this.push(t, values[this.signal], this.aux().map((s) => values[s]));
    }
    for (const id of this.detectors) {
      const flag = values[`anomaly.${id}.flag`];
      if (flag === undefined) continue;
      if (several) this.loadFlags(this.zoomed ? this.zoomed[0] : page.start, null, this.interval).catch(() => {});
      else if (flag >= 1) this.flag(t);
    }
  }
}

function addChart(chart, grid) {
  page.charts.push(chart);
  grid.append(chart.figure);
  return chart;
}

function rangeBar() {
  const buttons = RANGES.map(([label, span]) => el("button", {
    type: "button", class: span === page.span ? "secondary range active" : "secondary range",
    dataset: { span: span ?? "all" },
    onclick: () => setRange(span, buttons).catch((error) => { page.view.telemetry.querySelector(".range-bar")
      .append(el("span", { class: "form-error" }, problem(error))); }),
  }, label));
  return el("div", { class: "row range-bar", role: "group", "aria-label": "History range" },
    el("span", { class: "muted" }, "History"), buttons);
}

async function setRange(span, buttons) {
  page.span = span;
  buttons.forEach((b) => b.classList.toggle("active", b.dataset.span === String(span ?? "all")));
  const now = anchorTime();
  if (span === null) {
    const first = await firstTime(page.charts[0]?.signal ?? "");
    page.start = first;
    page.interval = pickInterval((now - first) / 1000);
  } else {
    page.start = now - span * 1000;
    page.interval = pickInterval(span);
  }
  await Promise.all(page.charts.map((c) => c.load(page.start, null, page.interval)));
}

// the charts end now, or at the twin's last reading when it has been quiet for longer
function anchorTime() {
  const times = Object.values(page.twin.$metadata.$telemetry || {})
    .map((r) => Date.parse(r.sourceTime)).filter(Number.isFinite);
  const last = times.length ? Math.max(...times) : Date.now();
  return last < Date.now() - (page.span ?? 600) * 1000 ? last + 1000 : Date.now();
}

function telemetryCharts(signals) {
  const grid = el("div", { class: "charts", id: "telemetry-charts" });
  fill(page.view.telemetry, signals.length ? [rangeBar(), grid]
    : el("p", { class: "muted" }, "No numeric telemetry yet."));
  page.view.telemetryGrid = grid;
  return signals.map((s) => addChart(new Chart(s, { unit: page.units[s] || "" }), grid));
}

// detector id -> the charted signal it watches (a residual of a behavior output: that output)
function watched(detectors) {
  const outputs = page.binding?.outputs || {};
  const map = new Map();
  for (const d of detectors) {
    let signal = d.signal;
    if (signal.startsWith("residual.") && outputs[signal.slice(9)]) signal = outputs[signal.slice(9)];
    map.set(d.id, signal);
  }
  return map;
}

// ---------------------------------------------------------------- estimate and remaining life

function estimateSummary(doc) {
  const derived = Object.entries(doc.derived || {});
  const events = Object.entries(doc.timeToEvent || {});
  return el("div", { class: "estimate-summary", id: "estimate-summary" },
    el("p", { class: "muted" }, `${doc.behavior} · estimate at ${fmt.time(doc.t)} (${fmt.ago(doc.t)})`,
      doc.measurements !== undefined ? ` · ${doc.measurements} measurements` : ""),
    el("div", { class: "kpis" },
      derived.map(([name, value]) => el("div", { class: "kpi", dataset: { derived: name } },
        el("div", { class: "label" }, name === "soc" ? "State of charge" : name),
        el("div", { class: "value" }, name === "soc" ? fmt.percent(value) : fmt.number(value)))),
      events.map(([name, e]) => el("div", { class: "kpi", dataset: { event: name } },
        el("div", { class: "label" }, `Time to ${name}`),
        el("div", { class: "value" }, duration(e.mean)),
        el("div", { class: "muted small" }, `5–95 %: ${duration(e.p5)} – ${duration(e.p95)}`)))),
    el("table", { id: "estimate-states" },
      el("thead", {}, el("tr", {}, el("th", {}, "State"), el("th", { class: "num" }, "Mean"),
        el("th", { class: "num" }, "± std"))),
      el("tbody", {}, doc.states.map((s, i) => el("tr", { dataset: { state: s } },
        el("td", {}, s), el("td", { class: "num" }, fmt.number(doc.mean[i], 5)),
        el("td", { class: "num" }, `± ${fmt.number(doc.std[i])}`))))));
}

function renderEstimate(doc) {
  const node = page.view.estimate;
  node.hidden = false;
  if (!doc) {
    fill(node, el("p", { class: "muted", id: "no-estimate" }, "No estimate yet."));
    return;
  }
  const grid = el("div", { class: "charts", id: "estimate-charts" });
  fill(node, estimateSummary(doc), grid, remainingLife());
  const made = [
    ...Object.keys(doc.derived || {}).map((d) => new Chart(`estimate.${d}`,
      { title: d === "soc" ? "State of charge" : d, percent: d === "soc" })),
    ...Object.keys(doc.timeToEvent || {}).map((e) => new Chart(`timeToEvent.${e}`, {
      title: `Time to ${e}`, unit: "s",
      band: { lower: `timeToEvent.${e}.p5`, upper: `timeToEvent.${e}.p95` } })),
    ...doc.states.map((s) => new Chart(`estimate.${s}`,
      { title: `State ${s}`, band: { std: `estimate.${s}.std` } })),
  ];
  made.forEach((c) => addChart(c, grid));
  return made;
}

function updateSummary(values, t) {
  const doc = page.estimate;
  if (!doc || !doc.states.some((s) => `estimate.${s}` in values)) return;
  doc.states.forEach((s, i) => {
    if (typeof values[`estimate.${s}`] === "number") doc.mean[i] = values[`estimate.${s}`];
    if (typeof values[`estimate.${s}.std`] === "number") doc.std[i] = values[`estimate.${s}.std`];
  });
  for (const d of Object.keys(doc.derived || {})) {
    if (typeof values[`estimate.${d}`] === "number") doc.derived[d] = values[`estimate.${d}`];
  }
  for (const [e, tte] of Object.entries(doc.timeToEvent || {})) {
    for (const [key, suffix] of [["mean", ""], ["p5", ".p5"], ["p95", ".p95"]]) {
      if (typeof values[`timeToEvent.${e}${suffix}`] === "number") tte[key] = values[`timeToEvent.${e}${suffix}`];
    }
  }
  doc.t = t / 1000;
  page.view.estimate.querySelector("#estimate-summary")?.replaceWith(estimateSummary(doc));
}

function remainingLife() {
  const horizon = page.binding?.prediction?.horizon ? Math.max(7200, 2 * page.binding.prediction.horizon) : 7200;
  const field = (label, name, value, attrs = {}) => el("label", {}, label,
    el("input", { name, type: "number", value, min: 1, step: "any", size: 6, ...attrs }));
  const result = el("div", { id: "rul-result" });
  const busy = el("span", { class: "busy", id: "rul-busy", hidden: true, role: "status" }, "Simulating…");
  const form = el("form", { class: "row rul-form", id: "rul-form", onsubmit: async (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = { horizon: Number(f.horizon.value), dt: Number(f.dt.value), method: f.method.value,
      samples: Number(f.samples.value) };
    f.run.disabled = true;
    busy.hidden = false;
    form.setAttribute("aria-busy", "true");
    try {
      const answer = await api(`${base}/predict`, { method: "POST", body });
      await plotly;
      showPrediction(result, answer, body);
    } catch (error) {
      result.replaceChildren(el("p", { class: "error" }, problem(error)));
    } finally {
      f.run.disabled = false;
      busy.hidden = true;
      form.removeAttribute("aria-busy");
    }
  } },
  field("Horizon (s)", "horizon", horizon), field("Step (s)", "dt", 10),
  el("label", {}, "Method", el("select", { name: "method" },
    el("option", { value: "monte-carlo" }, "Monte Carlo"), el("option", { value: "unscented" }, "unscented"))),
  field("Samples", "samples", 500, { step: 1, max: 10000 }),
  el("button", { type: "submit", name: "run", id: "rul-run" }, "Predict remaining life"), busy);
  return el("div", { class: "rul", id: "remaining-life" }, el("h3", {}, "Remaining life"),
    el("p", { class: "muted small" }, "Simulates the behavior from the current estimate, with the inputs held at their last values."),
    form, result);
}

function showPrediction(node, answer, request) {
  const events = Object.entries(answer.timeOfEvent || {});
  const t0 = answer.t0 * 1000;
  const when = (s) => s === null || s === undefined ? `beyond ${duration(request.horizon)}` : duration(s);
  const summary = events.map(([name, e]) => {
    const p = e.percentiles || {};
    return el("div", { class: "kpi", dataset: { event: name } },
      el("div", { class: "label" }, `${name} in`),
      el("div", { class: "value" }, when(e.mean)),
      el("div", { class: "small" }, `5–95 %: ${when(p.p5)} – ${when(p.p95)}`),
      el("div", { class: "muted small" }, `${fmt.percent(e.reached)} of ${answer.samples} samples reach it`,
        e.mean !== null ? ` · about ${fmt.time((t0 + e.mean * 1000) / 1000)}` : ""));
  });
  const box = el("div", { class: "chart", id: "rul-events" });
  const outputs = el("div", { class: "charts", id: "rul-outputs" });
  node.replaceChildren(el("div", { class: "kpis" }, summary), box, outputs);
  const pct = (e, k) => e.percentiles?.[k] ?? null;
  Plotly.react(box, [{
    type: "box", orientation: "h", name: "time of event", y: events.map(([n]) => n),
    lowerfence: events.map(([, e]) => pct(e, "p5")), q1: events.map(([, e]) => pct(e, "p25")),
    median: events.map(([, e]) => pct(e, "p50")), q3: events.map(([, e]) => pct(e, "p75")),
    upperfence: events.map(([, e]) => pct(e, "p95")), mean: events.map(([, e]) => e.mean),
    marker: { color: ACCENT }, fillcolor: BAND2, hoverinfo: "x",
  }], chartLayout({
    height: 90 + 40 * events.length, margin: { l: 60, r: 20, t: 10, b: 40 }, showlegend: false,
    xaxis: { gridcolor: "#eee", title: { text: "seconds from the estimate (box: 25–75 %, whiskers: 5–95 %)" } },
  }), chartConfig);
  const x = answer.times.map((s) => plotTime(t0 + s * 1000));
  const signalOf = page.binding?.outputs || {};
  for (const [name, out] of Object.entries(answer.outputs || {})) {
    const chart = el("div", { class: "chart", dataset: { output: name } });
    const title = signalOf[name] ? `${name} (${signalOf[name]})` : name;
    outputs.append(el("figure", { class: "chart-card" }, el("figcaption", {}, el("strong", {}, `Predicted ${title}`)), chart));
    const b = out.bands || {};
    const line = { width: 0 };
    Plotly.react(chart, [
      { x, y: b.p5, mode: "lines", line, showlegend: false, hoverinfo: "skip" },
      { x, y: b.p95, mode: "lines", line, fill: "tonexty", fillcolor: BAND, name: "5–95 %", hoverinfo: "skip" },
      { x, y: b.p25, mode: "lines", line, showlegend: false, hoverinfo: "skip" },
      { x, y: b.p75, mode: "lines", line, fill: "tonexty", fillcolor: BAND2, name: "25–75 %", hoverinfo: "skip" },
      { x, y: out.mean, mode: "lines", line: { color: ACCENT }, name: "mean" },
    ], chartLayout({ height: 240, margin: { l: 55, r: 15, t: 8, b: 40 },
      legend: { orientation: "h", x: 0, y: 1.12, font: { size: 11 } } }), chartConfig);
  }
}

// ---------------------------------------------------------------- alerts and history

const STATE_ORDER = { raised: 0, acknowledged: 1, cleared: 2 };

async function loadAlerts() {
  const answer = await api(`/alerts?${new URLSearchParams({ twin: twinId, limit: "50" })}`);
  const alerts = answer.value.slice().sort((a, b) =>
    (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) || Date.parse(b.raisedAt) - Date.parse(a.raisedAt));
  const error = el("p", { class: "form-error", id: "alert-error", role: "alert", hidden: true });
  const act = (alert, verb) => async (event) => {
    event.target.disabled = true;
    error.hidden = true;
    try {
      await api(`/alerts/${enc(alert.id)}/${verb}`, { method: "POST", body: { by: session.name || "dashboard" } });
      await loadAlerts();
    } catch (failure) {
      error.textContent = problem(failure);
      error.hidden = false;
      event.target.disabled = false;
    }
  };
  const rows = alerts.map((a) => el("tr", { class: a.state === "cleared" ? "closed" : "open",
    dataset: { alertId: a.id, state: a.state } },
  el("td", {}, severityBadge(a.severity)),
  el("td", { class: "alert-state" }, a.state),
  el("td", {}, el("div", {}, a.message || a.rule), el("div", { class: "muted small" }, a.rule,
    a.occurrences > 1 ? ` · ${a.occurrences}×` : "", a.acknowledgedBy ? ` · ack by ${a.acknowledgedBy}` : "")),
  el("td", {}, timeCell(a.raisedAt), a.clearedAt ? el("div", { class: "muted small" }, "cleared ", fmt.time(a.clearedAt)) : ""),
  el("td", { class: "actions" }, canWrite() && a.state !== "cleared" ? el("span", { class: "write-only" },
    a.state === "raised" ? el("button", { type: "button", class: "ack", onclick: act(a, "acknowledge") }, "Acknowledge") : "",
    el("button", { type: "button", class: "secondary clear", onclick: act(a, "clear") }, "Clear")) : "")));
  const open = alerts.filter((a) => a.state !== "cleared").length;
  fill(page.view.alerts, el("p", { class: "muted small" }, `${open} open, ${alerts.length - open} cleared`),
    error, rows.length ? el("table", { id: "alerts-table" },
      el("thead", {}, el("tr", {}, ["Severity", "State", "Alert", "Raised", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)) : el("p", { class: "muted" }, "No alerts."));
}

let alertTimer = null;
function alertsChanged() {
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => loadAlerts().catch(soft(page.view.alerts)), 200);
}

// the newest HISTORY_ROWS changes, newest first
async function loadHistory() {
  const rows = (await api(`${base}/history?order=newest&limit=${HISTORY_ROWS}`)).value;
  page.view.historyBody = el("tbody", {}, rows.map(historyRow));
  fill(page.view.history, el("div", { class: "history-scroll" }, el("table", { id: "history-table" },
    el("thead", {}, el("tr", {}, ["Time", "Event", "Revision", "Changed"].map((h) => el("th", {}, h)))),
    page.view.historyBody)));
}

function historyRow(e) {
  const time = typeof e.time === "number" ? iso(e.time * 1000) : e.time;
  return el("tr", { dataset: { revision: e.revision ?? "" } },
    el("td", {}, timeCell(time)), el("td", {}, e.type), el("td", { class: "num" }, e.revision ?? ""),
    el("td", { class: "paths" }, (e.data?.changed || []).join(", ")));
}

function historyChanged(event) {  // a change from the feed goes on top
  const body = page.view.historyBody;
  if (!body || body.querySelector(`tr[data-revision="${event.revision}"]`)) return;
  body.prepend(historyRow(event));
  while (body.children.length > HISTORY_ROWS) body.lastElementChild.remove();
}

// ---------------------------------------------------------------- the change feed

function onEvent(event) {
  if (event.twinId && event.twinId !== twinId) return;
  if (event.type === "telemetry") onTelemetry(event.data || {});
  else if (event.type === "twin.updated" && event.data?.twin) {
    historyChanged(event);
    page.twin = { ...event.data.twin, $metadata: { ...event.data.twin.$metadata, $telemetry: page.twin.$metadata.$telemetry } };
    renderHeader();
    renderProperties();
  } else if (event.type === "twin.deleted") {
    page.view.header.prepend(el("p", { class: "error" }, "This twin was deleted."));
  } else if (event.type?.startsWith("alert.")) alertsChanged();
}

function onTelemetry(data) {
  const prefix = data.component ? `${data.component}/` : "";
  const values = Object.fromEntries(Object.entries(data.values || {}).map(([k, v]) => [prefix + k, v]));
  const t = Date.parse(data.sourceTime);
  if (!Number.isFinite(t)) return;
  const several = (data.readings ?? 0) > Object.keys(values).length;
  const telemetry = page.twin.$metadata.$telemetry ||= {};
  for (const [name, value] of Object.entries(values)) telemetry[name] = { value, sourceTime: data.sourceTime };
  const charted = new Set(page.charts.map((c) => c.signal));
  for (const [name, value] of Object.entries(values)) {  // a signal heard for the first time
    const grid = page.view.telemetryGrid;
    if (typeof value !== "number" || isDerived(name) || charted.has(name) || !grid) continue;
    if (!grid.isConnected) fill(page.view.telemetry, rangeBar(), grid);
    const chart = addChart(new Chart(name, { unit: page.units[name] || "" }), grid);
    chart.load(page.start, null, page.interval);
  }
  page.charts.forEach((c) => c.onValues(values, t, several));
  updateSummary(values, t);
}

// ---------------------------------------------------------------- the page

function skeleton(main) {
  const v = {
    title: el("h1", { id: "twin-title" }),
    meta: el("div", { class: "row twin-meta" }),
    related: el("div", { id: "related" }, el("span", { class: "muted" }, "…")),
    kpis: el("div", { id: "kpis" }),
    propsTable: el("div", {}),
    desired: el("div", { id: "desired" }),
  };
  v.header = el("section", { class: "card twin-header", id: "twin-header" }, v.title, v.meta,
    el("div", { class: "row related-row" }, el("span", { class: "muted" }, "Related"), v.related));
  v.properties = section("properties", "Properties", v.propsTable, v.desired);
  v.alerts = section("alerts", "Alerts", el("p", { class: "muted" }, "Loading…"));
  v.telemetry = section("telemetry", "Telemetry", el("p", { class: "muted" }, "Loading…"));
  v.estimate = section("estimate", "Behavior estimate");
  v.estimate.hidden = true;
  v.history = section("history", "Change history", el("p", { class: "muted" }, "Loading…"));
  main.replaceChildren(v.header, v.kpis, el("div", { class: "twin-columns" }, v.properties, v.alerts),
    v.telemetry, v.estimate, v.history);
  return v;
}

function notFound(main, error) {
  document.title = `No twin ${twinId} · holotwin`;
  main.replaceChildren(el("div", { class: "error not-found", id: "not-found", role: "alert" },
    el("strong", {}, `No twin '${twinId}'.`), " ", error.message),
  el("p", {}, el("a", { href: "/ui/twins" }, "Find a twin in the twin graph")));
}

boot("/ui/twins", async (main) => {
  try {
    page.twin = await api(`${base}?telemetry=true`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return notFound(main, error);
    throw error;
  }
  document.title = `${twinId} · holotwin`;
  page.view = skeleton(main);
  renderHeader();
  renderProperties();
  follow({ twinId }, onEvent);  // before the reads, so nothing falls between them and the feed

  const meta = page.twin.$metadata;
  const latest = meta.$telemetry || {};
  const names = Object.keys(latest);
  const signals = names.filter((n) => !isDerived(n) && typeof latest[n].value === "number").sort();
  const flags = names.filter((n) => n.startsWith("anomaly.") && n.endsWith(".flag"));
  const hasEstimate = names.some((n) => n.startsWith("estimate.") || n.startsWith("timeToEvent."));
  const v = page.view;

  const now = anchorTime();
  page.start = now - page.span * 1000;
  page.interval = pickInterval(page.span);
  const charts = telemetryCharts(signals);
  const loads = charts.map((c) => c.load(page.start, null, page.interval));  // drawn once plotly.js runs
  const reads = [
    api(`/models?${new URLSearchParams({ dependenciesFor: meta.$model, includeModelDefinition: "true" })}`)
      .then((answer) => {
        readModel(answer);
        renderProperties();
        page.charts.forEach((c) => c.setUnit(page.units[c.signal]));
        if (canWrite() && page.writable.length) v.desired.replaceChildren(desiredForm());
      }).catch(() => {}),  // units and the desired form are extras
    Promise.all([api(`${base}/relationships`), api(`${base}/incomingrelationships`)])
      .then(renderRelations, (error) => v.related.replaceChildren(el("span", { class: "form-error" }, problem(error)))),
    loadAlerts().catch(soft(v.alerts)),
    api(`${base}/kpis?depth=0`).then(renderKpis, () => {}),
    loadHistory().catch(soft(v.history)),
  ];
  const estimateRead = hasEstimate ? api(`${base}/estimate`).catch((error) => {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }) : Promise.resolve(undefined);
  const detectorsRead = flags.length ? api("/detectors").then((a) => a.value, () => []) : Promise.resolve([]);

  const [estimate, detectors] = await Promise.all([estimateRead, detectorsRead]);
  const ids = flags.map((n) => n.slice("anomaly.".length, -".flag".length));
  const watching = detectors.filter((d) => ids.includes(d.id));
  if (watching.some((d) => d.signal.startsWith("residual."))) {
    page.binding = await api(`/models/${enc(meta.$model)}/behavior`).catch(() => null);
  }
  const targets = watched(watching);
  for (const chart of charts) {  // before plotly.js runs, so each chart's first draw has them
    chart.detectors = [...targets].filter(([, s]) => s === chart.signal).map(([id]) => id);
  }
  if (estimate !== undefined) {
    page.estimate = estimate;
    loads.push(...(renderEstimate(estimate) || []).map((c) => c.load(page.start, null, page.interval)));
  }
  await Promise.all(reads);
  // the text is there (boot marks the page ready); plotly.js takes a while to start, so it
  // runs only now, and the charts are drawn when it has
  startPlotly();
  Promise.all(loads).then(() => { main.dataset.complete = "true"; });
});
