// The twin page, /ui/twins/{id}: header and related twins, properties and desired state,
// live telemetry charts, the behavior estimate and remaining life, alerts, KPIs, history.
// Its parts are in twin/ (state, details, chart, estimate, activity); this module lays out
// the page, draws the telemetry section and follows the change feed.
// Loading: the twin (header and properties drawn at once), then one parallel wave (its model,
// relationships, one telemetry read for all the charts, alerts, KPIs, history, and the detectors
// and the estimate only when the twin has such signals). The page is ready when its text is
// drawn; then plotly.js runs and the charts are drawn (main[data-complete]). The change feed
// keeps it live.
import { ApiError, api, boot, canWrite, el, follow } from "/ui/static/app.js";
import { alertsChanged, historyChanged, loadAlerts, loadHistory } from "/ui/static/twin/activity.js";
import { Chart, addChart, firstTime, pickInterval } from "/ui/static/twin/chart.js";
import {
  desiredForm, readModel, renderHeader, renderKpis, renderProperties, renderRelations,
} from "/ui/static/twin/details.js";
import { renderEstimate, updateSummary } from "/ui/static/twin/estimate.js";
import {
  base, enc, fill, isDerived, page, problem, section, soft, startPlotly, twinId,
} from "/ui/static/twin/state.js";

const RANGES = [["10 min", 600], ["1 h", 3600], ["24 h", 86400], ["all", null]];

// ---------------------------------------------------------------- telemetry

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
  await Chart.loadAll(page.charts, page.start, null, page.interval);
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
  const loads = [Chart.loadAll(charts, page.start, null, page.interval)];  // drawn once plotly.js runs
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
    loads.push(Chart.loadAll(renderEstimate(estimate) || [], page.start, null, page.interval));
  }
  await Promise.all(reads);
  // the text is there (boot marks the page ready); plotly.js takes a while to start, so it
  // runs only now, and the charts are drawn when it has
  startPlotly();
  Promise.all(loads).then(() => { main.dataset.complete = "true"; });
});
