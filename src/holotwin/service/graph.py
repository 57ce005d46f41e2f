"""The twin graph at a glance, for the dashboard: every twin with its model, status and open
alerts, and every relationship, in one read (:func:`twin_graph`)."""

from __future__ import annotations

from typing import Any

from holotwin.analytics.rules import SEVERITIES
from holotwin.service.alerts import ALERT
from holotwin.store.base import Store

__all__ = ["MAX_GRAPH_TWINS", "twin_graph"]

MAX_GRAPH_TWINS = 5000
_PAGE = 1000
_SHOWN = ("status", "name", "displayName", "serial")


def twin_graph(store: Store, limit: int = MAX_GRAPH_TWINS) -> dict[str, Any]:
    """``{"twins": [{"id", "model", "status"?, "name"?, "alerts": n, "severity"?}],
    "relationships": [{"id", "source", "target", "name"}], "truncated": bool}``: twins in id
    order (at most ``limit``), each with its open alerts (raised or acknowledged) and the worst
    of their severities."""
    open_alerts: dict[str, list[str]] = {}
    for alert in store.list_documents(ALERT).values():
        if alert.get("state") != "cleared":
            open_alerts.setdefault(alert["twinId"], []).append(alert.get("severity", "warning"))
    twins: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    after = None
    truncated = False
    while True:
        page = store.list_twins(after=after, limit=min(_PAGE, limit - len(twins) + 1))
        for record in page:
            if len(twins) == limit:
                truncated = True
                break
            doc = record.document
            node: dict[str, Any] = {"id": record.id, "model": record.model_id}
            for key in _SHOWN:
                value = doc.get(key)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    node[key] = value
            severities = open_alerts.get(record.id, [])
            node["alerts"] = len(severities)
            if severities:
                node["severity"] = max(severities, key=SEVERITIES.index)
            twins.append(node)
            for rel in store.list_relationships(record.id):
                relationships.append({"id": rel["$relationshipId"], "source": rel["$sourceId"],
                                      "target": rel["$targetId"],
                                      "name": rel["$relationshipName"]})
        if truncated or len(page) < _PAGE:
            break
        after = page[-1].id
    return {"twins": twins, "relationships": relationships, "truncated": truncated}
