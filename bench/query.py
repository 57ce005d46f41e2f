"""Twin-graph query latency on a 100,000-twin plant graph, beside a published peer figure.

    python bench/query.py [--twins 100000] [--store sqlite|postgres|both] [--runs 50]

Builds plants -> lines -> machines -> sensors (``contains`` relationships, one per twin below a
plant; sensor temperatures and kinds varied with a fixed seed), bulk-loaded through the store's
transaction API, then times three queries through ``TwinService.query`` (first page, 100 rows),
each ``--runs`` times after a warm-up:

  (a) model + property filter: IS_OF_MODEL(sensor) AND temperature > 95 AND kind = 'vibration'
  (b) 2-hop JOIN: line -> machines -> sensors of one line, temperature > 90
  (c) 3-hop MATCH: (plant)-[:contains*3]->(sensor) of one plant, temperature > 99

Prints p50/p95 in milliseconds and the row counts (first page, and COUNT() of all matches), a
table and one JSON line. The peer: Stellio (NGSI-LD context broker) answers a type-and-property
query at about 32 requests/s with p95 1.44 s at 100k entities (published figure, not re-run
here). PostgreSQL is at HOLOTWIN_PG_DSN (default postgresql://postgres@127.0.0.1:5432/test), in a
schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from holotwin.clock import ManualClock
from holotwin.service import TwinService
from holotwin.store.base import Store, TwinRecord

PG_DSN = os.environ.get("HOLOTWIN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NS = "dtmi:bench:"
PLANT, LINE, MACHINE, SENSOR = (f"{NS}{n};1" for n in ("Plant", "Line", "Machine", "Sensor"))
STELLIO = {"requests_per_s": 32, "p95_ms": 1440, "entities": 100_000,
           "query": "type and property filter"}


def _model(dtmi: str, props: list[tuple[str, str]], target: str | None) -> dict[str, Any]:
    contents: list[dict[str, Any]] = [
        {"@type": "Property", "name": n, "schema": s} for n, s in props]
    if target:
        contents.append({"@type": "Relationship", "name": "contains", "target": target})
    return {"@id": dtmi, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": contents}


MODELS = [
    _model(SENSOR, [("temperature", "double"), ("kind", "string"), ("ok", "boolean")], None),
    _model(MACHINE, [("serial", "string"), ("speed", "double")], SENSOR),
    _model(LINE, [("name", "string")], MACHINE),
    _model(PLANT, [("name", "string"), ("site", "string")], LINE),
]

QUERIES = {
    "a_model_property": (
        f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{SENSOR}') "
        "AND T.temperature > 95 AND T.kind = 'vibration'"),
    "b_join_2hop": (
        "SELECT M.$dtId AS machine, S.$dtId AS sensor, S.temperature FROM DIGITALTWINS L "
        "JOIN M RELATED L.contains JOIN S RELATED M.contains "
        "WHERE L.$dtId = 'line-3-4' AND S.temperature > 90"),
    "c_match_3hop": (
        "SELECT s.$dtId AS sensor, s.temperature FROM DIGITALTWINS "
        "MATCH (p)-[:contains*3]->(s) WHERE p.$dtId = 'plant-3' AND s.temperature > 99"),
}
KINDS = ["temperature", "vibration", "pressure", "current"]


def _doc(twin_id: str, model: str, props: dict[str, Any], now: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"$model": model, "$lastUpdateTime": now, "$revision": 1}
    meta.update({k: {"lastUpdateTime": now} for k in props})
    return {"$dtId": twin_id, "$metadata": meta, **props}


def shape(total: int) -> tuple[int, int, int, int]:
    """(plants, lines per plant, machines per line, sensors per machine) for ~total twins."""
    plants, lines, machines = 10, 10, 20
    fixed = plants + plants * lines + plants * lines * machines
    sensors = max(1, -(-(total - fixed) // (plants * lines * machines)))  # round up
    return plants, lines, machines, sensors


def build(store: Store, total: int) -> int:
    rng = random.Random(42)
    plants, lines, machines, sensors = shape(total)
    now = "2025-01-01T00:00:00Z"
    twins: list[TwinRecord] = []
    rels: list[dict[str, Any]] = []

    def twin(twin_id: str, model: str, props: dict[str, Any]) -> None:
        twins.append(TwinRecord(twin_id, model, f'W/"{twin_id}"', 1,
                                _doc(twin_id, model, props, now), 1.7e9))

    def contains(source: str, target: str) -> None:
        rels.append({"$relationshipId": f"c-{target}", "$sourceId": source, "$targetId": target,
                     "$relationshipName": "contains", "$etag": f'W/"r-{target}"'})

    for p in range(plants):
        pid = f"plant-{p}"
        twin(pid, PLANT, {"name": f"Plant {p}", "site": rng.choice(["north", "south"])})
        for li in range(lines):
            lid = f"line-{p}-{li}"
            twin(lid, LINE, {"name": f"Line {p}.{li}"})
            contains(pid, lid)
            for m in range(machines):
                mid = f"machine-{p}-{li}-{m}"
                twin(mid, MACHINE, {"serial": f"SN{p}{li:02d}{m:02d}",
                                    "speed": round(rng.uniform(0, 3000), 1)})
                contains(lid, mid)
                for s in range(sensors):
                    sid = f"sensor-{p}-{li}-{m}-{s}"
                    twin(sid, SENSOR, {"temperature": round(rng.uniform(0, 100), 2),
                                       "kind": rng.choice(KINDS), "ok": rng.random() > 0.1})
                    contains(mid, sid)
    chunk = 5000
    started = time.perf_counter()
    for i in range(0, len(twins), chunk):
        with store.transaction() as tx:
            for record in twins[i:i + chunk]:
                tx.put_twin(record)
            for rel in rels[i:i + chunk]:
                tx.put_relationship(rel)
        done = min(i + chunk, len(twins))
        print(f"\r  loaded {done:,}/{len(twins):,} twins and their relationships "
              f"({time.perf_counter() - started:.1f} s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return len(twins)


def measure(service: TwinService, runs: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, text in QUERIES.items():
        for _ in range(5):  # warm-up: caches, prepared plans
            service.query(text)
        times = []
        rows: list[dict[str, Any]] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            rows, _token = service.query(text)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        count_text = "SELECT COUNT() " + text[text.index(" FROM "):]
        total = service.query(count_text)[0][0]["COUNT"]
        results[name] = {
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
            "rows_first_page": len(rows),
            "rows_total": total,
            "runs": runs,
        }
    return results


def run_store(kind: str, total: int, runs: int) -> dict[str, Any]:
    print(f"{kind}: building {total:,} twins ...", file=sys.stderr)
    tmp = tempfile.TemporaryDirectory()
    store: Store
    if kind == "sqlite":
        from holotwin.store.sqlite import SqliteStore

        store = SqliteStore(Path(tmp.name) / "bench.db")
    else:
        from holotwin.store.postgres import PostgresStore

        store = PostgresStore(PG_DSN, schema=f"bench_query_{os.getpid()}")
    try:
        service = TwinService(store, ManualClock(1.7e9))
        service.add_models(MODELS)
        twins = build(store, total)
        if kind == "postgres":
            with store._write() as cur:  # type: ignore[attr-defined]
                cur.execute("ANALYZE")
        results = measure(service, runs)
        return {"store": kind, "twins": twins, "queries": results}
    finally:
        if kind == "postgres":
            store.drop_schema()  # type: ignore[attr-defined]
        else:
            store.close()
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if args.runs < 50:
        parser.error("--runs must be at least 50")
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    report = [run_store(k, args.twins, args.runs) for k in kinds]
    print(f"\nholotwin query latency, {platform.machine()} {platform.system()}, "
          f"Python {platform.python_version()}, first page of 100 rows, {args.runs} runs\n")
    print(f"{'store':9} {'query':18} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6} {'total':>7}")
    for r in report:
        for name, q in r["queries"].items():
            print(f"{r['store']:9} {name:18} {q['p50_ms']:8.2f} {q['p95_ms']:8.2f} "
                  f"{q['rows_first_page']:6d} {q['rows_total']:7d}")
    print(f"{'Stellio':9} {'type+property':18} {'':>8} {STELLIO['p95_ms']:8.0f}   "
          f"(~{STELLIO['requests_per_s']} req/s at {STELLIO['entities']:,} entities, "
          "published figure, NGSI-LD)")
    sqlite = next((r for r in report if r["store"] == "sqlite"), None)
    if sqlite:
        a = sqlite["queries"]["a_model_property"]["p50_ms"]
        c = sqlite["queries"]["c_match_3hop"]["p50_ms"]
        print(f"\ntargets on SQLite: (a) p50 {a:.2f} ms < 20 ms: {'met' if a < 20 else 'MISSED'};"
              f" (c) p50 {c:.2f} ms < 100 ms: {'met' if c < 100 else 'MISSED'}")
        print(f"Stellio p95 / holotwin SQLite (a) p95: "
              f"{STELLIO['p95_ms'] / sqlite['queries']['a_model_property']['p95_ms']:.0f}x")
    print(json.dumps({"bench": "query", "twins": args.twins, "runs": args.runs,
                      "results": report, "peer": {"stellio": STELLIO}}))


if __name__ == "__main__":
    main()
