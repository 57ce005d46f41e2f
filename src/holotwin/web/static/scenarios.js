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
// Its parts are in scenarios/ (common, forms, results); this module lays out the page, lists
// the scenarios, runs and follows them.
import { ApiError, api, boot, canWrite, el, fmt, loadPlotly, showError, statusBadge, table } from "/ui/static/app.js";
import { TERMINAL, num, progressBar, summary, target } from "/ui/static/scenarios/common.js";
import { forksForm, lineForm, setup } from "/ui/static/scenarios/forms.js";
import { forksComparison, forksResult, lineComparison, lineResult, unique } from "/ui/static/scenarios/results.js";

const POLL_MS = 500;

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

