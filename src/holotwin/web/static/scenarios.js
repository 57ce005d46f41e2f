// What-if scenarios (/ui/scenarios): the stored scenarios and optimizations, a form to set up
// a what-if (write sessions), its progress and result, and a side-by-side comparison.
//
// Requests: GET /scenarios and GET /optimizations (the lists); for the form (write sessions
// only) GET /ui/api/graph (lines, stations, twins: one request), GET /behaviors and
// GET /models/{id}/behavior once per model in the graph (which twins have a behavior), and
// GET /digitaltwins/{id}/estimate of the chosen twin (its last inputs, to prefill the load).
// Running: POST /scenarios (202), then GET /scenarios/{id} every 0.5 s until done. Compare:
// POST /scenarios/compare {"ids": [baseline, ...]}, and for forks GET /scenarios/{id} of
// each (the percentiles of the times of event are in the results).
// ?twin=<id> preselects a line (or the line of a station) or a twin with a behavior.
import { ApiError, api, boot, canWrite, chartConfig, chartLayout, el, fmt, loadPlotly, showError, statusBadge, table } from "/ui/static/app.js";

const POLL_MS = 500;
const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899"];
const LINE_KPIS = [  // what the comparison plots: [key, title, scale]
  ["throughput", "Throughput (good parts/h)", 1],
  ["good", "Good parts", 1],
  ["oee", "OEE (%)", 100],
];
const KPI_ROWS = [
  ["throughput", "Throughput", "parts/h", 1], ["good", "Good parts", "", 1],
  ["scrap", "Scrap", "", 1], ["availability", "Availability", "%", 100],
  ["performance", "Performance", "%", 100], ["quality", "Quality", "%", 100],
  ["oee", "OEE", "%", 100],
];
const TERMINAL = new Set(["done", "failed"]);


const twinLink = (id) => el("a", { href: `/ui/twins/${encodeURIComponent(id)}` }, id);
const num = (value, digits = 3) => fmt.number(value, digits);
const interval = (k, scale = 1, digits = 3) => (k && k.mean !== undefined && k.mean !== null
  ? `${num(k.mean * scale, digits)} [${num(k.low * scale, digits)}, ${num(k.high * scale, digits)}]`
  : "–");

// run a form's action with its button disabled; a failure is shown in the form
async function submit(button, problem, action) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
  } finally {
    button.disabled = false;
  }
}
function progressBar(value, status) {
  return el("div", { class: `progress ${status || ""}`, role: "progressbar", "aria-valuemin": "0",
                     "aria-valuemax": "1", "aria-valuenow": String(value ?? 0) },
    el("div", { style: `width: ${Math.round(100 * Math.max(0, Math.min(1, value || 0)))}%` }));
}

function target(s) {
  if (s.kind === "line") return s.line;
  if (s.subgraph) return `${s.subgraph.root} (depth ${s.subgraph.depth})`;
  return (s.twins || []).join(", ");
}

function summary(s) {
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

// the graph's lines and their stations, the twins with a behavior (model bindings)
async function setup() {
  const graph = await api("/ui/api/graph");
  const twins = new Map(graph.twins.map((t) => [t.id, t]));
  const out = new Map();
  for (const r of graph.relationships) {
    if (!twins.has(r.target)) continue;
    if (!out.has(r.source)) out.set(r.source, []);
    out.get(r.source).push(r);
  }
  const natural = new Intl.Collator("en", { numeric: true }).compare;
  const lines = graph.twins.filter((t) => fmt.model(t.model) === "Line"
    || (out.get(t.id) || []).some((r) => r.name === "hasMachine")).map((t) => t.id).sort(natural);
  const stations = new Map(lines.map((id) => [id,
    [...new Set((out.get(id) || []).map((r) => r.target))].sort(natural)]));
  const models = [...new Set(graph.twins.map((t) => t.model))];
  const [behaviors, bindings] = await Promise.all([
    api("/behaviors").then((b) => new Map(b.value.map((x) => [x.name, x]))),
    Promise.all(models.map((m) => api(`/models/${encodeURIComponent(m)}/behavior`)
      .then((binding) => [m, binding])
      .catch((error) => { if (error instanceof ApiError && error.status === 404) return [m, null]; throw error; }))),
  ]);
  const bound = new Map(bindings.filter(([, b]) => b));
  const withBehavior = graph.twins.filter((t) => bound.has(t.model)).map((t) => t.id).sort(natural);
  const hubs = graph.twins.filter((t) => out.has(t.id) && !bound.has(t.model)).map((t) => t.id).sort(natural);
  return { graph, twins, lines, stations, bound, behaviors, withBehavior, hubs };
}

function field(label, input, hint) {
  return el("div", { class: "field" }, el("label", { for: input.id }, label), input,
    hint ? el("div", { class: "hint muted" }, hint) : null);
}

const numberInput = (id, value, { min, max, step = "any" } = {}) =>
  el("input", { id, name: id, type: "number", value, min, max, step, required: true });

function lineForm(ctx, preset, onRun) {
  const line = el("select", { id: "line", name: "line" },
    ctx.lines.map((id) => el("option", { value: id, selected: id === preset.line }, id)));
  const stationSelect = (id) => el("select", { id, name: id });
  const maintStation = stationSelect("maint-station");
  const speedStation = stationSelect("speed-station");
  const fillStations = () => {
    for (const select of [maintStation, speedStation]) {
      const keep = select.value || preset.station;
      select.replaceChildren(...(ctx.stations.get(line.value) || []).map((id) =>
        el("option", { value: id, selected: id === keep }, id)));
    }
  };
  line.addEventListener("change", fillStations);
  fillStations();
  const maintOn = el("input", { id: "maint-on", type: "checkbox" });
  const speedOn = el("input", { id: "speed-on", type: "checkbox" });
  const name = el("input", { id: "line-name", name: "name", placeholder: "a name (optional)" });
  const horizon = numberInput("line-horizon", 8, { min: 0.05, max: 8760 });
  const replications = numberInput("line-replications", 5, { min: 1, max: 200, step: 1 });
  const seed = numberInput("line-seed", 1, { min: 0, step: 1 });
  const maintStart = numberInput("maint-start", 0, { min: 0 });
  const maintDuration = numberInput("maint-duration", 30, { min: 0.1 });
  const maintRestore = el("input", { id: "maint-restore", type: "checkbox", checked: true });
  const speedFactor = numberInput("speed-factor", 1.2, { min: 0.01, max: 10 });
  const problem = el("p", { class: "error", hidden: true });
  const run = el("button", { id: "line-run", type: "submit" }, "Run what-if");

  const form = el("form", { id: "line-form", class: "whatif" },
    el("div", { class: "fields" },
      field("Line", line, "lines: Line twins and twins with hasMachine relationships"),
      field("Name", name),
      field("Horizon (h)", horizon),
      field("Replications", replications),
      field("Seed", seed, "the same seed and replications: paired comparisons")),
    el("fieldset", {},
      el("legend", {}, el("label", { class: "check" }, maintOn, "Maintain a station")),
      el("div", { class: "fields" },
        field("Station", maintStation),
        field("Start (min from now)", maintStart),
        field("Duration (min)", maintDuration),
        el("label", { class: "check" }, maintRestore, "as new afterwards (restore)"))),
    el("fieldset", {},
      el("legend", {}, el("label", { class: "check" }, speedOn, "Change a station's speed")),
      el("div", { class: "fields" },
        field("Station", speedStation),
        field("Speed factor", speedFactor, "1.2 = 20 % faster"))),
    problem, el("p", {}, run));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const hours = Number(horizon.value);
    const overrides = {};
    if (maintOn.checked) {
      overrides.maintenance = [{ station: maintStation.value, start: 60 * Number(maintStart.value),
                                 duration: 60 * Number(maintDuration.value), restore: maintRestore.checked }];
    }
    if (speedOn.checked) overrides.stations = { [speedStation.value]: { speed: Number(speedFactor.value) } };
    const parts = [maintOn.checked ? `${maintStation.value} maintained ${maintDuration.value} min` : null,
                   speedOn.checked ? `${speedStation.value} speed ×${speedFactor.value}` : null].filter(Boolean);
    const doc = {
      kind: "line", line: line.value,
      name: name.value.trim() || `${line.value}: ${parts.length ? parts.join(", ") : "as it is"}`,
      horizon: 3600 * hours, replications: Number(replications.value), seed: Number(seed.value),
      overrides,
    };
    await submit(run, problem, () => onRun(doc));
  });
  return form;
}

function forksForm(ctx, preset, onRun) {
  const options = (ids) => ids.map((id) => el("option", { value: id, selected: id === preset.twin }, id));
  const twin = el("select", { id: "fork-twin", name: "twin" },
    ctx.withBehavior.length ? el("optgroup", { label: "Twins with a behavior" }, options(ctx.withBehavior)) : null,
    ctx.hubs.length ? el("optgroup", { label: "The twins around (a subgraph)" }, options(ctx.hubs)) : null);
  const depth = el("select", { id: "fork-depth", name: "depth" },
    [["0", "this twin only"], ["1", "and the twins 1 relationship away"], ["2", "… 2 relationships away"],
     ["3", "… 3 relationships away"]].map(([v, t]) => el("option", { value: v }, t)));
  const name = el("input", { id: "fork-name", name: "name", placeholder: "a name (optional)" });
  const horizon = numberInput("fork-horizon", 1, { min: 0.01, max: 8760 });
  const samples = numberInput("fork-samples", 200, { min: 1, max: 10000, step: 1 });
  const dt = numberInput("fork-dt", 5, { min: 0.01 });
  const loadOn = el("input", { id: "load-on", type: "checkbox" });
  const loadFields = el("div", { class: "fields", id: "load-fields" });
  const loadBox = el("fieldset", { id: "load-box" },
    el("legend", {}, el("label", { class: "check" }, loadOn, "A constant load from now")), loadFields);
  const problem = el("p", { class: "error", hidden: true });
  const run = el("button", { id: "fork-run", type: "submit" }, "Run what-if");

  let inputs = [];  // the chosen twin's behavior inputs
  async function chosen() {
    const id = twin.value;
    const model = ctx.twins.get(id)?.model;
    const binding = ctx.bound.get(model);
    const behavior = binding ? ctx.behaviors.get(binding.behavior) : null;
    // a twin without a behavior forks the behaviors around it
    depth.querySelector("option[value='0']").disabled = !binding;
    depth.value = binding ? "0" : "2";
    inputs = behavior ? behavior.inputs : [];
    loadBox.hidden = !inputs.length;
    let last = {};
    if (inputs.length) {
      try {
        last = (await api(`/digitaltwins/${encodeURIComponent(id)}/estimate`)).inputs || {};
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    }
    if (twin.value !== id) return;  // chosen again meanwhile
    loadFields.replaceChildren(...inputs.map((input) => {
      const signal = binding.inputs?.[input];
      const value = last[input];
      return field(`${input}${signal && signal !== input ? ` (${signal})` : ""}`,
        el("input", { id: `load-${input}`, name: `load-${input}`, type: "number", step: "any",
                      value: value === undefined ? "" : Number(value.toPrecision(4)), required: true }),
        value === undefined ? "no reading yet" : `now ${num(value)}`);
    }));
  }
  twin.addEventListener("change", () => chosen().catch((e) => showError(problem.parentElement, e)));

  const form = el("form", { id: "forks-form", class: "whatif" },
    el("div", { class: "fields" },
      field("Fork", twin, "a twin's estimate, or the estimates of the twins around it"),
      field("Scope", depth),
      field("Name", name),
      field("Horizon (h)", horizon),
      field("Samples", samples),
      field("Step (s)", dt)),
    loadBox, problem, el("p", {}, run));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const id = twin.value;
    const d = Number(depth.value);
    const doc = {
      name: name.value.trim(), horizon: 3600 * Number(horizon.value),
      samples: Number(samples.value), dt: Number(dt.value),
    };
    if (d === 0) doc.twins = [id]; else doc.subgraph = { root: id, depth: d };
    let loadText = "";
    if (loadOn.checked && inputs.length && !loadBox.hidden) {
      const values = inputs.map((input) => Number(form.elements[`load-${input}`].value));
      doc.overrides = { [id]: { load: { times: [], values: [values] } } };
      loadText = `, load ${inputs.map((input, k) => `${input}=${values[k]}`).join(" ")}`;
    }
    doc.name = doc.name || `${id}${d ? ` and around (${d})` : ""}${loadText || ", as it is"}`;
    await submit(run, problem, () => onRun(doc));
  });
  return { form, ready: () => chosen() };
}

function lineResult(s) {
  const r = s.results || {};
  const k = s.kpis || {};
  return el("div", { class: "result", dataset: { kind: "line" } },
    table([["KPI", ([label, unit]) => `${label}${unit ? ` (${unit})` : ""}`],
           ["Mean [95 % interval]", ([, , key, scale]) => interval(k[key], scale)]],
      KPI_ROWS.map(([key, label, unit, scale]) => [label, unit, key, scale]), { id: "result-kpis" }),
    k.bottleneck ? el("p", {}, "Bottleneck: ", twinLink(k.bottleneck)) : null,
    r.stations ? el("details", {}, el("summary", {}, "Stations: the figures used and where they came from"),
      table([["Station", (st) => twinLink(st.name)], ["Cycle time", (st) => `${num(st.cycleTime)} s`],
             ["MTBF", (st) => fmt.duration(st.mtbf)], ["MTTR", (st) => fmt.duration(st.mttr)],
             ["Busy", (st) => fmt.percent(st.results?.busy?.mean)],
             ["Down", (st) => fmt.percent(st.results?.down?.mean)],
             ["From", (st) => Object.entries(st.sources || {}).map(([key, v]) => `${key}: ${v}`).join("; ")]],
        r.stations)) : null);
}

function forksResult(s) {
  const rows = [];
  for (const [twin, result] of Object.entries(s.results || {})) {
    for (const [event, e] of Object.entries(result.timeOfEvent || {})) rows.push({ twin, event, ...e });
  }
  return el("div", { class: "result", dataset: { kind: "forks" } },
    table([["Twin", (r) => twinLink(r.twin)], ["Event", (r) => r.event],
           ["Mean time", (r) => fmt.duration(r.mean)], ["Reached", (r) => fmt.percent(r.reached)],
           ["5 %", (r) => fmt.duration(r.percentiles?.p5)], ["median", (r) => fmt.duration(r.percentiles?.p50)],
           ["95 %", (r) => fmt.duration(r.percentiles?.p95)]], rows,
      { id: "result-events", empty: "No event within the horizon." }),
    s.notSimulated?.length
      ? el("p", { class: "muted" }, "Not simulated (no behavior or no estimate): ",
        s.notSimulated.map((id) => twinLink(id)).flatMap((link, k) => (k ? [", ", link] : [link]))) : null);
}

function unique(names) {
  const seen = new Map();
  return names.map((n) => {
    const k = (seen.get(n) || 0) + 1;
    seen.set(n, k);
    return k > 1 ? `${n} (${k})` : n;
  });
}

// side-by-side subplots, one per KPI: axes x, x2, x3 in the row
function subplotLayout(titles, { ticks = false, ...extra } = {}) {
  const n = titles.length;
  const gap = 0.07;
  const width = (1 - gap * (n - 1)) / n;
  const layout = chartLayout({ height: 340, margin: { l: 55, r: 15, t: 40, b: 60 }, showlegend: true,
                               legend: { orientation: "h", y: -0.15 }, annotations: [], ...extra });
  titles.forEach((title, i) => {
    const s = i ? String(i + 1) : "";
    layout[`xaxis${s}`] = { domain: [i * (width + gap), i * (width + gap) + width], type: "category",
                            anchor: `y${s}`, showticklabels: ticks, automargin: true };
    layout[`yaxis${s}`] = { anchor: `x${s}`, gridcolor: "#eee", zeroline: true, zerolinecolor: "#9ca3af",
                            rangemode: "tozero" };
    layout.annotations.push({ text: `<b>${title}</b>`, x: i * (width + gap) + width / 2, y: 1.08,
                              xref: "paper", yref: "paper", showarrow: false, font: { size: 12 } });
  });
  return layout;
}

function lineComparison(box, comparison, names) {
  const runs = comparison.scenarios;
  const axis = (i) => (i ? String(i + 1) : "");
  const bars = [];
  LINE_KPIS.forEach(([key, , scale], i) => {
    runs.forEach((run, j) => {
      const k = run.kpis[key] || {};
      bars.push({ type: "bar", name: names[j], legendgroup: names[j], showlegend: i === 0,
                  x: [names[j]], y: [k.mean * scale], xaxis: `x${axis(i)}`, yaxis: `y${axis(i)}`,
                  marker: { color: PALETTE[j % PALETTE.length] },
                  error_y: { type: "data", symmetric: false, array: [(k.high - k.mean) * scale],
                             arrayminus: [(k.mean - k.low) * scale], color: "#374151", thickness: 1.2 },
                  hovertemplate: `${names[j]}: %{y:.4g}<extra>${key}</extra>` });
    });
  });
  const diffs = [];
  const others = runs.slice(1);
  LINE_KPIS.forEach(([key, , scale], i) => {
    others.forEach((run, j) => {
      const d = run.vsBaseline?.[key];
      if (!d) return;
      diffs.push({ type: "scatter", mode: "markers", name: names[j + 1], legendgroup: names[j + 1],
                   showlegend: i === 0, x: [names[j + 1]], y: [d.mean * scale],
                   xaxis: `x${axis(i)}`, yaxis: `y${axis(i)}`,
                   marker: { size: 9, color: PALETTE[(j + 1) % PALETTE.length] },
                   error_y: { type: "data", symmetric: false, array: [(d.high - d.mean) * scale],
                              arrayminus: [(d.mean - d.low) * scale], color: "#374151", thickness: 1.5,
                              width: 8 },
                   hovertemplate: `${names[j + 1]}: %{y:+.4g}<extra>Δ ${key}</extra>` });
    });
  });
  const titles = LINE_KPIS.map(([, title]) => title);
  const paired = others.every((run) => run.paired);
  // a legend, like the means above: scenario names are too long for tick labels
  const diffLayout = subplotLayout(titles);
  LINE_KPIS.forEach(([key, , scale], i) => {
    // zero in view, with room around the intervals (tozero would put zero on the edge)
    const ends = others.flatMap((run) => [run.vsBaseline?.[key]?.low, run.vsBaseline?.[key]?.high])
      .filter((v) => typeof v === "number").map((v) => v * scale);
    const low = Math.min(0, ...ends);
    const high = Math.max(0, ...ends);
    const pad = (high - low || 1) * 0.12;
    Object.assign(diffLayout[`yaxis${axis(i)}`], { rangemode: "normal", range: [low - pad, high + pad] });
  });
  const kpiPlot = el("div", { id: "compare-kpis", class: "chart" });
  const diffPlot = el("div", { id: "compare-diff", class: "chart" });
  box.replaceChildren(
    el("h3", {}, "Means with 95 % intervals"), kpiPlot,
    el("h3", {}, `Difference to the baseline (${names[0]}), ${paired ? "paired (common random numbers)" : "not paired: seeds or replications differ"}, 95 %`),
    diffPlot,
    table([["KPI", (row) => row.label],
           ...runs.map((run, j) => [names[j], (row) => {
             const k = run.kpis[row.key];
             const d = j ? run.vsBaseline?.[row.key] : null;
             return el("span", {}, interval(k, row.scale),
               d ? el("span", { class: `delta ${d.low > 0 ? "up" : d.high < 0 ? "down" : ""}` },
                 ` Δ ${d.mean * row.scale >= 0 ? "+" : ""}${num(d.mean * row.scale)}`) : null);
           }])],
      KPI_ROWS.map(([key, label, unit, scale]) => ({ key, label: unit ? `${label} (${unit})` : label, scale })),
      { id: "compare-table" }));
  Plotly.newPlot(kpiPlot, bars, subplotLayout(titles, { barmode: "group" }), chartConfig);
  Plotly.newPlot(diffPlot, diffs, diffLayout, chartConfig);
}

async function forksComparison(box, comparison, ids, names) {
  const docs = await Promise.all(ids.map((id) => api(`/scenarios/${encodeURIComponent(id)}`)));
  const pairs = [];  // [twin, event] in the order met
  for (const doc of docs) {
    for (const [twin, result] of Object.entries(doc.results || {})) {
      for (const event of Object.keys(result.timeOfEvent || {})) {
        if (!pairs.some(([t, e]) => t === twin && e === event)) pairs.push([twin, event]);
      }
    }
  }
  const longest = Math.max(0, ...docs.flatMap((d) => Object.values(d.results || {})
    .flatMap((r) => Object.values(r.timeOfEvent || {}).map((e) => e.percentiles?.p95 || 0))));
  const [unit, per] = longest > 7200 ? ["h", 3600] : ["min", 60];
  const label = ([twin, event]) => `${twin} · ${event}`;
  const traces = docs.map((doc, j) => {
    // percentiles of the samples that reached the event; none reached it: no box
    const rows = pairs.map(([twin, event]) => [label([twin, event]), doc.results?.[twin]?.timeOfEvent?.[event]])
      .filter(([, e]) => e?.percentiles && e.percentiles.p50 !== null && e.percentiles.p50 !== undefined);
    const p = (name) => rows.map(([, e]) => e.percentiles[name] / per);
    return { type: "box", name: names[j], x: rows.map(([x]) => x), q1: p("p25"), median: p("p50"),
             q3: p("p75"), lowerfence: p("p5"), upperfence: p("p95"), mean: rows.map(([, e]) => e.mean / per),
             marker: { color: PALETTE[j % PALETTE.length] } };
  });
  const plot = el("div", { id: "compare-events", class: "chart" });
  const rows = pairs.map(([twin, event]) => ({ twin, event }));
  box.replaceChildren(
    el("h3", {}, `Time of event (${unit} from the fork): 5, 25, 50, 75, 95 % and the mean`), plot,
    table([["Twin", (r) => twinLink(r.twin)], ["Event", (r) => r.event],
           ...comparison.scenarios.map((run, j) => [names[j], (r) => {
             const e = run.twins?.[r.twin]?.[r.event];
             if (!e) return "–";
             return `${fmt.duration(e.mean)} (${fmt.percent(e.reached)} reached)`
               + (j && e.vsBaseline !== null && e.vsBaseline !== undefined
                 ? ` Δ ${e.vsBaseline >= 0 ? "+" : "−"}${fmt.duration(Math.abs(e.vsBaseline))}` : "");
           }])], rows, { id: "compare-table", empty: "No event within the horizon in these scenarios." }));
  if (pairs.length) {
    Plotly.newPlot(plot, traces, chartLayout({
      boxmode: "group", height: 360, xaxis: { type: "category" },
      yaxis: { title: { text: unit }, gridcolor: "#eee", rangemode: "tozero" } }), chartConfig);
  }
}

boot("/ui/scenarios", async (main) => {
  const params = new URLSearchParams(location.search);
  const writer = canWrite();
  const [listed, optimizations, ctx] = await Promise.all([
    api("/scenarios"),
    api("/optimizations").catch((error) => {
      if (error instanceof ApiError && error.status === 404) return { value: [] };
      throw error;
    }),
    writer ? setup() : Promise.resolve(null),
  ]);
  let scenarios = listed.value;
  const chosen = [];  // ids in the order they were ticked: the first is the baseline

  const listBox = el("div", { id: "scenario-list" });
  const compareButton = el("button", { id: "compare", type: "button", disabled: true }, "Compare");
  const compareNote = el("span", { class: "muted", id: "compare-note" });
  const comparisonCard = el("section", { class: "card", id: "comparison", hidden: true },
    el("h2", {}, "Comparison"), el("div", { id: "comparison-body" }));
  const runCard = el("section", { class: "card", id: "run", hidden: true });
  const optimizationCard = el("section", { class: "card", id: "optimizations", hidden: true });

  function syncCompare() {
    const docs = chosen.map((id) => scenarios.find((s) => s.id === id)).filter(Boolean);
    const kinds = new Set(docs.map((s) => s.kind || "forks"));
    const notDone = docs.filter((s) => s.status !== "done");
    let note = "";
    if (docs.length === 1) note = `Baseline: ${docs[0].name || docs[0].id}; choose one more`;
    else if (docs.length > 1) note = `Baseline: ${docs[0].name || docs[0].id}`;
    if (kinds.size > 1) note = "Line and fork scenarios cannot be compared";
    else if (notDone.length) note = `${notDone.map((s) => s.name || s.id).join(", ")}: not done`;
    compareButton.disabled = docs.length < 2 || kinds.size > 1 || notDone.length > 0;
    compareNote.textContent = note;
    for (const box of listBox.querySelectorAll("input.choose")) {
      const at = chosen.indexOf(box.value);
      box.checked = at >= 0;
      box.closest("tr").classList.toggle("baseline", at === 0);
    }
  }

  function renderList() {
    const sorted = [...scenarios].sort((a, b) => (b.created || "").localeCompare(a.created || ""));
    const view = table([
      ["", (s) => el("input", { type: "checkbox", class: "choose", value: s.id,
                                "aria-label": `Compare ${s.name || s.id}`, checked: chosen.includes(s.id) })],
      ["Name", (s) => el("button", { class: "link show", type: "button", dataset: { show: s.id } }, s.name || s.id)],
      ["Kind", (s) => s.kind || "forks"],
      ["What", (s) => target(s)],
      ["Status", (s) => el("div", { class: "state" }, statusBadge(s.status),
        s.status === "running" || s.status === "created" ? progressBar(s.progress, s.status) : null)],
      ["Created", (s) => el("span", { title: fmt.time(s.created) }, fmt.ago(s.created))],
      ["Result", (s) => summary(s)],
      ["", (s) => el("span", { class: "write-only actions" },
        el("button", { class: "secondary", type: "button", dataset: { rerun: s.id },
                       disabled: !TERMINAL.has(s.status) }, "Run again"),
        el("button", { class: "secondary", type: "button", dataset: { remove: s.id } }, "Delete"))],
    ], sorted, { id: "scenarios", empty: "No scenarios yet." });
    if (view.tagName === "TABLE") {
      for (const [k, tr] of [...view.tBodies[0].rows].entries()) tr.dataset.scenario = sorted[k].id;
    }
    listBox.replaceChildren(view);
    syncCompare();
  }

  async function reload() {
    scenarios = (await api("/scenarios")).value;
    for (let i = chosen.length - 1; i >= 0; i--) if (!scenarios.some((s) => s.id === chosen[i])) chosen.splice(i, 1);
    renderList();
  }

  function showRun(s) {
    runCard.hidden = false;
    runCard.dataset.scenario = s.id;
    runCard.dataset.status = s.status;
    runCard.replaceChildren(...[  // replaceChildren would write null out as text
      el("h2", {}, s.name || s.id, " ", statusBadge(s.status)),
      el("p", { class: "muted" }, `${s.kind || "forks"} · ${target(s)} · horizon ${fmt.duration(s.horizon)}`
        + (s.kind === "line" ? ` · ${s.replications} replications · seed ${s.seed ?? "drawn"}` : ` · ${s.samples} samples`)),
      el("div", { class: "row" }, progressBar(s.progress, s.status),
        el("span", { id: "run-progress" }, `${Math.round(100 * (s.progress || 0))} %`)),
      s.status === "failed" ? el("p", { class: "error" }, s.error || "The run failed") : null,
      s.status === "done" ? (s.kind === "line" ? lineResult(s) : forksResult(s)) : null,
    ].filter(Boolean));
  }

  // poll a running scenario every POLL_MS until it is done or failed
  const polling = new Set();
  async function watch(id, shown) {
    if (polling.has(id)) return;
    polling.add(id);
    try {
      for (;;) {
        const s = await api(`/scenarios/${encodeURIComponent(id)}`);
        const at = scenarios.findIndex((x) => x.id === id);
        if (at >= 0) scenarios[at] = { ...scenarios[at], ...s, results: undefined };
        else scenarios.push(s);
        if (shown()) showRun(s);
        const row = listBox.querySelector(`tr[data-scenario="${CSS.escape(id)}"]`);
        if (row) {
          const bar = row.querySelector(".progress > div");
          if (bar) bar.style.width = `${Math.round(100 * (s.progress || 0))}%`;
        }
        if (TERMINAL.has(s.status)) break;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      polling.delete(id);
      renderList();
    }
  }
  const showing = (id) => () => runCard.dataset.scenario === id;

  async function start(doc) {
    const s = await api("/scenarios", { method: "POST", body: doc });
    scenarios.push(s);
    renderList();
    showRun(s);
    runCard.scrollIntoView({ block: "nearest" });
    await watch(s.id, showing(s.id));
  }

  async function compare(ids) {
    comparisonCard.hidden = false;
    const body = comparisonCard.querySelector("#comparison-body");
    body.replaceChildren(el("p", { class: "muted" }, "Comparing…"));
    const [comparison] = await Promise.all([
      api("/scenarios/compare", { method: "POST", body: { ids } }), loadPlotly()]);
    const names = unique(comparison.scenarios.map((run) => run.scenario));
    comparisonCard.dataset.kind = comparison.kind || "forks";
    if (comparison.kind === "line") lineComparison(body, comparison, names);
    else await forksComparison(body, comparison, ids, names);
    comparisonCard.scrollIntoView({ block: "nearest" });
  }

  listBox.addEventListener("change", (event) => {
    const box = event.target.closest("input.choose");
    if (!box) return;
    const at = chosen.indexOf(box.value);
    if (box.checked && at < 0) chosen.push(box.value);
    if (!box.checked && at >= 0) chosen.splice(at, 1);
    syncCompare();
  });
  listBox.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    try {
      if (button.dataset.show) {
        const s = await api(`/scenarios/${encodeURIComponent(button.dataset.show)}`);
        showRun(s);
        runCard.scrollIntoView({ block: "nearest" });
        if (!TERMINAL.has(s.status)) watch(s.id, showing(s.id)).catch((e) => showError(runCard, e));
      } else if (button.dataset.rerun) {
        const id = button.dataset.rerun;
        const s = await api(`/scenarios/${encodeURIComponent(id)}/run`, { method: "POST" });
        showRun(s);
        await watch(id, showing(id));
      } else if (button.dataset.remove) {
        const id = button.dataset.remove;
        const s = scenarios.find((x) => x.id === id);
        if (!confirm(`Delete the scenario ${s?.name || id}?`)) return;
        await api(`/scenarios/${encodeURIComponent(id)}`, { method: "DELETE" });
        if (runCard.dataset.scenario === id) runCard.hidden = true;
        await reload();
      }
    } catch (error) {
      showError(listBox, error);
    }
  });
  compareButton.addEventListener("click", () => compare([...chosen]).catch((e) => showError(comparisonCard, e)));

  // the form: what ?twin= says, else the first line
  let formCard = null;
  if (ctx) {
    const wanted = params.get("twin");
    const lineOf = (id) => ctx.lines.find((l) => (ctx.stations.get(l) || []).includes(id));
    const preset = { line: ctx.lines[0], station: null, twin: ctx.withBehavior[0] || ctx.hubs[0] };
    let kind = ctx.lines.length ? "line" : "forks";
    if (wanted && ctx.twins.has(wanted)) {
      if (ctx.lines.includes(wanted)) preset.line = wanted;
      else if (lineOf(wanted) && !ctx.bound.has(ctx.twins.get(wanted).model)) {
        preset.line = lineOf(wanted);
        preset.station = wanted;
      } else {
        kind = "forks";
        preset.twin = wanted;
      }
    }
    const forms = {};
    if (ctx.lines.length) forms.line = lineForm(ctx, preset, start);
    let forks = null;
    if (ctx.withBehavior.length || ctx.hubs.length) {
      if (wanted && kind === "forks" && !ctx.withBehavior.includes(wanted) && !ctx.hubs.includes(wanted)) {
        ctx.hubs.push(wanted);  // a twin without a binding or children: forks what is around it
      }
      forks = forksForm(ctx, preset, start);
      forms.forks = forks.form;
    }
    if (!forms[kind]) kind = Object.keys(forms)[0];
    const tabs = el("div", { class: "tabs", role: "tablist" },
      [["line", "A production line"], ["forks", "A twin with a behavior"]].filter(([k]) => forms[k])
        .map(([k, label]) => el("button", { type: "button", role: "tab", class: "tab", dataset: { kind: k },
                                            "aria-selected": String(k === kind) }, label)));
    const pick = (k) => {
      for (const [key, form] of Object.entries(forms)) form.hidden = key !== k;
      for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.kind === k));
    };
    tabs.addEventListener("click", (event) => {
      const tab = event.target.closest("button.tab");
      if (tab) pick(tab.dataset.kind);
    });
    formCard = el("section", { class: "card write-only", id: "whatif" },
      el("h2", {}, "New what-if"),
      el("p", { class: "muted" }, "Forks the live state and simulates it; the live twins are not touched."),
      Object.keys(forms).length ? tabs : el("p", { class: "muted" }, "No line and no twin with a behavior to try."),
      ...Object.values(forms));
    pick(kind);
    if (forks) await forks.ready();
  }

  if (optimizations.value.length) {
    optimizationCard.hidden = false;
    optimizationCard.replaceChildren(el("h2", {}, "Optimizations"),
      table([["Name", (o) => o.name || o.id], ["Status", (o) => el("div", { class: "state" }, statusBadge(o.status),
               TERMINAL.has(o.status) ? null : progressBar(o.progress, o.status))],
             ["Objective", (o) => (o.search?.objective ? `${o.search.objective.goal} ${o.search.objective.kpi}` : "–")],
             ["Best", (o) => {
               const best = o.best?.[0];
               if (!best) return o.error || "–";
               return `${Object.entries(best.assignment || {}).map(([k, v]) => `${k.split("/").pop()}=${v}`).join(", ")}`
                 + ` → ${num(best.objective)}${best.feasible === false ? " (breaks a constraint)" : ""}`;
             }],
             ["", (o) => (o.scenarios?.baseline && o.scenarios?.best?.length
               ? el("button", { class: "secondary", type: "button", dataset: { optimization: o.id } },
                 "Compare the baseline and the best") : "")]],
        optimizations.value, { id: "optimization-list" }));
    optimizationCard.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-optimization]");
      if (!button) return;
      const o = optimizations.value.find((x) => x.id === button.dataset.optimization);
      chosen.splice(0, chosen.length, o.scenarios.baseline, ...o.scenarios.best);
      syncCompare();
      compare([...chosen]).catch((e) => showError(comparisonCard, e));
    });
  }

  main.replaceChildren(
    el("h1", {}, "What-if scenarios"),
    el("div", { class: "layout" },
      el("div", { class: "side" }, formCard, runCard),
      el("div", { class: "wide" },
        el("section", { class: "card" },
          el("div", { class: "row list-head" }, el("h2", {}, "Scenarios"), compareButton, compareNote),
          el("p", { class: "muted hint" }, "Tick two or more to compare them; the first ticked is the baseline."),
          listBox),
        comparisonCard, optimizationCard)));
  renderList();
  for (const s of scenarios) if (!TERMINAL.has(s.status) && s.status !== "created") watch(s.id, showing(s.id)).catch(console.error);
});
