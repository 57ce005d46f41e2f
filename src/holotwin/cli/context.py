"""What every command needs: where the data is, and opening the store or service there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from holotwin.service import TwinService
from holotwin.store import Store, open_store

__all__ = ["CliContext", "CliError", "RefusedOptionsError", "redact"]


class CliError(click.ClickException):
    """Printed as ``Error: <message>`` on stderr, exit code 1."""


class RefusedOptionsError(CliError):
    """Options that are valid one by one but refused together (exit code 2, as for usage
    errors), e.g. a public address without authentication."""

    exit_code = 2


def redact(url: str) -> str:
    """A store URL fit to print: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class CliContext:
    """``data_dir`` (holds the default SQLite file), an explicit ``store`` URL, if given,
    where scenario work runs (``executor``, see :func:`holotwin.compute.open_executor`) and
    the folder of FMU files for behavior bindings (``fmu_dir``; default ``<data_dir>/fmu``)."""

    data_dir: Path
    store: str | None = None
    executor: str = "local"
    fmu_dir: Path | None = None

    @property
    def fmu_folder(self) -> Path:
        return self.fmu_dir if self.fmu_dir is not None else self.data_dir / "fmu"

    @property
    def store_url(self) -> str:
        if self.store:
            return self.store
        return f"sqlite://{self.data_dir.resolve().as_posix()}/holotwin.db"

    @property
    def location(self) -> str:
        """Where the data is, for messages."""
        if self.store:
            return redact(self.store)
        return str(self.data_dir.resolve())

    def open_store(self) -> Store:
        url = self.store_url
        try:
            return open_store(url)
        except ImportError as exc:
            raise CliError(
                f"Cannot open {redact(url)}: {exc}. PostgreSQL needs the postgres extra: "
                "pip install 'holotwin[postgres]'"
            ) from None
        except OSError as exc:
            raise CliError(f"Cannot open the store at {redact(url)}: {exc}") from None

    def open_service(self) -> TwinService:
        from holotwin.compute import open_executor

        executor = open_executor(self.executor)  # the string was checked by --executor
        try:
            store = self.open_store()
        except BaseException:
            executor.close()
            raise
        try:
            return TwinService(store, executor=executor, fmu_dir=self.fmu_folder)
        except BaseException:
            executor.close()
            store.close()
            raise
