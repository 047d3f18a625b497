"""The drill's rider pool: Faker identities on the twin's own population, with signed tokens.

Rider `i` is `rider-{i}`, the id the reference platform's recommender knows for population rider
`i`; each has a Faker name and e-mail (seeded: same seed, same pool), a device (bike, tread or
app, from the scenario's device mix), a device id, the rendition its screen and bandwidth hold
(the twin's rendition rule), and a rider token and a device token signed with the target's
secret, so the Locust processes never need the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twin.config.vocabulary import DEVICES, RENDITIONS
from twin.platform.population import build_population
from twin.platform.workload import SCREEN_MAX, rendition_for
from twin.serve.tokens import sign

__all__ = ["TOKEN_TTL_S", "rider_pool"]

TOKEN_TTL_S = 2 * 86_400.0  # outlives any drill


def rider_pool(
    n: int,
    *,
    seed: int,
    secret: str,
    mix: Mapping[str, float] | None = None,
    max_rendition: str = "4k",
    device_share: float | None = None,
) -> list[dict[str, Any]]:
    """`n` riders with identities, devices, renditions and tokens.

    With `device_share` (the share of riders in session on a bike or tread, which send
    telemetry), riders are ordered so that every prefix of the pool holds that share within
    one rider: a drill with few users still sends the telemetry the twin expects.
    """
    from faker import Faker  # deferred: Faker takes ~0.3 s to import; only the pool needs it

    rng = np.random.default_rng([seed, 0xD7111])
    population = build_population(3 * n, rng, mix=dict(mix) if mix else None)
    order = _interleave(population.device != DEVICES.index("app"), n, device_share)
    fake = Faker()
    fake.seed_instance(seed)
    cap = RENDITIONS.index(max_rendition)
    pool = []
    for i, j in enumerate(order):
        device = DEVICES[int(population.device[j])]
        best = rendition_for(population.bandwidth_mbps[j : j + 1], min(cap, SCREEN_MAX[device]))
        rider_id, device_id = f"rider-{i}", f"{device}-{fake.hexify('^^^^^^^^^^')}"
        pool.append(
            {
                "rider_id": rider_id,
                "name": fake.name(),
                "email": fake.email(),
                "device": device,
                "device_id": device_id,
                "rendition": int(best[0]),
                "rider_token": sign("rider", rider_id, secret, TOKEN_TTL_S),
                "device_token": sign("device", device_id, secret, TOKEN_TTL_S),
            }
        )
    return pool


def _interleave(sender: np.ndarray, n: int, share: float | None) -> list[int]:
    """`n` candidate indices whose running share of senders tracks `share` (error diffusion)."""
    if share is None:
        return list(range(n))
    senders = list(np.flatnonzero(sender)[::-1])
    others = list(np.flatnonzero(~sender)[::-1])
    order: list[int] = []
    sent = 0
    for i in range(n):
        want_sender = sent < share * (i + 1) - 0.5
        pile = senders if (want_sender and senders) or not others else others
        sent += pile is senders
        order.append(int(pile.pop()))
    return order
