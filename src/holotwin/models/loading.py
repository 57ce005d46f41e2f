"""Read DTDL documents from ``.json`` files: one file, or every ``*.json`` below a directory.

Example:
    >>> import json, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "fan.json").write_text(json.dumps(
    ...     {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Fan;1", "@type": "Interface"}))
    >>> [d["@id"] for d in load_documents(folder)]
    ['dtmi:ex:Fan;1']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from holotwin.errors import ModelError, ModelIssue

__all__ = ["load_documents"]


def load_documents(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The DTDL documents in ``path``: a ``.json`` file holding one document or a list of them,
    or a directory searched recursively (files in sorted order).

    Raises :class:`ModelError` naming the file (and line and column for a JSON syntax error).
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.json") if p.is_file())
    elif root.is_file():
        files = [root]
    else:
        raise ModelError([ModelIssue(str(root), None, "fileNotFound",
                                     f"no such file or directory: {root}")])
    documents: list[dict[str, Any]] = []
    issues: list[ModelIssue] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            issues.append(ModelIssue(str(file), None, "jsonSyntax",
                                     f"invalid JSON at line {exc.lineno}, column {exc.colno}: "
                                     f"{exc.msg}"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(ModelIssue(str(file), None, "fileUnreadable", f"cannot read: {exc}"))
            continue
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            if isinstance(item, dict):
                documents.append(item)
            else:
                where = f" (item {i})" if isinstance(data, list) else ""
                issues.append(ModelIssue(str(file), None, "notAnObject",
                                         f"a DTDL document must be a JSON object{where}"))
    if issues:
        raise ModelError(issues)
    return documents
