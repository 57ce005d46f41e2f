// The scenarios page's results: a run's result tables, and the side-by-side comparison plots
// (line KPIs with 95 % intervals and paired differences; forks' times of event).
import { api, chartConfig, chartLayout, el, fmt, table } from "/ui/static/app.js";
import { KPI_ROWS, LINE_KPIS, PALETTE, interval, num, twinLink } from "/ui/static/scenarios/common.js";

export function lineResult(s) {
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

export function forksResult(s) {
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

export function unique(names) {
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

export function lineComparison(box, comparison, names) {
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

export async function forksComparison(box, comparison, ids, names) {
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
