// The twin graph (/ui/twins): a tree, or a graph of the twins around one (twins/graph.js,
// ?view=graph&focus=ID&depth=N), from GET /ui/api/graph (one request for every twin and
// relationship; the change feed of alerts refreshes it). Roots are the twins no relationship
// targets; a twin's children are the targets of its outgoing relationships (twins/forest.js).
//
// A twin with several parents is shown once, where it is reached by the fewest relationships
// that are not containment (has*, contains*, includes*: plant hasLine line-1 wins over
// battery-1 supplies line-1); its other parents show a reference row to it. Twins without any
// relationship are listed under "Not connected".
import { api, boot, el, fmt, follow, severityBadge, statusBadge } from "/ui/static/app.js";
import { CONTAINMENT, buildForest } from "/ui/static/twins/forest.js";
import { graphView } from "/ui/static/twins/graph.js";

const MANY = 100;        // more twins than this: collapse below depth 2 at first
const OPEN_DEPTH = 2;    // ... i.e. show depths 0, 1 and 2
const NOT_CONNECTED = "\u0000not-connected";  // a key no twin id can be
const DEPTHS = [1, 2, 3, 4];  // relationships from the focus the graph view shows

function matcher(query) {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  return (twin) => [twin.id, twin.model, fmt.model(twin.model), twin.name, twin.displayName]
    .some((text) => typeof text === "string" && text.toLowerCase().includes(q));
}

// text with the query's occurrences in <mark>
function highlight(text, query) {
  const q = query.trim().toLowerCase();
  if (!q || !text) return text;
  const lower = text.toLowerCase();
  const parts = [];
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    if (i > at) parts.push(text.slice(at, i));
    parts.push(el("mark", {}, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  parts.push(text.slice(at));
  return parts;
}

boot("/ui/twins", async (main) => {
  const params = new URLSearchParams(location.search);
  // the feed first (it starts with new events), so a change while the graph loads is not lost
  let ready = false;
  let stale = false;
  let pending = null;
  follow([["type", "alert.raised"], ["type", "alert.cleared"], ["type", "twin.created"],
          ["type", "twin.deleted"], ["type", "relationship.created"], ["type", "relationship.deleted"]], () => {
    if (ready) refresh(); else stale = true;
  });
  let graph = await api("/ui/api/graph");
  let forest = buildForest(graph);
  const expanded = new Set();   // when not searching
  const collapsed = new Set();  // when searching: ancestors the user folded
  let query = params.get("q") || "";
  let view = params.get("view") === "graph" ? "graph" : "tree";
  let focus = params.get("focus");
  let depth = DEPTHS.includes(Number(params.get("depth"))) ? Number(params.get("depth")) : 2;
  const wholeLayers = new Set();  // graph layers shown whole ("+N more" clicked)

  const defaults = () => {
    expanded.clear();
    const limit = graph.twins.length > MANY ? OPEN_DEPTH : Infinity;
    for (const [id, d] of forest.depth) if (d < limit) expanded.add(id);
    expanded.add(NOT_CONNECTED);
  };
  defaults();

  const search = el("input", { id: "tree-search", type: "search", value: query,
                               placeholder: "Filter by id, model or name", "aria-label": "Filter twins" });
  const counts = el("p", { class: "muted counts", id: "counts" });
  const tree = el("div", { class: "tree", id: "tree" });
  const graphBox = el("div", { id: "graph-view" });
  const viewButtons = [["tree", "Tree"], ["graph", "Graph"]].map(([key, label]) => el("button", {
    type: "button", class: "secondary view", id: `view-${key}`, dataset: { view: key },
    onclick: () => { view = key; wholeLayers.clear(); remember(); render(); } }, label));
  const depthSelect = el("select", { id: "graph-depth", "aria-label": "Relationships from the twin",
    onchange: () => { depth = Number(depthSelect.value); remember(); render(); } },
  DEPTHS.map((d) => el("option", { value: d, selected: d === depth }, `${d} relationship${d > 1 ? "s" : ""} away`)));
  const treeTools = el("span", { class: "row tree-tools" });
  const graphTools = el("span", { class: "row graph-tools" }, el("label", {}, "Show ", depthSelect));
  const headerSearch = document.querySelector("header.top input[name=q]");
  if (headerSearch) headerSearch.value = query;
  main.replaceChildren(
    el("h1", {}, "Twins"),
    el("div", { class: "card" },
      el("div", { class: "row toolbar" }, search,
        el("span", { class: "views", role: "group", "aria-label": "View" }, viewButtons), treeTools, graphTools,
        counts),
      tree, graphBox));
  treeTools.append(
        el("button", { class: "secondary", id: "expand-all", type: "button", onclick: () => {
          if (query) collapsed.clear();
          else for (const id of forest.depth.keys()) expanded.add(id);
          render();
        } }, "Expand all"),
        el("button", { class: "secondary", id: "collapse-all", type: "button", onclick: () => {
          if (query) for (const id of forest.depth.keys()) collapsed.add(id);
          else expanded.clear();
          render();
        } }, "Collapse all"));

  let shown = null;  // searching: the matches and their ancestors
  let matches = null;

  function isOpen(id) {
    return query ? !collapsed.has(id) : expanded.has(id);
  }

  function visibleKids(id) {
    const kids = forest.children.get(id) || [];
    return shown ? kids.filter((k) => shown.has(k.id)) : kids;
  }

  // references to twins shown elsewhere (not while searching: only matches count then)
  const visibleRefs = (id) => (shown ? [] : forest.refs.get(id) || []);

  function row(id, rel, labelled) {
    const twin = forest.twins.get(id);
    const kids = visibleKids(id);
    const expandable = kids.length > 0 || visibleRefs(id).length > 0;
    const open = expandable && isOpen(id);
    const li = el("li", { dataset: { twin: id }, class: matches?.has(id) ? "match" : null });
    const toggle = expandable
      ? el("button", { class: "toggle", type: "button", "aria-expanded": String(open),
                       "aria-label": `${open ? "Collapse" : "Expand"} ${id}`, dataset: { toggle: id } },
          open ? "▾" : "▸")
      : el("span", { class: "toggle" });
    const name = twin.name || twin.displayName;
    li.append(el("div", { class: "node" },
      toggle,
      labelled && rel ? el("span", { class: "rel" }, rel.name) : null,
      el("a", { href: `/ui/twins/${encodeURIComponent(id)}`, class: "id" }, highlight(id, query)),
      name && name !== id ? el("span", { class: "name" }, highlight(String(name), query)) : null,
      el("span", { class: "model", title: twin.model }, highlight(fmt.model(twin.model), query)),
      statusBadge(twin.status),
      twin.alerts ? el("span", { class: "alerts", title: `${twin.alerts} open alert(s)` },
        severityBadge(twin.severity), ` ${twin.alerts} open`) : null));
    if (open) li.append(list(id));
    return li;
  }

  function list(id) {
    const kids = visibleKids(id);
    const names = new Set(kids.map((k) => k.rel.name));
    const labelled = names.size > 1 || kids.some((k) => !CONTAINMENT.test(k.rel.name));
    const ul = el("ul");
    for (const k of kids) ul.append(row(k.id, k.rel, labelled));
    for (const r of visibleRefs(id)) {
      const home = forest.parent.get(r.target);
      ul.append(el("li", { class: "ref", dataset: { ref: r.target } },
        el("div", { class: "node" }, el("span", { class: "toggle" }, "↳"),
          el("span", { class: "rel" }, r.name),
          el("a", { href: `/ui/twins/${encodeURIComponent(r.target)}` }, r.target),
          el("span", { class: "muted" }, home ? `(shown under ${home})` : "(a root)"))));
    }
    return ul;
  }

  // the view, the focus and the depth in the address, so a link or a reload shows the same
  function remember() {
    const url = new URL(location.href);
    const set = (key, value) => (value ? url.searchParams.set(key, value) : url.searchParams.delete(key));
    set("q", query.trim());
    set("view", view === "graph" ? "graph" : null);
    set("focus", view === "graph" ? focus : null);
    set("depth", view === "graph" && depth !== 2 ? String(depth) : null);
    history.replaceState(null, "", url);
  }

  function render() {
    for (const button of viewButtons) button.classList.toggle("active", button.dataset.view === view);
    treeTools.hidden = view !== "tree";
    graphTools.hidden = view !== "graph";
    tree.hidden = view !== "tree";
    graphBox.hidden = view !== "graph";
    if (view === "graph") renderGraph(); else renderTree();
  }

  // the graph around the focus (the largest root at first); a search that finds one twin moves
  // the focus to it, more matches are offered as links
  function renderGraph() {
    const match = matcher(query);
    const found = match ? graph.twins.filter(match).map((t) => t.id) : [];
    if (found.length === 1 && found[0] !== focus) { focus = found[0]; wholeLayers.clear(); remember(); }
    if (!focus || !forest.twins.has(focus)) focus = forest.roots[0] ?? forest.loose[0] ?? null;
    if (!focus) {
      graphBox.replaceChildren(el("p", { class: "muted" }, "No twins yet."));
      counts.textContent = "0 twins";
      return;
    }
    const shown = graphView(graph, forest, {
      focus, depth, expanded: wholeLayers, matches: match ? new Set(found) : null,
      width: Math.max(640, graphBox.clientWidth || main.clientWidth || 1200),
    }, {
      focus: (id) => { focus = id; wholeLayers.clear(); remember(); render(); },
      more: (layer) => { wholeLayers.add(layer); render(); },
    });
    const twin = forest.twins.get(focus);
    const offer = found.length > 1 ? el("p", { class: "matches", id: "graph-matches" },
      `${found.length} twins match: `, found.slice(0, 12).map((id) => el("button", { type: "button", class: "link",
        dataset: { focus: id }, onclick: () => { focus = id; wholeLayers.clear(); remember(); render(); } }, id)),
      found.length > 12 ? ` and ${found.length - 12} more` : "") : null;
    graphBox.replaceChildren(...[
      el("div", { class: "row graph-head", id: "graph-focus", dataset: { focus } },
        el("span", {}, "Around ", el("strong", {}, focus), " ", el("span", { class: "muted" }, fmt.model(twin.model))),
        statusBadge(twin.status),
        el("a", { href: `/ui/twins/${encodeURIComponent(focus)}`, id: "open-focus" }, "Open its page →"),
        el("span", { class: "muted small" }, "Click a twin to centre on it, double-click to open it.")),
      offer, shown.node].filter(Boolean));
    const total = graph.twins.length;
    counts.textContent = `${shown.shown} of ${total} twins, ${shown.edges} relationships shown`
      + (shown.hidden ? ` (${shown.hidden} more nearby)` : "")
      + (graph.truncated ? " (the first only: the graph is truncated)" : "");
  }

  function renderTree() {
    const match = matcher(query);
    if (match) {
      matches = new Set(graph.twins.filter(match).map((t) => t.id));
      shown = new Set();
      for (const id of matches) {
        for (let at = id; at !== undefined && !shown.has(at); at = forest.parent.get(at)) shown.add(at);
      }
    } else {
      matches = null;
      shown = null;
    }
    const fragment = document.createDocumentFragment();
    const top = el("ul");
    for (const id of forest.roots) if (!shown || shown.has(id)) top.append(row(id, null, false));
    const loose = forest.loose.filter((id) => !shown || shown.has(id));
    if (loose.length) {
      const open = query ? !collapsed.has(NOT_CONNECTED) : expanded.has(NOT_CONNECTED);
      const group = el("li", { class: "group", dataset: { group: "not-connected" } },
        el("div", { class: "node" },
          el("button", { class: "toggle", type: "button", "aria-expanded": String(open),
                         dataset: { toggle: NOT_CONNECTED } }, open ? "▾" : "▸"),
          el("strong", {}, "Not connected"), el("span", { class: "muted" }, `${loose.length} twins`)));
      if (open) group.append(el("ul", {}, loose.map((id) => row(id, null, false))));
      top.append(group);
    }
    fragment.append(top);
    if (match && !matches.size) fragment.append(el("p", { class: "muted" }, `No twin matches “${query}”.`));
    tree.replaceChildren(fragment);

    const total = graph.twins.length;
    const alerts = graph.twins.reduce((n, t) => n + (t.alerts || 0), 0);
    const faults = graph.twins.filter((t) => t.status === "fault").length;
    counts.textContent = `${matches ? `${matches.size} of ` : ""}${total} twin${total === 1 ? "" : "s"}`
      + `${matches ? " match" : ""}, ${alerts} open alert${alerts === 1 ? "" : "s"}`
      + (faults ? `, ${faults} in fault` : "")
      + (graph.truncated ? " (the first only: the graph is truncated)" : "");
  }

  tree.addEventListener("click", (event) => {
    const button = event.target.closest("button.toggle");
    if (!button) return;
    const id = button.dataset.toggle;
    if (query) { if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id); }
    else if (expanded.has(id)) expanded.delete(id);
    else expanded.add(id);
    // redraw only this row: its subtree is built once, in one pass
    const li = button.closest("li");
    if (id === NOT_CONNECTED) { render(); return; }
    const parentRel = forest.parent.has(id)
      ? forest.children.get(forest.parent.get(id)).find((k) => k.id === id).rel : null;
    const labelled = li.querySelector(":scope > .node > .rel") !== null;
    const fresh = row(id, parentRel, labelled);
    li.replaceWith(fresh);
    fresh.querySelector("button.toggle")?.focus();
  });

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      query = search.value;
      collapsed.clear();
      remember();
      if (headerSearch) headerSearch.value = query;
      render();
    }, 120);
  });

  // the graph again (debounced), keeping what is expanded; new twins open as the defaults say
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      try {
        graph = await api("/ui/api/graph");
        const before = new Set(forest.twins.keys());
        forest = buildForest(graph);
        const limit = graph.twins.length > MANY ? OPEN_DEPTH : Infinity;
        for (const [id, d] of forest.depth) if (!before.has(id) && d < limit) expanded.add(id);
        render();
      } catch (error) {
        console.error(error);
      }
    }, 500);
  }

  render();
  ready = true;
  if (stale) refresh();
});
