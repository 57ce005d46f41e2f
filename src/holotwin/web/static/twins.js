// The twin graph (/ui/twins): a tree from GET /ui/api/graph (one request for every twin and
// relationship; the change feed of alerts refreshes it). Roots are the twins no relationship
// targets; a twin's children are the targets of its outgoing relationships.
//
// A twin with several parents is shown once, where it is reached by the fewest relationships
// that are not containment (has*, contains*, includes*: plant hasLine line-1 wins over
// battery-1 supplies line-1); its other parents show a reference row to it. Twins without any
// relationship are listed under "Not connected".
import { api, boot, el, fmt, follow, severityBadge, statusBadge } from "/ui/static/app.js";

const CONTAINMENT = /^(has|contains|includes|consistsOf|parts?$|children$|members?$)/i;
const MANY = 100;        // more twins than this: collapse below depth 2 at first
const OPEN_DEPTH = 2;    // ... i.e. show depths 0, 1 and 2
const NOT_CONNECTED = "\u0000not-connected";  // a key no twin id can be

const natural = new Intl.Collator("en", { numeric: true, sensitivity: "base" }).compare;

// the forest: {twins, children: id -> [{id, rel}], refs: id -> [rel], parent: id -> id,
// roots: [id], loose: [id], depth: id -> n}
export function buildForest(graph) {
  const twins = new Map(graph.twins.map((t) => [t.id, t]));
  const out = new Map();
  const incoming = new Set();
  for (const r of graph.relationships) {
    if (!twins.has(r.source) || !twins.has(r.target) || r.source === r.target) continue;
    if (!out.has(r.source)) out.set(r.source, []);
    out.get(r.source).push(r);
    incoming.add(r.target);
  }
  for (const rels of out.values()) rels.sort((a, b) => natural(a.target, b.target));
  const connected = (id) => out.has(id) || incoming.has(id);

  const cost = new Map();
  const via = new Map();  // id -> the relationship that places it
  const spread = (starts) => {
    // 0-1 breadth-first search: a containment hop costs 0, any other 1
    const deque = [];
    for (const s of starts) { cost.set(s, 0); deque.push(s); }
    while (deque.length) {
      const id = deque.shift();
      for (const r of out.get(id) || []) {
        const step = CONTAINMENT.test(r.name) ? 0 : 1;
        const c = cost.get(id) + step;
        if (!cost.has(r.target) || c < cost.get(r.target)) {
          cost.set(r.target, c);
          via.set(r.target, r);
          if (step === 0) deque.unshift(r.target); else deque.push(r.target);
        }
      }
    }
  };
  const ids = [...twins.keys()].sort(natural);
  const roots = ids.filter((id) => !incoming.has(id) && out.has(id));
  spread(roots);
  // cycles that no root reaches: start each from its smallest id
  for (const id of ids) {
    if (connected(id) && !cost.has(id)) { roots.push(id); spread([id]); }
  }
  // a start never gets a placing relationship (its cost is 0 and only a strictly cheaper
  // path moves a twin), so the placing relationships form a forest under the roots
  const children = new Map();
  const refs = new Map();
  const parent = new Map();
  for (const [id, rel] of via) parent.set(id, rel.source);
  for (const [source, rels] of out) {
    for (const r of rels) {
      const placing = via.get(r.target) === r;
      const list = placing ? children : refs;
      if (!list.has(source)) list.set(source, []);
      list.get(source).push(placing ? { id: r.target, rel: r } : r);
    }
  }
  const depth = new Map();
  const size = new Map();
  const walk = (id, d) => {
    depth.set(id, d);
    let n = 1;
    for (const k of children.get(id) || []) n += walk(k.id, d + 1);
    size.set(id, n);
    return n;
  };
  for (const r of roots) walk(r, 0);
  roots.sort((a, b) => (size.get(b) - size.get(a)) || natural(a, b));
  const loose = ids.filter((id) => !connected(id));
  return { twins, children, refs, parent, roots, loose, depth };
}

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
  const headerSearch = document.querySelector("header.top input[name=q]");
  if (headerSearch) headerSearch.value = query;
  main.replaceChildren(
    el("h1", {}, "Twins"),
    el("div", { class: "card" },
      el("div", { class: "row toolbar" }, search,
        el("button", { class: "secondary", id: "expand-all", type: "button", onclick: () => {
          if (query) collapsed.clear();
          else for (const id of forest.depth.keys()) expanded.add(id);
          render();
        } }, "Expand all"),
        el("button", { class: "secondary", id: "collapse-all", type: "button", onclick: () => {
          if (query) for (const id of forest.depth.keys()) collapsed.add(id);
          else expanded.clear();
          render();
        } }, "Collapse all"),
        counts),
      tree));

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

  function render() {
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
      const url = new URL(location.href);
      if (query.trim()) url.searchParams.set("q", query.trim()); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
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
