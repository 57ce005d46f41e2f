// The twin page's behavior estimate (states with their bands, derived values, time to event)
// and remaining life on demand (a prediction with its distribution).
import { api, chartConfig, chartLayout, el, fmt } from "/ui/static/app.js";
import { ACCENT, BAND, BAND2, Chart, addChart, plotTime } from "/ui/static/twin/chart.js";
import { base, duration, fill, page, plotly, problem } from "/ui/static/twin/state.js";


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

export function renderEstimate(doc) {
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

export function updateSummary(values, t) {
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
  // every card in the grid before the first is drawn: plotly sizes a chart once, to the
  // column it has then (one card alone spans the row)
  const drawn = Object.entries(answer.outputs || {}).map(([name, out]) => {
    const chart = el("div", { class: "chart", dataset: { output: name } });
    const title = signalOf[name] ? `${name} (${signalOf[name]})` : name;
    outputs.append(el("figure", { class: "chart-card" }, el("figcaption", {}, el("strong", {}, `Predicted ${title}`)), chart));
    return [chart, out];
  });
  for (const [chart, out] of drawn) {
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
