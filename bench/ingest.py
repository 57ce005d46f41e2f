"""MQTT ingestion throughput through a real broker, against a ceiling in the same run.

    python bench/ingest.py [--broker 127.0.0.1:1883 | --broker private] [--messages 50000]
                           [--batches 1000 --batch-size 500] [--publishers 2]
                           [--pg-dsn postgresql://postgres@127.0.0.1:5432/test]

Two streams go through the broker, each to three consumers in turn, each consumer in its own
process and fed by the same publisher processes (QoS 1, up to --inflight un-acknowledged each):
- single: --messages messages of one reading each (figure: messages/s);
- batched: --batches messages of --batch-size readings each (figure: readings/s).
Consumers:
- ceiling: a bare paho subscriber that counts messages (QoS 1, manual ack at once, no work);
- holotwin on SQLite: ``holotwin ingest`` into a fresh data directory;
- holotwin on PostgreSQL: ``holotwin ingest --store`` into a fresh database (skipped, with a
  note, when the server does not answer).
Every rate is counted from the first publish to the last message received (ceiling) or the
last reading committed (holotwin: when its progress line, printed every 0.1 s from counts
taken after each commit, first shows them all; so up to about 0.1 s late). Publishers report their own rate (first publish to last
PUBACK) so that a publisher-bound ceiling shows. Ends with a table and a JSON line.

A broker drops QoS 1 messages for a subscriber whose queue is full (Mosquitto's default
``max_queued_messages`` is 1000), so a consumer slower than the publishers loses messages there
before holotwin could see them; such rows say "LOST" and their rates mean nothing.
``--broker private`` runs a private Mosquitto on a free port with no queue limit instead.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000.0
MACHINE = "dtmi:bench:Machine;1"
MODEL = {
    "@id": MACHINE, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
    "contents": [
        {"@type": "Property", "name": "serial", "schema": "string"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
    ],
}
TARGET_SQLITE_RATIO = 0.8
TARGET_BATCHED_READINGS = 100_000


# roles run in child processes -----------------------------------------------------------------
def _client(client_id: str, **kwargs: Any) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                       protocol=mqtt.MQTTv5, **kwargs)


def payloads(kind: str, first: int, count: int, batch_size: int, twins: int) -> list[
        tuple[str, bytes]]:
    """(topic suffix, payload) of messages first..first+count; every reading has its own
    (twin, source time)."""
    out = []
    for k in range(first, first + count):
        twin = f"m{k % twins}"
        if kind == "single":
            body: Any = {"ts": T0 + k, "temperature": float(k % 1000)}
        else:
            body = {"rows": [{"ts": T0 + k * batch_size + j, "temperature": float(j)}
                             for j in range(batch_size)]}
        out.append((f"{twin}/{kind}", json.dumps(body, separators=(",", ":")).encode()))
    return out


def role_publish(args: argparse.Namespace) -> None:
    messages = payloads(args.kind, args.first, args.count, args.batch_size, args.twins)
    done = threading.Event()
    acked = 0

    def on_publish(client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == len(messages):
            done.set()

    client = _client(f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(args.inflight)
    client.on_publish = on_publish
    host, port = args.broker.rsplit(":", 1)
    client.connect(host, int(port))
    client.loop_start()
    start = time.time()
    for suffix, body in messages:
        client.publish(f"{args.prefix}/{suffix}", body, qos=1)
    ok = done.wait(600)
    end = time.time()
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"start": start, "end": end, "acked": acked, "ok": ok}), flush=True)


def role_count(args: argparse.Namespace) -> None:
    """The ceiling: count QoS 1 messages, acknowledging each at once."""
    state = {"count": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        now = time.time()
        client.ack(message.mid, message.qos)
        if not state["count"]:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if state["count"] >= args.expect:
            done.set()

    client = _client(f"bench-ceiling-{uuid.uuid4().hex[:8]}", manual_ack=True)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe(f"{args.prefix}/+/{args.kind}", qos=1)
    host, port = args.broker.rsplit(":", 1)
    client.connect(host, int(port))
    client.loop_start()
    subscribed.wait(10)
    print("ready", flush=True)
    seen = -1
    while not done.wait(10):  # give up after 10 s without a new message
        if state["count"] == seen:
            break
        seen = int(state["count"])
    client.disconnect()
    client.loop_stop()
    print(json.dumps(state), flush=True)


# the bench ------------------------------------------------------------------------------------
class Child:
    """A child process whose output lines are collected (and optionally watched)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, cwd=ROOT, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:
            for line in stdout:
                self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise SystemExit(f"no line matching {pattern!r} from {self.process.args!r}:\n"
                         + "\n".join(self.lines[-20:]))

    def finish(self, timeout: float = 60) -> list[str]:
        self.process.wait(timeout)
        self._reader.join(5)
        return self.lines


def _self(role: str, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--role", role, *extra]


def publish(args: argparse.Namespace, kind: str, prefix: str, total: int) -> dict[str, float]:
    """Run the publisher processes; returns the first start, last end and their rate."""
    share = -(-total // args.publishers)
    children = []
    for p in range(args.publishers):
        first, count = p * share, min(share, total - p * share)
        if count <= 0:
            break
        children.append(Child(_self("publish", "--kind", kind, "--prefix", prefix,
                                    "--first", str(first), "--count", str(count),
                                    "--broker", args.broker, "--inflight", str(args.inflight),
                                    "--batch-size", str(args.batch_size),
                                    "--twins", str(args.twins))))
    reports = [json.loads(c.wait_line(r"^\{", 900)) for c in children]
    for c in children:
        c.finish()
    if not all(r["ok"] for r in reports):
        raise SystemExit(f"a publisher was not acknowledged everything: {reports}")
    start = min(r["start"] for r in reports)
    end = max(r["end"] for r in reports)
    return {"start": start, "end": end, "rate": total / (end - start)}


def run_ceiling(args: argparse.Namespace, kind: str, total: int) -> dict[str, Any]:
    prefix = f"holotwin-bench/{uuid.uuid4().hex[:8]}"
    counter = Child(_self("count", "--kind", kind, "--prefix", prefix, "--expect", str(total),
                          "--broker", args.broker))
    counter.wait_line("^ready", 15)
    pub = publish(args, kind, prefix, total)
    state = json.loads(counter.wait_line(r"^\{", 900))
    counter.finish()
    return {"messages": state["count"], "start": pub["start"], "end": state["last"],
            "publish_rate": pub["rate"]}


def prepare_store(url: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from holotwin.service import TwinService
    from holotwin.store import open_store

    service = TwinService(open_store(url))
    try:
        service.add_models([MODEL])
        for i in range(ARGS_TWINS[0]):
            service.put_twin(f"m{i}", {"$metadata": {"$model": MACHINE}, "serial": f"S{i}"})
    finally:
        service.close()


ARGS_TWINS = [100]


def connectors_file(path: Path, args: argparse.Namespace, prefix: str, kind: str) -> Path:
    host, port = args.broker.rsplit(":", 1)
    records = 'records = "/rows"\n' if kind == "batched" else ""
    path.write_text(f"""
[pipeline]
max_batch = {args.max_batch}
max_delay_ms = 50

[[connector]]
name = "bench"
type = "mqtt"
host = "{host}"
port = {port}
client_id = "holotwin-bench-{uuid.uuid4().hex[:8]}"
session_expiry = 60

[[connector.subscription]]
topic = "{prefix}/{{machine}}/{kind}"
twin = "{{machine}}"
qos = 1
time = "/ts"
{records}""")
    return path


def run_holotwin(args: argparse.Namespace, kind: str, total_messages: int, readings: int,
                 store: str, workdir: Path) -> dict[str, Any]:
    prefix = f"holotwin-bench/{uuid.uuid4().hex[:8]}"
    data_dir = workdir / f"data-{uuid.uuid4().hex[:6]}"
    if store == "sqlite":
        data_dir.mkdir()
        url = f"sqlite://{data_dir}/holotwin.db"
    else:
        url = pg_create(args.pg_dsn)
    try:
        prepare_store(url)
        config = connectors_file(workdir / f"{prefix.rsplit('/', 1)[1]}.toml", args, prefix,
                                 kind)
        env = {k: v for k, v in os.environ.items() if k not in ("HOLOTWIN_STORE",
                                                               "HOLOTWIN_DATA_DIR")}
        ingest = Child([sys.executable, "-m", "holotwin.cli", "--store", url, "ingest",
                        "--connectors", str(config), "--progress", "0.1"], env=env)
        ingest.wait_line("^Connected:", 30)
        if args.profile:
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            profiler = Child([spy, "record", "--pid", str(ingest.process.pid), "--rate", "200", "--format", "raw", "--threads", "--output",
                              str(workdir / f"profile-{store}-{kind}.txt")])
        done: list[float] = []
        waiter = threading.Thread(target=_watch_progress,
                                  args=(ingest, readings, store, kind, done),
                                  daemon=True)
        waiter.start()
        pub = publish(args, kind, prefix, total_messages)
        waiter.join(900)
        if args.profile:
            profiler.process.send_signal(2)
            profiler.finish()
            summarize_profile(workdir / f"profile-{store}-{kind}.txt")
        ingest.process.terminate()
        lines = ingest.finish()
        stored = read_count(url)
        batches = [line for line in lines if line.startswith("Stopped")]
        print(f"  {batches[-1] if batches else lines[-3:]}")
        return {"readings": stored, "messages": total_messages if stored == readings else None,
                "start": pub["start"], "end": done[0] if done else time.time(), "publish_rate": pub["rate"]}
    finally:
        if store == "postgres":
            pg_drop(args.pg_dsn, url)


def summarize_profile(path: Path, top: int = 15) -> None:
    """Print the functions of the ingest worker thread with the most samples (inclusive)."""
    if not path.exists():
        print(f"  no profile at {path}")
        return
    total = 0
    inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if "holotwin-ingest" not in stack:
            continue
        count = int(count_text)
        total += count
        for frame in set(stack.split(";")[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count
    print(f"  py-spy, pipeline worker thread, {total} samples, inclusive share:")
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {count / max(total, 1):6.1%}  {frame}")


def _watch_progress(ingest: Child, readings: int, store: str, kind: str,
                    done: list[float]) -> None:
    """Follow the ingest process's progress lines (every 0.1 s, counted after each commit);
    append the time the last reading was seen committed to ``done``."""
    shown = time.monotonic()
    idle_since = time.monotonic()
    last = -1
    while True:
        lines = [line for line in list(ingest.lines) if "readings stored" in line]
        stored = 0
        if lines:
            stored = int(re.findall(r"readings stored ([\d,]+)", lines[-1])[0].replace(",", ""))
        if stored >= readings:
            done.append(time.time())
            return
        now = time.monotonic()
        if stored != last:
            last, idle_since = stored, now
        elif now - idle_since > 30:
            print(f"  [{store} {kind}] no progress for 30 s at {stored:,} of {readings:,}")
            return
        if now - shown >= 2:
            print(f"  [{store} {kind}] {stored:,} of {readings:,} readings stored", flush=True)
            shown = now
        time.sleep(0.02)


def read_count(url: str) -> int:
    """Readings in the store, read after the ingest process stopped."""
    sql = "SELECT COUNT(*) FROM telemetry"
    if url.startswith("sqlite://"):
        conn = sqlite3.connect(url[len("sqlite://"):])
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        row = pg.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def pg_reason(dsn: str) -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def pg_create(dsn: str) -> str:
    import psycopg

    name = f"holotwin_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


def pg_drop(dsn: str, url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_private_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("mosquitto")
    if binary is None:
        raise SystemExit("--broker private needs the mosquitto binary on PATH")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"user {getpass.getuser()}\nmax_queued_messages 0\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the private mosquitto did not start")


def machine() -> str:
    mosquitto = shutil.which("mosquitto")
    version = ""
    if mosquitto:
        out = subprocess.run([mosquitto, "-h"], capture_output=True, text=True).stdout
        version = out.splitlines()[0] if out else ""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {version or 'mosquitto ?'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="127.0.0.1:1883")
    parser.add_argument("--messages", type=int, default=50_000,
                        help="messages of the single-reading stream")
    parser.add_argument("--batches", type=int, default=1_000,
                        help="messages of the batched stream")
    parser.add_argument("--batch-size", type=int, default=500, help="readings per batched message")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--inflight", type=int, default=1000,
                        help="un-acknowledged publishes per publisher")
    parser.add_argument("--twins", type=int, default=100)
    parser.add_argument("--max-batch", type=int, default=500, help="pipeline max_batch")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "HOLOTWIN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--streams", default="single,batched")
    parser.add_argument("--profile", action="store_true",
                        help="record the ingest process with py-spy (raw stacks)")
    parser.add_argument("--role", choices=["publish", "count"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "publish":
        return role_publish(args)
    if args.role == "count":
        return role_count(args)
    ARGS_TWINS[0] = args.twins

    stores = [s for s in args.stores.split(",") if s]
    notes = []
    if "postgres" in stores:
        reason = pg_reason(args.pg_dsn)
        if reason:
            stores.remove("postgres")
            notes.append(f"PostgreSQL skipped: {reason}")
    streams = {"single": (args.messages, 1), "batched": (args.batches, args.batch_size)}
    results: list[dict[str, Any]] = []
    broker_name = args.broker
    with tempfile.TemporaryDirectory(prefix="holotwin-bench-") as tmp:
        workdir = Path(tmp)
        broker = None
        if args.broker == "private":
            broker, args.broker = start_private_broker(workdir)
            broker_name = f"private mosquitto at {args.broker}, max_queued_messages 0"
        try:
            _run_all(args, stores, streams, workdir, results)
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(10)
    _report(args, broker_name, results, notes)


def _run_all(args: argparse.Namespace, stores: list[str],
             streams: dict[str, tuple[int, int]], workdir: Path,
             results: list[dict[str, Any]]) -> None:
    for kind in [s for s in args.streams.split(",") if s]:
        messages, per = streams[kind]
        readings = messages * per
        print(f"{kind}: {messages:,} messages x {per} reading(s), {args.publishers} "
              f"publisher(s), broker {args.broker}", flush=True)
        print("  ceiling (bare subscriber)...", flush=True)
        c = run_ceiling(args, kind, messages)
        results.append(_row(kind, "ceiling", c["messages"], c["messages"] * per, c,
                            messages - c["messages"]))
        for store in stores:
            print(f"  holotwin on {store}...", flush=True)
            r = run_holotwin(args, kind, messages, readings, store, workdir)
            results.append(_row(kind, store, r["readings"] // per, r["readings"], r,
                                messages - r["readings"] // per))


def _report(args: argparse.Namespace, broker_name: str, results: list[dict[str, Any]],
            notes: list[str]) -> None:
    ceilings = {r["stream"]: r for r in results if r["consumer"] == "ceiling"}
    for r in results:
        ceiling = ceilings[r["stream"]]
        key = "messages_per_s" if r["stream"] == "single" else "readings_per_s"
        r["ratio"] = round(r[key] / ceiling[key], 3) if ceiling[key] else None

    print()
    print(f"machine: {machine()}; broker {broker_name}; {args.publishers} publisher "
          f"process(es), {args.inflight} in flight each")
    print(f"{'stream':9}{'consumer':10}{'messages':>10}{'readings':>11}{'seconds':>9}"
          f"{'msg/s':>10}{'readings/s':>12}{'ratio':>7}{'pub msg/s':>11}")
    for r in results:
        print(f"{r['stream']:9}{r['consumer']:10}{r['messages']:>10,}{r['readings']:>11,}"
              f"{r['seconds']:>9.2f}{r['messages_per_s']:>10,.0f}{r['readings_per_s']:>12,.0f}"
              f"{r['ratio'] if r['ratio'] is not None else '-':>7}"
              f"{r['publish_rate']:>11,.0f}{'  LOST ' + format(r['lost'], ',') if r['lost'] else ''}")
    if any(r["lost"] for r in results):
        notes.append("LOST: the broker dropped messages (its queue per subscriber is full when "
                     "the consumer is slower than the publishers): those rates are not valid; "
                     "use --broker private, or raise max_queued_messages.")
    for note in notes:
        print(note)
    targets = {}
    for r in results:
        if r["lost"]:
            continue  # not a valid rate
        if r["stream"] == "single" and r["consumer"] == "sqlite":
            targets["sqlite_single_ratio"] = {"target": TARGET_SQLITE_RATIO, "got": r["ratio"],
                                              "met": (r["ratio"] or 0) >= TARGET_SQLITE_RATIO}
        if r["stream"] == "batched" and r["consumer"] != "ceiling":
            targets[f"{r['consumer']}_batched_readings_per_s"] = {
                "target": TARGET_BATCHED_READINGS, "got": round(r["readings_per_s"]),
                "met": r["readings_per_s"] >= TARGET_BATCHED_READINGS}
    for name, t in targets.items():
        print(f"target {name}: {t['got']:,} vs {t['target']:,}: "
              f"{'met' if t['met'] else 'MISSED'}")
    print("references (published, not run here): ThingsBoard 33,333 data points/s on 36 vCPU; "
          "Eclipse Ditto about 800 modifies/s per connectivity instance.")
    print(json.dumps({"bench": "ingest", "machine": machine(), "broker": broker_name,
                      "publishers": args.publishers, "results": results, "targets": targets,
                      "notes": notes}))


def _row(kind: str, consumer: str, messages: int, readings: int,
         r: dict[str, Any], lost: int) -> dict[str, Any]:
    seconds = r["end"] - r["start"]
    return {"stream": kind, "consumer": consumer, "messages": messages, "readings": readings,
            "lost": lost,
            "seconds": round(seconds, 3), "messages_per_s": messages / seconds,
            "readings_per_s": readings / seconds, "publish_rate": r["publish_rate"]}


if __name__ == "__main__":
    main()
