// The twin page's alerts (acknowledge and clear) and change history, kept live by the feed.
import { api, canWrite, el, fmt, session, severityBadge } from "/ui/static/app.js";
import { base, enc, fill, iso, page, problem, soft, timeCell, twinId } from "/ui/static/twin/state.js";

const HISTORY_ROWS = 50;

const STATE_ORDER = { raised: 0, acknowledged: 1, cleared: 2 };

export async function loadAlerts() {
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
export function alertsChanged() {
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => loadAlerts().catch(soft(page.view.alerts)), 200);
}

// the newest HISTORY_ROWS changes, newest first
export async function loadHistory() {
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

export function historyChanged(event) {  // a change from the feed goes on top
  const body = page.view.historyBody;
  if (!body || body.querySelector(`tr[data-revision="${event.revision}"]`)) return;
  body.prepend(historyRow(event));
  while (body.children.length > HISTORY_ROWS) body.lastElementChild.remove();
}
