"""Twin GET and PATCH throughput over HTTP, against a ceiling in the same run.

    python bench/api.py [--seconds 10] [--connections 32] [--store sqlite|postgres]

Two servers run in turn on this machine, each a single uvicorn process:
- ceiling: a bare FastAPI app that answers GET with a fixed twin document and PATCH with 204,
  doing no work (the framework's own limit on this machine);
- holotwin: the real API on SQLite (or PostgreSQL with --store postgres), with 100 twins.
The load comes from wrk (installed with apt-get if missing), one thread, N connections.
Reads hit random twins; patches replace /speed on random twins (JSON Patch, validated against
the model, committed with an event each). It prints requests/s and the ratio to the ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TWINS = 100
MACHINE = "dtmi:bench:Machine;1"
MODEL = {
    "@id": MACHINE, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
    "contents": [
        {"@type": "Property", "name": "serial", "schema": "string"},
        {"@type": "Property", "name": "speed", "schema": "double", "writable": True},
        {"@type": "Property", "name": "running", "schema": "boolean"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
    ],
}

CEILING_APP = '''
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response
app = FastAPI()
DOC = {"$dtId": "m0", "$etag": 'W/"x"', "$metadata": {"$model": "dtmi:bench:Machine;1"},
       "serial": "S0", "speed": 1.0, "running": True}
@app.get("/digitaltwins/{twin_id}")
async def get(twin_id: str) -> JSONResponse:
    return JSONResponse(DOC, headers={"ETag": DOC["$etag"]})
@app.patch("/digitaltwins/{twin_id}")
async def patch(twin_id: str, request: Request) -> Response:
    await request.body()
    return Response(status_code=204)
'''

HOLOTWIN_APP = '''
import os
from holotwin.api import create_app
from holotwin.service import TwinService
from holotwin.store import open_store
app = create_app(TwinService(open_store(os.environ["BENCH_STORE"])))
'''

LUA_GET = f'''
request = function()
  return wrk.format("GET", "/digitaltwins/m" .. math.random(0, {TWINS - 1}))
end
'''
LUA_PATCH = f'''
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json-patch+json"
request = function()
  local body = '[{{"op":"replace","path":"/speed","value":' .. math.random() * 100 .. '}}]'
  return wrk.format("PATCH", "/digitaltwins/m" .. math.random(0, {TWINS - 1}), nil, body)
end
'''


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("installing wrk (apt-get)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found


def start_server(app_source: str, port: int, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    module = workdir / f"bench_app_{port}.py"
    module.write_text(app_source)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench_app_{port}:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=workdir, env={**os.environ, **env, "PYTHONPATH": f"{workdir}:{ROOT / 'src'}"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/digitaltwins/m0", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"server on port {port} did not start")


def run_wrk(wrk: str, url: str, lua: str, seconds: int, connections: int, workdir: Path) -> float:
    script = workdir / "load.lua"
    script.write_text(lua)
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"{non2xx.group(1)} requests failed:\n{out}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        sys.exit(f"cannot read wrk output:\n{out}")
    return float(m.group(1))


def seed(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        c.post("/models", json=[MODEL]).raise_for_status()
        for i in range(TWINS):
            c.put(f"/digitaltwins/m{i}", json={"$metadata": {"$model": MACHINE}, "serial": f"S{i}",
                                               "speed": 1.0, "running": True}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "HOLOTWIN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    wrk = ensure_wrk()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.store == "sqlite":
            store_url = f"sqlite://{workdir / 'bench.db'}"
        else:
            import uuid

            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg_dsn, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            store_url = f"{args.pg_dsn}?options=-csearch_path%3D{schema}"
        for name, source, env in (
            ("ceiling", CEILING_APP, {}),
            ("holotwin", HOLOTWIN_APP, {"BENCH_STORE": store_url}),
        ):
            port = 18000 + len(results)
            proc = start_server(source, port, env, workdir)
            try:
                url = f"http://127.0.0.1:{port}"
                if name == "holotwin":
                    seed(url)
                print(f"{name}: GET for {args.seconds}s...", flush=True)
                get = run_wrk(wrk, url, LUA_GET, args.seconds, args.connections, workdir)
                print(f"{name}: PATCH for {args.seconds}s...", flush=True)
                patch = run_wrk(wrk, url, LUA_PATCH, args.seconds, args.connections, workdir)
                results[name] = {"get": get, "patch": patch}
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        if args.store == "postgres":
            with psycopg.connect(args.pg_dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    ceiling, ours = results["ceiling"], results["holotwin"]
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, store {args.store}, wrk 1 thread "
          f"{args.connections} connections, {args.seconds}s each")
    print(f"{'':10}{'ceiling req/s':>15}{'holotwin req/s':>16}{'ratio':>8}")
    for op in ("get", "patch"):
        print(f"{op.upper():10}{ceiling[op]:>15.0f}{ours[op]:>16.0f}{ours[op] / ceiling[op]:>8.2f}")
    print("references: Azure Digital Twins allows 1,000 patches/s per instance; "
          "Eclipse Ditto measured about 2,800 reads/s per instance")
    print(json.dumps({"store": args.store, "ceiling": ceiling, "holotwin": ours}))


if __name__ == "__main__":
    main()
