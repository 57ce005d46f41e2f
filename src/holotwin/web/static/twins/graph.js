// The graph view of /ui/twins: the twins around one twin (the focus) as a node-link diagram,
// in SVG. A plant of hundreds of twins is unreadable drawn whole, so the view shows the focus
// and what is within `depth` relationships of it, either way; clicking a twin moves the focus
// there, double-clicking (or the header's link) opens its page.
//
// Layout: layers by the forest's depth (the plant on top, its lines below, then machines), each
// layer ordered by where its neighbours above are (fewer crossings) and wrapped into rows when
// it is wide; a layer of more than MAX_LAYER twins shows the first ones and a "+N more" node.
// Containment relationships are plain lines; others are dashed, with their name.
import { el, fmt } from "/ui/static/app.js";
import { CONTAINMENT, natural } from "/ui/static/twins/forest.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 156, H = 42;        // a node's box
const GAP_X = 18, GAP_Y = 26; // between boxes in a row, between rows of a layer
const LAYER_GAP = 70;         // between layers (room for the edges and their names)
const PAD = 24;
export const MAX_LAYER = 60;
const FILL = { running: "#dcfce7", idle: "#fef3c7", fault: "#fee2e2" };
const STROKE = { running: "#15803d", idle: "#b45309", fault: "#b91c1c" };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

// the twins within `depth` relationships of `focus` (either direction), and their relationships
export function neighbourhood(graph, forest, focus, depth) {
  const near = new Map();  // id -> [relationship]
  for (const r of graph.relationships) {
    if (!forest.twins.has(r.source) || !forest.twins.has(r.target)) continue;
    for (const id of [r.source, r.target]) {
      if (!near.has(id)) near.set(id, []);
      near.get(id).push(r);
    }
  }
  const hops = new Map([[focus, 0]]);
  let frontier = [focus];
  for (let d = 1; d <= depth && frontier.length; d++) {
    const next = [];
    for (const id of frontier) {
      for (const r of near.get(id) || []) {
        const other = r.source === id ? r.target : r.source;
        if (!hops.has(other)) { hops.set(other, d); next.push(other); }
      }
    }
    frontier = next;
  }
  const edges = graph.relationships.filter((r) => hops.has(r.source) && hops.has(r.target)
    && r.source !== r.target);
  return { hops, edges };
}

// positions: id -> {x, y} (the box's top left), and the "+N more" nodes
function layout(forest, hops, edges, focus, expanded, width) {
  const byLayer = new Map();
  for (const id of hops.keys()) {
    const d = forest.depth.get(id) ?? 0;
    if (!byLayer.has(d)) byLayer.set(d, []);
    byLayer.get(d).push(id);
  }
  const upper = new Map();  // id -> neighbours in layers above
  for (const r of edges) {
    const ds = forest.depth.get(r.source) ?? 0, dt = forest.depth.get(r.target) ?? 0;
    if (ds === dt) continue;
    const [top, bottom] = ds < dt ? [r.source, r.target] : [r.target, r.source];
    if (!upper.has(bottom)) upper.set(bottom, []);
    upper.get(bottom).push(top);
  }
  const perRow = Math.max(1, Math.floor((width - 2 * PAD + GAP_X) / (W + GAP_X)));
  const order = new Map();  // id -> its place in its layer (for the barycentres below it)
  const pos = new Map();
  const more = [];
  let y = PAD;
  for (const d of [...byLayer.keys()].sort((a, b) => a - b)) {
    const key = (id) => {
      const above = (upper.get(id) || []).filter((u) => order.has(u));
      return above.length ? above.reduce((s, u) => s + order.get(u), 0) / above.length : Infinity;
    };
    let ids = byLayer.get(d).map((id) => [id, key(id)])
      .sort((a, b) => (a[1] - b[1]) || natural(a[0], b[0])).map(([id]) => id);
    if (ids.length > MAX_LAYER && !expanded.has(d)) {
      // keep the focus and the twins nearest to it
      const kept = ids.filter((id) => id === focus || hops.get(id) <= 1).slice(0, MAX_LAYER);
      for (const id of ids) if (kept.length < MAX_LAYER && !kept.includes(id)) kept.push(id);
      const keep = new Set(kept);
      more.push({ layer: d, count: ids.length - kept.length });
      ids = ids.filter((id) => keep.has(id));
    }
    ids.forEach((id, i) => order.set(id, i));
    const cells = ids.length + (more.at(-1)?.layer === d ? 1 : 0);
    const rows = Math.ceil(cells / perRow);
    for (let row = 0; row < rows; row++) {
      const inRow = Math.min(perRow, cells - row * perRow);
      const x0 = (width - inRow * W - (inRow - 1) * GAP_X) / 2;
      for (let k = 0; k < inRow; k++) {
        const at = { x: Math.max(PAD, x0) + k * (W + GAP_X), y: y + row * (H + GAP_Y) };
        const i = row * perRow + k;
        if (i < ids.length) pos.set(ids[i], at);
        else more.at(-1).at = at;
      }
    }
    y += rows * (H + GAP_Y) - GAP_Y + LAYER_GAP;
  }
  const right = Math.max(...[...pos.values(), ...more.map((m) => m.at)].map((p) => p.x + W), width - PAD);
  return { pos, more, width: right + PAD, height: y - LAYER_GAP + PAD };
}

function edgePath(a, b) {
  if (b.y > a.y + H / 2) {  // downwards: bottom centre to top centre
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    const bend = (y2 - y1) / 2;
    return { d: `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`, mid: [(x1 + x2) / 2, (y1 + y2) / 2] };
  }
  if (a.y > b.y + H / 2) {  // upwards: top centre to bottom centre
    const x1 = a.x + W / 2, y1 = a.y, x2 = b.x + W / 2, y2 = b.y + H;
    const bend = (y1 - y2) / 2;
    return { d: `M${x1},${y1} C${x1},${y1 - bend} ${x2},${y2 + bend} ${x2},${y2}`, mid: [(x1 + x2) / 2, (y1 + y2) / 2] };
  }
  // the same row: an arc below the boxes
  const [l, r] = a.x < b.x ? [a, b] : [b, a];
  const x1 = l.x + W / 2, x2 = r.x + W / 2, y1 = l.y + H, sag = 24 + Math.min(60, (x2 - x1) / 8);
  return { d: `M${x1},${y1} C${x1},${y1 + sag} ${x2},${y1 + sag} ${x2},${y1}`, mid: [(x1 + x2) / 2, y1 + sag * 0.75] };
}

// the view: {node, focus}; `on.focus(id)` moves the focus, `on.more(layer)` shows a layer whole
export function graphView(graph, forest, { focus, depth, expanded, matches, width }, on) {
  const { hops, edges } = neighbourhood(graph, forest, focus, depth);
  const { pos, more, width: w, height: h } = layout(forest, hops, edges, focus, expanded, width);
  const edgeLayer = svg("g", { class: "edges" });
  const labelLayer = svg("g", { class: "edge-labels" });
  let drawn = 0;
  for (const r of edges) {
    const a = pos.get(r.source), b = pos.get(r.target);
    if (!a || !b) continue;
    drawn++;
    const plain = CONTAINMENT.test(r.name);
    const { d, mid } = edgePath(a, b);
    edgeLayer.append(svg("path", { d, class: plain ? "edge" : "edge other", "marker-end": "url(#arrow)",
                                   dataset: { source: r.source, target: r.target, rel: r.name } },
      svg("title", {}, `${r.source} ${r.name} → ${r.target}`)));
    if (!plain) {
      labelLayer.append(svg("text", { x: mid[0], y: mid[1], class: "edge-label", "text-anchor": "middle" }, r.name));
    }
  }
  const nodeLayer = svg("g", { class: "nodes" });
  for (const [id, p] of pos) {
    const twin = forest.twins.get(id);
    const status = typeof twin.status === "string" ? twin.status : null;
    const classes = ["twin-node", id === focus ? "focus" : "", matches?.has(id) ? "match" : ""].filter(Boolean);
    const g = svg("g", { class: classes.join(" "), transform: `translate(${p.x},${p.y})`, tabindex: 0,
                         role: "button", "aria-label": `${id}: ${fmt.model(twin.model)}${status ? `, ${status}` : ""}`,
                         dataset: { twin: id, hops: hops.get(id) } },
      svg("title", {}, `${id}\n${twin.model}${status ? `\nstatus: ${status}` : ""}`
        + `${twin.alerts ? `\n${twin.alerts} open alert(s), ${twin.severity}` : ""}\nclick: centre here · double-click: open`),
      svg("rect", { width: W, height: H, rx: 7, fill: FILL[status] || "#ffffff", stroke: STROKE[status] || "#9ca3af" }),
      svg("text", { x: 10, y: 17, class: "node-id" }, clip(id, 21)),
      svg("text", { x: 10, y: 33, class: "node-model" }, clip(`${fmt.model(twin.model)}${status ? ` · ${status}` : ""}`, 26)));
    if (twin.alerts) {
      g.append(svg("g", { class: `node-alerts ${twin.severity || "warning"}`, transform: `translate(${W - 4},2)` },
        svg("circle", { r: 9 }), svg("text", { y: 4, "text-anchor": "middle" }, String(twin.alerts))));
    }
    nodeLayer.append(g);
  }
  for (const m of more) {
    nodeLayer.append(svg("g", { class: "more-node", transform: `translate(${m.at.x},${m.at.y})`, tabindex: 0,
                                role: "button", dataset: { layer: m.layer } },
      svg("rect", { width: W, height: H, rx: 7 }),
      svg("text", { x: W / 2, y: 26, "text-anchor": "middle" }, `+${m.count} more: show all`)));
  }
  const picture = svg("svg", { id: "graph-svg", width: w, height: h, viewBox: `0 0 ${w} ${h}`,
                               role: "img", "aria-label": `The twins around ${focus}` },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                                    markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }))),
    edgeLayer, labelLayer, nodeLayer);

  const act = (event, open) => {
    const node = event.target.closest("g.twin-node, g.more-node");
    if (!node) return;
    if (node.classList.contains("more-node")) on.more(Number(node.dataset.layer));
    else if (open) location.href = `/ui/twins/${encodeURIComponent(node.dataset.twin)}`;
    else if (node.dataset.twin !== focus) on.focus(node.dataset.twin);
  };
  picture.addEventListener("click", (event) => act(event, false));
  picture.addEventListener("dblclick", (event) => act(event, true));
  picture.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); act(event, event.key === "Enter" && event.shiftKey); }
  });
  const hidden = hops.size - pos.size;
  return {
    node: el("div", { class: "graph-scroll", id: "graph" }, picture),
    shown: pos.size, total: hops.size, edges: drawn, hidden,
  };
}
