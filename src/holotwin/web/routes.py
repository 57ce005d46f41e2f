"""The dashboard's routes (see :mod:`holotwin.web`).

- ``GET /`` redirects to ``/ui/``.
- ``GET /ui/`` (plant overview), ``/ui/twins`` (the twin graph), ``/ui/twins/{id}`` (a
  twin), ``/ui/scenarios`` (what-if), ``/ui/signin``: the pages. They are static; their
  scripts read the REST API.
- ``GET /ui/static/{path}``: the pages' scripts (ES modules, a page's parts in a folder of
  its name) and style; ``GET /ui/vendor/plotly.min.js``:
  plotly.js from the installed ``plotly`` package (cached for a week). Both answer 304 to
  a browser whose copy is current.
- ``GET /ui/session``: whether the server needs a key and, if so, who is signed in, with
  which scope. ``POST /ui/session`` ``{"key": "..."}`` checks the key and keeps it in an
  HttpOnly, SameSite=Strict cookie, which the API accepts like the header.
  ``DELETE /ui/session`` signs out.
- ``GET /ui/api/graph``: every twin with its model, status and open alerts, and every
  relationship, in one answer (read scope).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from holotwin.api.deps import SESSION_COOKIE, authorize, read_json, service_of
from holotwin.errors import AuthenticationError, InvalidInputError, NotFoundError
from holotwin.service.graph import twin_graph
from holotwin.service.keys import ApiKeys

__all__ = ["install_dashboard"]

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_NO_CACHE = {"Cache-Control": "no-cache"}


def _plotly() -> Path | None:
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def _file(request: Request, path: Path, media_type: str, cache: str) -> Response:
    """``path``, or 304 when the browser's copy is current (its ``If-None-Match`` holds the
    file's ETag): a revalidated copy keeps the browser's compiled code of a script, which
    saves most of plotly.js's start-up on later visits."""
    stat = path.stat()
    etag = '"' + hashlib.sha1(f"{stat.st_mtime_ns}-{stat.st_size}".encode(),
                              usedforsecurity=False).hexdigest() + '"'
    headers = {"Cache-Control": cache, "ETag": etag}
    match = request.headers.get("if-none-match", "")
    if etag in (tag.strip().removeprefix("W/") for tag in match.split(",")) or match == "*":
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


def _page(name: str) -> FileResponse:
    path = PAGES / f"{name}.html"
    if not path.is_file():
        raise NotFoundError("page", name)
    return FileResponse(path, media_type="text/html", headers=_NO_CACHE)


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's routes to ``app`` (the API app of :func:`holotwin.api.create_app`)."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @pages.get("/ui")
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    for path, name in (("/ui/", "overview"), ("/ui/twins", "twins"),
                       ("/ui/scenarios", "scenarios"), ("/ui/signin", "signin")):
        pages.add_api_route(path, (lambda n: lambda: _page(n))(name), methods=["GET"])

    @pages.get("/ui/twins/{twin_id}")
    async def twin_page(twin_id: str) -> FileResponse:
        return _page("twin")

    @pages.get("/ui/static/{name:path}")
    async def static(name: str, request: Request) -> Response:
        path = (STATIC / name).resolve()
        if not path.is_relative_to(STATIC) or not path.is_file():
            raise NotFoundError("file", name)
        return _file(request, path, _TYPES.get(path.suffix, "text/plain"), "no-cache")

    @pages.get("/ui/vendor/plotly.min.js")
    async def plotly_js(request: Request) -> Response:
        path = _plotly()
        if path is None:
            raise NotFoundError("file", "plotly.min.js",
                                "plotly.js is missing: pip install plotly")
        return _file(request, path, "text/javascript", "public, max-age=604800")

    @pages.get("/ui/session")
    async def session(request: Request) -> JSONResponse:
        if not request.app.state.settings.auth:
            return JSONResponse({"auth": False, "signedIn": True, "scope": "admin"})
        key = request.cookies.get(SESSION_COOKIE)
        if not key:
            return JSONResponse({"auth": True, "signedIn": False})
        try:
            record = await run_in_threadpool(request.app.state.keys.verify, key)
        except AuthenticationError:
            return JSONResponse({"auth": True, "signedIn": False})
        return JSONResponse({"auth": True, "signedIn": True, "name": record.name,
                             "scope": record.scope})

    @pages.post("/ui/session")
    async def sign_in(request: Request) -> JSONResponse:
        body: Any = await read_json(request)
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key.strip():
            raise InvalidInputError("Sign in with {\"key\": \"<API key>\"}")
        keys: ApiKeys = request.app.state.keys
        record = await run_in_threadpool(keys.verify, key.strip())
        response = JSONResponse({"auth": True, "signedIn": True, "name": record.name,
                                 "scope": record.scope})
        response.set_cookie(SESSION_COOKIE, key.strip(), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @pages.delete("/ui/session", status_code=204)
    async def sign_out() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    data = APIRouter(include_in_schema=False, dependencies=[Depends(authorize)])

    @data.get("/ui/api/graph")
    async def graph(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(twin_graph, service_of(request).store))

    app.include_router(pages)
    app.include_router(data)
