"""Ingestion fixtures: a service with a small plant (twins m1, m2 of the test Machine model)."""

from __future__ import annotations

import pytest

from holotwin.service import TwinService
from tests.conftest import PLANT_MODELS, machine


@pytest.fixture
def plant(any_service: TwinService) -> TwinService:
    any_service.add_models(PLANT_MODELS)
    for twin_id in ("m1", "m2"):
        any_service.put_twin(twin_id, machine(twin_id))
    return any_service
