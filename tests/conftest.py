"""Shared fixtures: small runs are built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.data import DEFAULT_DATA_DIR
from simulation.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL_AREAS = ["Altstadt", "Innenstadt", "Bahnhofsviertel", "Gutleutviertel"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DEFAULT_DATA_DIR


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    return Scenario(name="small", areas=SMALL_AREAS, horizon=5, seed=7)


@pytest.fixture(scope="session")
def small_result(small_scenario):
    from simulation.runner import run_scenario

    return run_scenario(small_scenario)
