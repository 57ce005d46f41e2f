// The twin graph as a forest (used by the tree and the graph view of /ui/twins): roots are the
// twins no relationship targets; a twin's children are the targets of its outgoing
// relationships. A twin with several parents is placed once, where it is reached by the fewest
// relationships that are not containment (has*, contains*, includes*: plant hasLine line-1 wins
// over battery-1 supplies line-1); its other parents hold a reference to it.

export const CONTAINMENT = /^(has|contains|includes|consistsOf|parts?$|children$|members?$)/i;

export const natural = new Intl.Collator("en", { numeric: true, sensitivity: "base" }).compare;

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
