"""Fixtures every test folder shares: a small population, a catalogue, the scenario folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.platform.catalog import Catalog, build_catalog
from twin.platform.population import Population, build_population

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
ARCHITECTURES = SCENARIOS / "architectures"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return build_catalog(np.random.default_rng(7))


@pytest.fixture(scope="session")
def population() -> Population:
    return build_population(200_000, np.random.default_rng(11))


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return SCENARIOS


@pytest.fixture(scope="session")
def architectures_dir() -> Path:
    return ARCHITECTURES
