// The twin page's header, related twins, properties with the desired-value form, and KPIs.
import { api, canWrite, el, fmt, statusBadge } from "/ui/static/app.js";
import { base, enc, page, problem, show, timeCell } from "/ui/static/twin/state.js";


export function renderHeader() {
  const twin = page.twin, meta = twin.$metadata || {};
  const model = meta.$model;
  const updated = meta.$lastUpdateTime;
  page.view.title.replaceChildren(el("span", { id: "twin-id" }, twin.$dtId), " ",
    statusBadge(typeof twin.status === "string" ? twin.status : null));
  page.view.meta.replaceChildren(
    el("span", {}, "Model ", el("strong", { id: "twin-model", title: model }, fmt.model(model))),
    el("span", {}, "Revision ", el("strong", { id: "twin-revision" }, meta.$revision ?? "–")),
    el("span", {}, "Updated ", el("strong", { id: "twin-updated", title: updated || "" },
      updated ? `${fmt.time(updated)} (${fmt.ago(updated)})` : "–")),
    el("span", { class: "links" },
      el("a", { id: "in-graph", href: `/ui/twins?${new URLSearchParams({ view: "graph", focus: twin.$dtId })}` },
        "Show in the graph"),
      canWrite() ? el("a", { id: "what-if", href: `/ui/scenarios?${new URLSearchParams({ twin: twin.$dtId })}` },
        "What-if from this twin") : ""));
}

export function renderRelations([outgoing, incoming]) {
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

export function renderProperties() {
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
export function readModel(answer) {
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

export function desiredForm() {
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

export function renderKpis(answer) {
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
