"""Scenario files: typed, frozen, validated models loaded from YAML with `--set` overrides."""

from twin.config.loader import load_scenario
from twin.config.network import NetworkScenario, ServiceTime, Source, Station

__all__ = ["NetworkScenario", "ServiceTime", "Source", "Station", "load_scenario"]
