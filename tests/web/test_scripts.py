"""The dashboard's ES modules, linted with ESLint 9 (from npm) for undefined and unused names:
a name a module uses but never defines or imports fails only when that code runs in a
browser, which the browser tests may not reach.

ESLint comes from ``$HOLOTWIN_ESLINT`` or ``.ci/js/node_modules/.bin/eslint`` (``.ci/run``
installs it there from the lock file: ``npm ci --prefix .ci/js``). Without it the test
skips, unless ``HOLOTWIN_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.web.conftest import ROOT, _need

STATIC = ROOT / "src" / "holotwin" / "web" / "static"
CONFIG = Path(__file__).with_name("eslint.config.mjs")


def _eslint() -> Path | None:
    named = os.environ.get("HOLOTWIN_ESLINT")
    for candidate in ([Path(named)] if named else []) + [ROOT / ".ci/js/node_modules/.bin/eslint"]:
        if candidate.is_file():
            return candidate
    return None


def test_the_dashboard_modules_define_what_they_use_and_use_what_they_import() -> None:
    eslint = _eslint()
    _need(eslint is not None and shutil.which("node") is not None,
          "no ESLint (npm ci --prefix .ci/js, or set HOLOTWIN_ESLINT)")
    assert eslint is not None
    modules = sorted(STATIC.rglob("*.js"))
    assert len(modules) >= 15, modules
    # the config imports "globals": it runs from beside ESLint's own node_modules
    prefix = next(p for p in eslint.resolve().parents if (p / "node_modules" / "globals").is_dir())
    config = prefix / "holotwin.eslint.config.mjs"
    config.write_text(CONFIG.read_text())
    done = subprocess.run(
        [str(eslint), "--config", str(config), "--no-warn-ignored",
         *map(str, modules)],
        cwd=STATIC, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
