"""The analytics engine against the ingestion it follows: can it keep up on the same core?

    python bench/analytics.py [--twins 200] [--readings 300] [--batch 50] [--store sqlite]
                              [--repeat 3]

The work: ``--twins`` twins of one model receive ``--readings`` readings each of two signals
(temperature and pressure, one reading a second, the oven heats up and one twin in ten
overheats), written as ingestion writes them: batches of ``--batch`` messages per twin through
``TwinService.write_telemetry`` (one transaction per batch, its telemetry events). That write
is the peer: the time the platform spends taking the readings in.

Then the engine (``AnalyticsEngine.run_once``, run after each ingestion round, as it runs
live) with, on the model:

- one detector: ``ewma`` on the temperature (a score and a flag stored per reading);
- three rules: a threshold with a duration and hysteresis (``temperature > 80`` for 10 s,
  cleared under 75), a rate of change over a window (``rate(temperature, 30) > 1``), and a
  condition on the detector's flag (``anomaly.temp.flag == 1``).

It reports the readings the engine handled per second of its own time, and the ratio of its
time to the ingestion writes' time: what analytics costs on top of taking the readings in
(the engine reads the readings back, evaluates the rules at every reading's time, and writes
two telemetry points, score and flag, per scored reading). Both on a SQLite file (``--store sqlite``, default) or PostgreSQL
(``--store postgres``, ``HOLOTWIN_PG_DSN``), the median of ``--repeat`` rounds, each on a
fresh store. Checks that the expected alerts were raised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from holotwin.clock import ManualClock
from holotwin.service import AnalyticsEngine, TwinService
from holotwin.store import SqliteStore, Store
from holotwin.store.base import TelemetryPoint

MODEL = "dtmi:bench:Oven;1"
T0 = 1_700_000_000.0


def _store(kind: str, folder: Path) -> Store:
    if kind == "sqlite":
        return SqliteStore(folder / f"{uuid.uuid4().hex}.db")
    from holotwin.store.postgres import PostgresStore

    dsn = os.environ.get("HOLOTWIN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    return PostgresStore(dsn, schema=f"bench_{uuid.uuid4().hex[:10]}")


def _setup(service: TwinService, twins: int) -> list[str]:
    service.add_models([{"@id": MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                         "contents": [{"@type": "Telemetry", "name": n, "schema": "double"}
                                      for n in ("temperature", "pressure")]}])
    ids = [f"oven-{k:04d}" for k in range(twins)]
    for twin in ids:
        service.put_twin(twin, {"$metadata": {"$model": MODEL}})
    service.put_detector("temp", {"signal": "temperature", "model": MODEL,
                                  "detector": {"kind": "ewma"}})
    service.put_rule("hot", {"condition": "temperature > 80", "clear": "temperature < 75",
                             "for": 10, "model": MODEL})
    service.put_rule("heating-fast", {"condition": "rate(temperature, 30) > 1",
                                      "model": MODEL})
    service.put_rule("unusual", {"condition": "anomaly.temp.flag == 1", "model": MODEL})
    return ids


def _temperature(k: int, second: int) -> float:
    hot = k % 10 == 0
    rise = 1.0 if hot else 0.1
    noise = ((k * 7919 + second * 104729) % 1000) / 1000.0 - 0.5
    return 20.0 + rise * second + noise


def one_round(kind: str, twins: int, readings: int, batch: int, folder: Path
              ) -> dict[str, float]:
    store = _store(kind, folder)
    clock = ManualClock(T0)
    service = TwinService(store, clock)
    try:
        ids = _setup(service, twins)
        engine = AnalyticsEngine(service)
        engine.run_once()
        models = dict.fromkeys(ids, MODEL)
        ingest = analytics = 0.0
        done = 0
        while done < readings:
            n = min(batch, readings - done)
            points = [TelemetryPoint(twin, signal, T0 + s, value)
                      for k, twin in enumerate(ids) for s in range(done, done + n)
                      for signal, value in (("temperature", _temperature(k, s)),
                                            ("pressure", 1.0 + 0.001 * s))]
            clock.advance(n)
            started = time.perf_counter()
            for k in range(0, len(points), 2 * n):  # one batch per twin, as a connector does
                service.write_telemetry(points[k:k + 2 * n], models)
            ingest += time.perf_counter() - started
            started = time.perf_counter()
            engine.run_once()
            analytics += time.perf_counter() - started
            done += n
            print(f"  {done}/{readings} s of readings", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        alerts = service.list_alerts(limit=100_000)
        hot = {a["twinId"] for a in alerts if a["rule"] == "hot"}
        expected = {t for k, t in enumerate(ids) if k % 10 == 0}
        if hot != expected:
            raise SystemExit(f"Wrong 'hot' alerts: {sorted(hot ^ expected)[:5]}")
        return {"ingest": ingest, "analytics": analytics,
                "readings": float(twins * readings * 2), "scored": float(engine.scored),
                "evaluations": float(engine.evaluations), "alerts": float(len(alerts))}
    finally:
        if kind == "postgres":
            store.drop_schema()  # type: ignore[attr-defined]
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", type=int, default=200)
    parser.add_argument("--readings", type=int, default=300)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeat):
            print(f"round {r + 1} of {args.repeat}", file=sys.stderr)
            rounds.append(one_round(args.store, args.twins, args.readings, args.batch,
                                    Path(folder)))
    ingest = statistics.median(r["ingest"] for r in rounds)
    analytics = statistics.median(r["analytics"] for r in rounds)
    first = rounds[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, store {args.store}")
    print(f"{args.twins} twins x {args.readings} s x 2 signals = {first['readings']:,.0f} "
          f"readings; {first['scored']:,.0f} scored, {first['evaluations']:,.0f} rule "
          f"evaluations, {first['alerts']:.0f} alerts")
    print(f"{'':28}{'seconds':>10}{'readings/s':>14}")
    print(f"{'ingestion writes (peer)':28}{ingest:>10.2f}{first['readings'] / ingest:>14,.0f}")
    print(f"{'analytics engine':28}{analytics:>10.2f}{first['readings'] / analytics:>14,.0f}")
    print(f"ratio engine / ingestion writes: {analytics / ingest:.2f} (the engine's time per "
          "reading over the time of the write it follows)")
    print(json.dumps({"store": args.store, "twins": args.twins, "readings": first["readings"],
                      "ingest_s": round(ingest, 3), "analytics_s": round(analytics, 3),
                      "ratio": round(analytics / ingest, 3)}))


if __name__ == "__main__":
    main()
