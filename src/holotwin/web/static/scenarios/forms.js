// The scenarios page's what-if forms (write sessions): what the graph offers (lines and their
// stations, twins with a behavior), a line what-if and a fork what-if.
import { ApiError, api, el, fmt, showError } from "/ui/static/app.js";
import { num } from "/ui/static/scenarios/common.js";

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

// the graph's lines and their stations, the twins with a behavior (model bindings)
export async function setup() {
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

export function lineForm(ctx, preset, onRun) {
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

export function forksForm(ctx, preset, onRun) {
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
