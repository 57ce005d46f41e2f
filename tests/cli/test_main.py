"""The command line, run in-process with click's CliRunner on a temporary data directory."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from holotwin.cli.main import cli
from holotwin.service import TwinService
from holotwin.store import open_store

Run = Callable[..., Result]
MACHINE = "dtmi:holotwin:demo:Machine;1"
DEMO_MODELS = Path(str(resources.files("holotwin.demo").joinpath("models")))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(data_dir: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, ["--data-dir", str(data_dir), *args], env=env,
                             prog_name="holotwin")

    return invoke


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _failed(result: Result, code: int) -> Result:
    assert result.exit_code == code, result.output
    # an error message, not a traceback
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _open(data_dir: Path) -> TwinService:
    return TwinService(open_store(f"sqlite://{data_dir.resolve().as_posix()}/holotwin.db"))


# help -------------------------------------------------------------------------------------------
def test_main_help_lists_every_command_and_examples(run: Run) -> None:
    out = _ok(run("--help")).output
    for command in ("serve", "demo", "models", "twins", "keys"):
        assert f"\n  {command} " in out
    assert "Examples:" in out
    assert "holotwin demo" in out and "--data-dir" in out and "HOLOTWIN_STORE" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["models"], ["import", "list"]),
        (["twins"], ["list", "get"]),
        (["keys"], ["create", "list", "revoke", "admin"]),
        (["serve"], ["--host", "--port", "--auth", "--max-body", "/docs"]),
        (["demo"], ["--port", "--twins", "--lines", "--interval", "--duration", "--no-server"]),
        (["models", "import"], ["PATH", "directory"]),
        (["twins", "list"], ["--model", "--limit", "--json"]),
        (["keys", "create"], ["--scope", "read|write|admin"]),
    ],
)
def test_every_level_has_help(run: Run, args: list[str], expected: list[str]) -> None:
    out = _ok(run(*args, "--help")).output
    for text in expected:
        assert text in out, f"{text!r} missing from 'holotwin {' '.join(args)} --help'"


def test_version(run: Run) -> None:
    assert "holotwin, version" in _ok(run("--version")).output


def test_help_creates_no_data_directory(run: Run, data_dir: Path) -> None:
    _ok(run("models", "--help"))
    assert not data_dir.exists()


# models -----------------------------------------------------------------------------------------
def test_models_import_a_file_then_list(run: Run, data_dir: Path) -> None:
    out = _ok(run("models", "import", str(DEMO_MODELS / "machine.json"))).output
    assert "Imported 1 model" in out and MACHINE in out
    assert (data_dir / "holotwin.db").exists()
    listed = _ok(run("models", "list")).output
    assert MACHINE in listed and "Machine" in listed and "active" in listed
    docs = json.loads(_ok(run("models", "list", "--json")).stdout)
    assert [d["@id"] for d in docs] == [MACHINE]


def test_models_import_a_directory(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "dtdl"
    shutil.copytree(DEMO_MODELS, folder / "nested")
    out = _ok(run("models", "import", str(folder))).output
    assert "Imported 4 models" in out
    assert {"dtmi:holotwin:demo:Plant;1", "dtmi:holotwin:demo:Line;1", MACHINE} <= set(out.split())


def test_models_import_invalid_json_names_file_line_and_column(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"@id": "dtmi:ex:Fan;1",\n  "@type": }\n')
    result = _failed(run("models", "import", str(bad)), 1)
    assert result.stderr.startswith("Error: Invalid model: ")
    assert f"{bad}: invalid JSON at line 2, column 12" in result.stderr
    assert result.stdout == ""


def test_models_import_invalid_dtdl(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "fan.json"
    bad.write_text(json.dumps({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Fan;1",
                               "@type": "Interface",
                               "contents": [{"@type": "Property", "name": "rpm"}]}))
    result = _failed(run("models", "import", str(bad)), 1)
    assert result.stderr.startswith("Error: Invalid model: ") and "schema" in result.stderr
    assert "No models yet" in _ok(run("models", "list")).output


def test_models_import_twice_is_a_conflict(run: Run) -> None:
    path = str(DEMO_MODELS / "machine.json")
    _ok(run("models", "import", path))
    result = _failed(run("models", "import", path), 1)
    assert "already registered" in result.stderr and MACHINE in result.stderr


def test_models_import_missing_path_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = _failed(run("models", "import", str(tmp_path / "nope")), 2)
    assert "does not exist" in result.stderr


def test_models_import_empty_directory(run: Run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _failed(run("models", "import", str(tmp_path / "empty")), 1)
    assert "No DTDL documents found" in result.stderr


# twins ------------------------------------------------------------------------------------------
@pytest.fixture
def plant(run: Run, data_dir: Path) -> None:
    _ok(run("models", "import", str(DEMO_MODELS)))
    service = _open(data_dir)
    try:
        for i in (1, 2):
            service.put_twin(f"machine-{i}", {"$metadata": {"$model": MACHINE},
                                              "serial": f"S-{i}", "status": "running"})
        service.patch_twin("machine-2", [{"op": "add", "path": "/speed", "value": 60.0}])
        service.put_twin("line-1", {"$metadata": {"$model": "dtmi:holotwin:demo:Line;1"}})
    finally:
        service.close()


@pytest.mark.usefixtures("plant")
def test_twins_list_table_and_json(run: Run) -> None:
    out = _ok(run("twins", "list")).output
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["twin", "model", "revision", "updated"]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line.strip()}
    assert set(rows) == {"line-1", "machine-1", "machine-2"}
    assert rows["machine-2"][1:3] == [MACHINE, "2"]
    docs = json.loads(_ok(run("twins", "list", "--json")).stdout)
    assert [d["$dtId"] for d in docs] == ["line-1", "machine-1", "machine-2"]


@pytest.mark.usefixtures("plant")
def test_twins_list_by_model_and_limit(run: Run) -> None:
    docs = json.loads(_ok(run("twins", "list", "--model", MACHINE, "--json")).stdout)
    assert [d["$dtId"] for d in docs] == ["machine-1", "machine-2"]
    result = _ok(run("twins", "list", "--limit", "1"))
    assert "line-1" in result.stdout and "machine-1" not in result.stdout
    assert "use --limit to see more" in result.stderr


@pytest.mark.usefixtures("plant")
def test_twins_list_unknown_model(run: Run) -> None:
    result = _failed(run("twins", "list", "--model", "dtmi:ex:Nope;1"), 1)
    assert result.stderr == "Error: Model 'dtmi:ex:Nope;1' was not found\n"


def test_twins_list_empty(run: Run) -> None:
    assert _ok(run("twins", "list")).output == "No twins.\n"


@pytest.mark.usefixtures("plant")
def test_twins_get_prints_the_document(run: Run) -> None:
    doc: dict[str, Any] = json.loads(_ok(run("twins", "get", "machine-2")).stdout)
    assert doc["$dtId"] == "machine-2" and doc["speed"] == 60.0
    assert doc["$metadata"]["$revision"] == 2 and doc["$etag"].startswith('W/"')


def test_twins_get_unknown_twin(run: Run) -> None:
    result = _failed(run("twins", "get", "x"), 1)
    assert result.stderr == "Error: Twin 'x' was not found\n"


# keys -------------------------------------------------------------------------------------------
def test_keys_create_list_revoke(run: Run) -> None:
    created = _ok(run("keys", "create", "ci", "--scope", "write"))
    key = created.stdout.strip()
    assert key.startswith("htk_") and "\n" not in key
    assert "not shown again" in created.stderr
    key_id = key[len("htk_"):].split("_")[0]
    assert f"id {key_id}, scope write" in created.stderr

    listed = _ok(run("keys", "list")).output
    assert key_id in listed and "ci" in listed and "write" in listed
    assert key not in listed and key.split("_", 2)[2] not in listed

    assert f"Revoked API key {key_id}" in _ok(run("keys", "revoke", key_id)).output
    assert "No API keys" in _ok(run("keys", "list")).output
    again = _failed(run("keys", "revoke", key_id), 1)
    assert again.stderr.startswith("Error: ") and key_id in again.stderr


def test_keys_create_needs_a_known_scope(run: Run) -> None:
    result = _failed(run("keys", "create", "ci", "--scope", "root"), 2)
    assert "'root' is not one of" in result.stderr


def test_keys_create_needs_a_name(run: Run) -> None:
    result = _failed(run("keys", "create", "  ", "--scope", "read"), 1)
    assert result.stderr.startswith("Error: An API key needs a name")


# serve and stores -------------------------------------------------------------------------------
def test_serve_refuses_a_public_address_without_auth(run: Run, data_dir: Path) -> None:
    result = _failed(run("serve", "--host", "0.0.0.0"), 2)
    assert result.stderr.startswith("Error: Refusing to listen on 0.0.0.0 without authentication")
    assert "--auth" in result.stderr
    assert not data_dir.exists()  # refused before opening anything


def test_serve_reports_a_port_in_use(run: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _failed(run("serve", "--port", str(port)), 1)
    assert result.stderr.startswith(f"Error: Cannot listen on 127.0.0.1 port {port}: ")


def test_demo_reports_a_port_in_use(run: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _failed(run("demo", "--port", str(port), "--duration", "1"), 1)
    assert "--no-server" in result.stderr


def test_unknown_store_url(run: Run) -> None:
    result = _failed(run("--store", "ftp://example.com/x", "twins", "list"), 1)
    assert result.stderr.startswith("Error: Unknown store URL 'ftp://example.com/x'")


def test_store_from_the_environment(run: Run, tmp_path: Path, data_dir: Path) -> None:
    other = tmp_path / "elsewhere" / "twins.db"
    env = {"HOLOTWIN_STORE": f"sqlite://{other.as_posix()}"}
    _ok(run("models", "import", str(DEMO_MODELS / "machine.json"), env=env))
    assert other.exists() and not data_dir.exists()
    assert MACHINE in _ok(run("models", "list", env=env)).output
    assert "No models yet" in _ok(run("models", "list")).output


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "from-env"
    result = CliRunner().invoke(cli, ["keys", "list"], env={"HOLOTWIN_DATA_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    assert (folder / "holotwin.db").exists()


def test_demo_rejects_bad_options(run: Run) -> None:
    assert "--interval" in _failed(run("demo", "--interval", "0"), 2).stderr
    assert "--twins" in _failed(run("demo", "--twins", "0"), 2).stderr
