"""Run the official DTDL conformance cases through holotwin's DTDL parser and report agreement.

Usage::

    python bench/dtdl_conformance.py [--data PATH] [--top N]

``PATH`` defaults to ``$HOLOTWIN_DTDL_DATA`` or ``../shared/data/dtdl/specification`` relative to
the repository root. Each ``*.json`` file there holds a list of cases ``{valid, options, input,
expect?}``; ``input`` is a list of documents (a document may itself be a list), ``options`` may
hold ``AllowUndefinedExtensions``. Each case is one ``ModelRegistry().add`` call.

Printed per DTDL version (from the file name suffix V2/V3): the number of cases, the share whose
valid/invalid verdict matches, and, among invalid cases that state what is expected (``expect``
with ``parsingErrors`` ValidationIDs or ``unresolvedIdentifiers``), the share whose reported set
matches; then the commonest mismatches by file-name stem. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from holotwin.errors import HolotwinError, ModelError
from holotwin.models import ModelRegistry
from holotwin.models.rules import Rule

ROOT = Path(__file__).resolve().parent.parent
_DTMI = re.compile(r"dtmi:[A-Za-z0-9_:]+;[0-9]+(?:\.[0-9]+)?")
_VERSION = re.compile(r"V([0-9])\.json$")


def default_data() -> Path:
    """The conformance folder: ``$HOLOTWIN_DTDL_DATA`` or the shared data folder."""
    env = os.environ.get("HOLOTWIN_DTDL_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "dtdl" / "specification"


def run_case(case: dict[str, Any]) -> tuple[bool, set[str], set[str]]:
    """Parse one case: (accepted, rule ids reported, DTMIs reported unresolved)."""
    allow = "AllowUndefinedExtensions" in (case.get("options") or [])
    try:
        ModelRegistry().add(case["input"], allow_undefined_extensions=allow)
    except ModelError as exc:
        rules = {i.rule for i in exc.issues}
        unresolved = {d for i in exc.issues if i.rule == Rule.UNRESOLVED
                      for d in _DTMI.findall(i.message)[:1]}
        return False, rules, unresolved
    except HolotwinError as exc:  # e.g. ConflictError for a repeated @id
        return False, {type(exc).__name__}, set()
    return True, set(), set()


def expected_ids(case: dict[str, Any]) -> tuple[str, set[str]] | None:
    """What an invalid case says must be reported, as (kind, set), or None."""
    expect = case.get("expect") or {}
    if expect.get("parsingErrors"):
        return "rules", {e["ValidationID"] for e in expect["parsingErrors"]}
    if expect.get("unresolvedIdentifiers"):
        return "unresolved", set(expect["unresolvedIdentifiers"])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--top", type=int, default=12, help="mismatch groups to list")
    args = parser.parse_args(argv)
    files = sorted(args.data.glob("*.json"))
    if not files:
        print(f"no conformance files in {args.data}", file=sys.stderr)
        return 2
    stats: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    reasons: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    started, done = time.perf_counter(), 0
    for file in files:
        match = _VERSION.search(file.name)
        version = f"V{match[1]}" if match else "other"
        stem = re.sub(r"V[0-9]\.json$", "", file.name)
        for case in json.loads(file.read_text(encoding="utf-8-sig")):
            accepted, rules, unresolved = run_case(case)
            counts = stats[version]
            counts["cases"] += 1
            if accepted == bool(case["valid"]):
                counts["verdict_ok"] += 1
            else:
                side = "valid case rejected" if case["valid"] else "invalid case accepted"
                detail = ""
                if case["valid"]:
                    detail = " [" + ", ".join(sorted(r.rsplit(":", 1)[-1] for r in rules)) + "]"
                reasons[version][f"{side}: {stem}{detail}"] += 1
            expected = None if case["valid"] else expected_ids(case)
            if expected is not None:
                kind, ids = expected
                counts["ids_expected"] += 1
                if (rules if kind == "rules" else unresolved) == ids:
                    counts["ids_ok"] += 1
            done += 1
            if done % 500 == 0:
                print(f"\r{done} cases, {time.perf_counter() - started:.1f} s",
                      end="", file=sys.stderr, flush=True)
    print(f"\r{done} cases, {time.perf_counter() - started:.1f} s", file=sys.stderr)
    summary: dict[str, Any] = {"data": str(args.data), "versions": {}}
    for version in sorted(stats):
        c = stats[version]
        verdict = c["verdict_ok"] / c["cases"]
        ids = c["ids_ok"] / c["ids_expected"] if c["ids_expected"] else None
        shown_ids = (f"{ids:.2%} of {c['ids_expected']} invalid cases stating expected ids"
                     if ids is not None else "n/a (no case states expected ids)")
        print(f"DTDL {version}: {c['cases']} cases, verdict agreement {verdict:.2%} "
              f"({c['cases'] - c['verdict_ok']} mismatched), error-id agreement {shown_ids}")
        for reason, count in reasons[version].most_common(args.top):
            print(f"    {count:4d}  {reason}")
        summary["versions"][version] = {
            "cases": c["cases"], "verdict_agreement": round(verdict, 5),
            "mismatches": c["cases"] - c["verdict_ok"], "ids_expected": c["ids_expected"],
            "id_agreement": None if ids is None else round(ids, 5),
        }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
