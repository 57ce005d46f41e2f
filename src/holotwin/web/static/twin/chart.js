// The twin page's time-series charts: one signal each, with an optional band and anomaly
// flags, zoomable (a zoom into a long range reloads at a finer resolution), kept live by the
// change feed. Charts read their history together: one request for every signal of the charts
// loaded at once (main lines, bands and flags).
import { api, chartConfig, chartLayout, el, fmt } from "/ui/static/app.js";
import { base, iso, page, plotly, problem } from "/ui/static/twin/state.js";

const RAW_SPAN = 900;     // s: charts of spans up to this show raw readings, longer ones aggregates
const BUCKETS = 500;      // about this many aggregate buckets per chart
const INTERVALS = [2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
const MAX_POINTS = 20000; // live points kept per chart
const MAX_SIGNALS = 50;   // signals per request (the API's limit)
export const ACCENT = "#2563eb", BAND = "rgba(37, 99, 235, 0.15)", BAND2 = "rgba(37, 99, 235, 0.3)";
const RED = "#b91c1c";

const pad = (n, w = 2) => String(n).padStart(w, "0");
// plotly shows date strings as they are: give it local time, as fmt.time shows
export function plotTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
const fromPlot = (text) => new Date(String(text).replace(" ", "T")).getTime();

export function pickInterval(span) {
  if (span <= RAW_SPAN) return null;
  return INTERVALS.find((i) => span / i <= BUCKETS) || INTERVALS.at(-1);
}

// the series of several signals in [start, end): a Map of signal -> points, in requests of up
// to MAX_SIGNALS signals
async function readSeries(signals, start, end, interval) {
  const unique = [...new Set(signals)];
  const chunks = [];
  for (let i = 0; i < unique.length; i += MAX_SIGNALS) chunks.push(unique.slice(i, i + MAX_SIGNALS));
  const answers = await Promise.all(chunks.map((chunk) => {
    const params = new URLSearchParams({ start: iso(start) });
    chunk.forEach((s) => params.append("signal", s));
    if (end) params.set("end", iso(end));
    if (interval) params.set("interval", String(interval));
    return api(`${base}/telemetry?${params}`).then((answer) => chunk.length === 1 ? [answer] : answer.signals);
  }));
  return new Map(answers.flat().map((s) => [s.signal, points(s.value, interval)]));
}

function points(value, interval) {
  if (interval) {
    return value.filter((b) => typeof b.mean === "number").map((b) => ({
      t: Date.parse(b.start) + interval * 500, v: b.mean, min: b.min, max: b.max }));
  }
  return value.filter((p) => typeof p.value === "number").map((p) => ({ t: Date.parse(p.time), v: p.value }));
}

export async function firstTime(signal) {
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
export class Chart {
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

  flagSignals() {
    return this.detectors.map((id) => `anomaly.${id}.flag`);
  }

  load(start, end, interval, range = null) {
    return Chart.loadAll([this], start, end, interval, range);
  }

  // load several charts over one range, with one read of all their signals
  static async loadAll(charts, start, end, interval, range = null) {
    const tokens = charts.map((c) => c.begin());
    const flagged = charts.map((c) => [...c.detectors]);
    let series;
    try {
      series = await readSeries(charts.flatMap((c, i) => [c.signal, ...c.aux(),
        ...flagged[i].map((id) => `anomaly.${id}.flag`)]), start, end, interval);
      await plotly;
    } catch (error) {
      charts.forEach((c, i) => c.finish(tokens[i], error));
      return;
    }
    await Promise.all(charts.map((c, i) => c.apply(tokens[i], series, flagged[i], start, end, interval, range)));
  }

  begin() {
    this.loading = true;
    this.status.textContent = "loading…";
    return ++this.token;
  }

  async apply(token, series, flagged, start, end, interval, range) {
    if (token !== this.token) return;
    let failure = null;
    try {
      const main = series.get(this.signal) || [];
      const maps = this.aux().map((s) => new Map((series.get(s) || []).map((p) => [p.t, p.v])));
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
      if (flagged.length) this.setFlags(flagged.map((id) => series.get(`anomaly.${id}.flag`) || []), interval);
      // detectors learnt of while the read was on its way
      if (this.detectors.some((id) => !flagged.includes(id))) await this.loadFlags(start, end, interval, token);
    } catch (error) {
      failure = error;
    }
    this.finish(token, failure);
  }

  finish(token, error) {
    if (token !== this.token) return;
    if (error) this.status.textContent = problem(error);
    this.loading = false;
    const queued = this.queue.splice(0);
    queued.forEach((args) => this.push(...args));
    if (this.behind) { this.behind = false; this.catchUp(); }
  }

  async loadFlags(start, end, interval, token = this.token) {
    if (!this.detectors.length) return;
    const series = await readSeries(this.flagSignals(), start, end, interval);
    if (token === this.token) this.setFlags([...series.values()], interval);
  }

  setFlags(series, interval) {
    if (!this.node.data) return;
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
        const series = await readSeries([this.signal, ...this.aux()], since, null, null);
        const maps = this.aux().map((s) => new Map((series.get(s) || []).map((p) => [p.t, p.v])));
        (series.get(this.signal) || []).forEach((p) => this.push(p.t, p.v, maps.map((m) => m.get(p.t))));
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

export function addChart(chart, grid) {
  page.charts.push(chart);
  grid.append(chart.figure);
  return chart;
}
