"""The class catalogue: live slots at :00 and :30, parseable live ids, popularity skew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from twin.platform.catalog import CLASS_TYPES, EQUIPMENT, build_catalog, zipf_shares

DAY = datetime(2026, 11, 21, tzinfo=UTC)


def test_live_classes_start_only_at_the_top_and_half_of_the_hour(catalog):
    classes = catalog.live_schedule(DAY, DAY + timedelta(days=1))
    assert {c.starts_at.minute for c in classes} == {0, 30}
    assert all(c.starts_at.second == 0 and c.starts_at.tzinfo is not None for c in classes)
    assert len({c.starts_at for c in classes}) == 48  # every slot of the day has classes
    assert all(c.live and c.starts_at.utcoffset() == timedelta(0) for c in classes)


def test_schedule_is_the_same_whatever_the_window(catalog):
    whole = catalog.live_schedule(DAY, DAY + timedelta(hours=6))
    parts = catalog.live_schedule(
        DAY, DAY + timedelta(hours=2, minutes=10)
    ) + catalog.live_schedule(DAY + timedelta(hours=2, minutes=10), DAY + timedelta(hours=6))
    assert [c.id for c in whole] == [c.id for c in parts]
    assert whole == parts


def test_same_generator_seed_same_catalogue():
    a = build_catalog(np.random.default_rng(3), n_on_demand=50)
    b = build_catalog(np.random.default_rng(3), n_on_demand=50)
    assert a.on_demand == b.on_demand
    assert [i.name for i in a.instructors] == [i.name for i in b.instructors]
    assert a.live_schedule(DAY, DAY + timedelta(hours=3)) == b.live_schedule(
        DAY, DAY + timedelta(hours=3)
    )


def test_live_ids_parse_back_to_their_class(catalog):
    for c in catalog.live_schedule(DAY, DAY + timedelta(hours=3)):
        assert c.id.startswith("live-20261121T")
        assert catalog.get(c.id) == c
    outdoor = [
        c
        for c in catalog.live_schedule(DAY, DAY + timedelta(days=3))
        if c.type == "outdoor running"
    ]
    assert outdoor and catalog.get(outdoor[0].id) == outdoor[0]  # a type with a space in its name


@pytest.mark.parametrize(
    "bad",
    [
        "live-20261121T1315-cycling-07",
        "live-20261321T1300-cycling-07",
        "live-x",
        "od-99999",
        "nope",
    ],
)
def test_unknown_ids_give_none(catalog, bad):
    assert catalog.get(bad) is None


def test_a_slot_has_a_ride_a_run_on_the_hour_and_an_equipment_free_class(catalog):
    slot = catalog.live_schedule(DAY, DAY + timedelta(seconds=1))
    half = catalog.live_schedule(DAY + timedelta(minutes=30), DAY + timedelta(minutes=31))
    assert [c.type for c in slot][:2] == ["cycling", "running"]
    assert EQUIPMENT[slot[-1].type] is None and EQUIPMENT[half[-1].type] is None
    assert "running" not in [c.type for c in half]


def test_on_demand_library_size_types_and_popularity(catalog):
    assert len(catalog.on_demand) == 2000
    assert {c.type for c in catalog.on_demand} == set(CLASS_TYPES)
    assert sum(c.popularity for c in catalog.on_demand) == pytest.approx(1.0)
    assert all(
        c.starts_at is None and not c.live and c.duration_s >= 300 for c in catalog.on_demand
    )
    assert catalog.get("od-00042") == catalog.on_demand[42]
    assert all(EQUIPMENT[c.type] is None for c in catalog.app_only())


def test_instructor_popularity_is_zipf_skewed(catalog):
    shares = sorted((i.popularity for i in catalog.instructors), reverse=True)
    assert sum(shares) == pytest.approx(1.0)
    # 1/rank^1.1 over 40 instructors: the top one draws ~23%, over 45x the last one.
    assert shares[0] == pytest.approx(zipf_shares(40)[0])
    assert shares[0] / shares[-1] == pytest.approx(40**1.1, rel=1e-9)
    assert shares[0] > 0.2


def test_every_type_has_a_teacher_and_windows_must_be_aware(catalog):
    assert all(catalog.teaching(t) for t in CLASS_TYPES)
    with pytest.raises(ValueError, match="timezone-aware"):
        catalog.live_schedule(datetime(2026, 1, 1), datetime(2026, 1, 2))
