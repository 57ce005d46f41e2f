// The plant overview (/ui/): the root twin's KPIs over the last hour, availability and OEE
// per line and machine, and what needs attention first (open alerts, twins in fault).
//
// Requests: GET /ui/api/graph (every twin with its status and open alerts, one request
// however many twins), GET /digitaltwins/{root}/kpis?depth=2&maxAge=30 (the rollup, one
// request, as the server keeps it: at most 30 s old, or being computed again),
// GET /alerts?state=open; the change feed (GET /events?type=alert.*) triggers a refresh.
import { api, boot, chartConfig, chartLayout, el, fmt, follow, loadPlotly, severityBadge, statusBadge } from "/ui/static/app.js";

const ATTENTION_EVERY = 10_000;  // ms: alerts come by the feed; this catches status changes
const KPIS_EVERY = 30_000;       // ms: the KPIs are over an hour, they move slowly
const MAX_BARS = 60;             // more bars than this: the lines and the worst machines
const SEVERITY_RANK = { critical: 0, warning: 2, info: 3 };
const FAULT_RANK = 1;            // a twin in fault without an open alert: after critical alerts
const TILES = [
  ["availability", "Availability", fmt.percent],
  ["performance", "Performance", fmt.percent],
  ["quality", "Quality", fmt.percent],
  ["oee", "OEE", fmt.percent],
  ["mtbf", "MTBF", fmt.duration],
  ["mttr", "MTTR", fmt.duration],
  ["energy", "Energy", (v) => `${fmt.number(v, 1)} kWh`],
];


const twinLink = (id) => el("a", { href: `/ui/twins/${encodeURIComponent(id)}`, class: "twin" }, id);

// the twins that are no relationship's target and have children, best candidate first
// (a Plant model, then the most twins below it)
export function rootsOf(graph) {
  const ids = new Set(graph.twins.map((t) => t.id));
  const out = new Map();
  const targets = new Set();
  for (const r of graph.relationships) {
    if (!ids.has(r.source) || !ids.has(r.target) || r.source === r.target) continue;
    targets.add(r.target);
    if (!out.has(r.source)) out.set(r.source, []);
    out.get(r.source).push(r.target);
  }
  const below = (root) => {
    const seen = new Set([root]);
    const stack = [root];
    while (stack.length) {
      for (const next of out.get(stack.pop()) || []) {
        if (!seen.has(next)) { seen.add(next); stack.push(next); }
      }
    }
    return seen.size - 1;
  };
  return graph.twins
    .filter((t) => !targets.has(t.id) && out.has(t.id))
    .map((t) => ({ twin: t, below: below(t.id), plant: fmt.model(t.model) === "Plant" }))
    .sort((a, b) => (b.plant - a.plant) || (b.below - a.below) || a.twin.id.localeCompare(b.twin.id))
    .map((r) => r.twin);
}

// open alerts by severity then age (the oldest first: it has waited longest), with the twins
// in fault that have no open alert of their own
export function attentionItems(alerts, graph) {
  const twins = new Map(graph.twins.map((t) => [t.id, t]));
  const items = alerts.map((a) => ({
    rank: SEVERITY_RANK[a.severity] ?? 4, since: Date.parse(a.raisedAt || a.created) || 0,
    twinId: a.twinId, severity: a.severity, status: twins.get(a.twinId)?.status,
    message: a.message || a.rule, rule: a.rule, state: a.state, when: a.raisedAt || a.created,
  }));
  const alerted = new Set(alerts.map((a) => a.twinId));
  for (const t of graph.twins) {
    if (t.status === "fault" && !alerted.has(t.id)) {
      items.push({ rank: FAULT_RANK, since: Infinity, twinId: t.id, severity: null,
                   status: "fault", message: "In fault", rule: null, state: null, when: null });
    }
  }
  return items.sort((a, b) => (a.rank - b.rank) || (a.since - b.since)
                              || a.twinId.localeCompare(b.twinId));
}

function tiles(kpis) {
  const shown = TILES.filter(([key]) => kpis[key] !== null && kpis[key] !== undefined);
  if (!shown.length) return el("p", { class: "muted" }, "No KPIs over the last hour yet.");
  return el("div", { class: "kpis", id: "kpi-tiles" }, shown.map(([key, label, format]) =>
    el("div", { class: "kpi", dataset: { kpi: key } },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, format(kpis[key])),
      key === "availability" && kpis.failures !== null && kpis.failures !== undefined
        ? el("div", { class: "sub muted" }, `${kpis.failures} failure${kpis.failures === 1 ? "" : "s"}`)
        : null,
      key === "energy" && kpis.energyPerPart
        ? el("div", { class: "sub muted" }, `${fmt.number(kpis.energyPerPart * 1000, 1)} Wh per part`)
        : null)));
}

// lines and machines below the root (depth first), for the bar chart
function barsOf(report) {
  const rows = [];
  const walk = (node, depth) => {
    for (const child of node.children || []) {
      rows.push({ id: child.twinId, depth, kpis: child.kpis || {} });
      walk(child, depth + 1);
    }
  };
  walk(report, 1);
  if (rows.length <= MAX_BARS) return { rows, note: null };
  const top = rows.filter((r) => r.depth === 1);
  const worst = rows.filter((r) => r.depth > 1 && r.kpis.oee !== null && r.kpis.oee !== undefined)
    .sort((a, b) => a.kpis.oee - b.kpis.oee).slice(0, Math.max(10, MAX_BARS - top.length));
  const keep = new Set([...top, ...worst]);
  return { rows: rows.filter((r) => keep.has(r)),
           note: `${top.length} lines and the ${worst.length} machines with the lowest OEE` };
}

async function drawChart(node, report) {
  try {
    await loadPlotly();
  } catch (error) {
    node.replaceChildren(el("p", { class: "muted" }, error.message));
    return;
  }
  const { rows, note } = barsOf(report);
  const caption = node.parentElement.querySelector(".chart-note");
  if (caption) caption.textContent = note || "";
  if (!rows.length) {
    node.replaceChildren(el("p", { class: "muted" }, "No lines or machines below this twin."));
    return;
  }
  const x = rows.map((r) => r.id);
  const pct = (key) => rows.map((r) => (r.kpis[key] === null || r.kpis[key] === undefined
    ? null : 100 * r.kpis[key]));
  const traces = [
    { type: "bar", name: "Availability", x, y: pct("availability"), marker: { color: "#2563eb" },
      hovertemplate: "%{x}: %{y:.1f} %<extra>availability</extra>" },
    { type: "bar", name: "OEE", x, y: pct("oee"), marker: { color: "#f59e0b" },
      hovertemplate: "%{x}: %{y:.1f} %<extra>OEE</extra>" },
  ];
  const layout = chartLayout({
    barmode: "group", height: 340, margin: { l: 50, r: 10, t: 10, b: 90 },
    // lines in bold: the bars of their machines follow them
    xaxis: { type: "category", tickangle: -40, automargin: true, tickvals: x,
             ticktext: rows.map((r) => (r.depth === 1 && rows.length > 1 ? `<b>${r.id}</b>` : r.id)) },
    yaxis: { title: { text: "%" }, range: [0, 105], gridcolor: "#eee", zeroline: false },
    legend: { orientation: "h", y: 1.08, x: 0 },
  });
  const fresh = !node.classList.contains("js-plotly-plot");
  if (fresh) node.replaceChildren();  // the "Loading" note
  Plotly.react(node, traces, layout, chartConfig);
  if (fresh) {
    node.on("plotly_click", (event) => {
      const id = event.points?.[0]?.x;
      if (id) location.assign(`/ui/twins/${encodeURIComponent(id)}`);
    });
  }
}

function attentionList(items) {
  if (!items.length) return el("p", { class: "muted", id: "attention" }, "Nothing needs attention: no open alerts, no twin in fault.");
  return el("ul", { class: "attention", id: "attention" }, items.map((item) =>
    el("li", { dataset: { twin: item.twinId, severity: item.severity || "fault" } },
      item.severity ? severityBadge(item.severity) : statusBadge("fault"),
      el("div", { class: "what" },
        el("div", {}, twinLink(item.twinId), " ", item.severity ? statusBadge(item.status) : null),
        el("div", { class: "message" }, item.message,
          item.rule ? el("span", { class: "muted" }, ` · ${item.rule}`) : null,
          item.state === "acknowledged" ? el("span", { class: "muted" }, " · acknowledged") : null)),
      el("div", { class: "age muted", title: item.when ? fmt.time(item.when) : "" },
        item.when ? fmt.ago(item.when) : ""))));
}

boot("/ui/", async (main) => {
  const params = new URLSearchParams(location.search);
  let graph = await api("/ui/api/graph");
  const roots = rootsOf(graph);
  const wanted = params.get("root");
  const root = roots.find((t) => t.id === wanted) || roots[0];

  const title = el("h1", {}, root ? `Plant: ${root.name || root.displayName || root.id}` : "Plant");
  const updated = el("span", { class: "muted updated" }, "");
  const picker = roots.length > 1
    ? el("label", { class: "root-picker" }, "KPIs of ",
        el("select", { id: "root", onchange: (e) => {
          location.assign(`/ui/?root=${encodeURIComponent(e.target.value)}`);
        } }, roots.map((t) => el("option", { value: t.id, selected: t === root }, t.id))))
    : null;
  const kpiBox = el("section", { id: "kpis" }, el("p", { class: "muted" }, "Loading KPIs…"));
  const attentionCount = el("span", { class: "muted count" });
  const attentionBox = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  const chart = el("div", { id: "kpi-chart", class: "chart" }, el("p", { class: "muted" }, "Loading the chart…"));
  main.replaceChildren(
    el("div", { class: "row heading" }, title, updated, picker),
    kpiBox,
    el("div", { class: "grid overview" },
      el("section", { class: "card", id: "attention-card" },
        el("h2", {}, "Needs attention first ", attentionCount), attentionBox),
      el("section", { class: "card" },
        el("h2", {}, "Availability and OEE, last hour"),
        el("p", { class: "muted chart-note" }), chart)));

  if (!root) {
    kpiBox.replaceChildren(el("p", { class: "muted" },
      "No plant yet: no twin has relationships. Start the demo (holotwin demo) or create twins."));
  }

  let attentionBusy = false;
  let attentionAgain = false;  // asked for while busy: once more when done
  async function refreshAttention(fetchGraph = true) {
    if (attentionBusy) { attentionAgain = true; return; }
    attentionBusy = true;
    try {
      const [fresh, alerts] = await Promise.all([
        fetchGraph ? api("/ui/api/graph") : graph, api("/alerts?state=open")]);
      graph = fresh;
      const items = attentionItems(alerts.value, graph);
      const faults = graph.twins.filter((t) => t.status === "fault").length;
      attentionCount.textContent = `${alerts.value.length} open alert${alerts.value.length === 1 ? "" : "s"}, `
        + `${faults} in fault`;
      attentionBox.replaceChildren(attentionList(items));
      updated.textContent = `updated ${fmt.time(Date.now() / 1000)}`;
    } finally {
      attentionBusy = false;
      if (attentionAgain) {
        attentionAgain = false;
        refreshAttention().catch(console.error);
      }
    }
  }

  let kpisBusy = false;
  async function refreshKpis() {
    if (!root || kpisBusy) return;
    kpisBusy = true;
    try {
      const report = await api(`/digitaltwins/${encodeURIComponent(root.id)}/kpis?depth=2&maxAge=${KPIS_EVERY / 1000}`);
      kpiBox.replaceChildren(tiles(report.kpis || {}), report.computedAt
        ? el("p", { class: "muted small", id: "kpis-computed" }, `KPIs of the last hour, computed ${fmt.time(report.computedAt)}`)
        : "");
      drawChart(chart, report).catch(console.error);  // the page is ready before the chart
    } finally {
      kpisBusy = false;
    }
  }

  // follow the feed before reading the alerts, so none raised meanwhile is missed (the feed
  // starts with new events); it takes repeated type parameters, which pairs keep apart
  let pending = null;
  follow([["type", "alert.raised"], ["type", "alert.acknowledged"], ["type", "alert.cleared"]], () => {
    clearTimeout(pending);
    pending = setTimeout(() => refreshAttention().catch(console.error), 300);
  });
  await Promise.all([refreshAttention(false), refreshKpis()]);
  const quietly = (job) => () => { if (!document.hidden) job().catch(console.error); };
  setInterval(quietly(refreshAttention), ATTENTION_EVERY);
  setInterval(quietly(refreshKpis), KPIS_EVERY);
});
