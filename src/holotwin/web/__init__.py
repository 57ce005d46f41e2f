"""The dashboard: static pages under ``/ui`` that read the REST API and its change feed.

There is no JavaScript build step. The pages (``web/pages``) and their scripts and style
(``web/static``) are plain files of this package, and the one chart library,
plotly.js, comes from the ``plotly`` package on PyPI. The pages read the same REST API as
every other client, so what they show and what they may change is what the API allows the
signed-in key. See docs/dashboard.md.
"""

from __future__ import annotations

from holotwin.web.routes import install_dashboard

__all__ = ["install_dashboard"]
