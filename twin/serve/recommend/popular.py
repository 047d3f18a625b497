"""Cold start: the most popular on-demand classes of a rider's region and device.

A rider the model has not seen (a new member, or one whose rides have not reached a retrain
yet) gets the popularity fallback seed 000's recommender is described with: the classes with
the most interaction weight among riders of the same region and device, ranked, with each
class's share of that segment's weight as its score. Only classes the device can play are
offered. A region with too few rides to fill the answer widens to all regions (same device);
the answer names the segment it was drawn from. Stored riders outside the generated population
have no known region or device: they count only when neither is given.

Built once per trained model (`Popularity.build`, in the training thread) and immutable, so
an answer is a slice of a precomputed ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from twin.config.vocabulary import DEVICES, REGION_CODES

__all__ = ["Popular", "Popularity"]

MAX_RANKED = 100  # the route's largest n


@dataclass(frozen=True, slots=True)
class Popular:
    """A fallback answer: (class_id, share) best first, and the segment it was drawn from."""

    ranked: list[tuple[str, float]]
    region: str | None
    device: str | None


Segment = tuple[int | None, int | None]  # (region code index, device code index); None = all


class Popularity:
    """Ranked classes per (region, device) segment, each margin included (None = any)."""

    def __init__(self, rankings: dict[Segment, list[tuple[str, float]]]) -> None:
        self._rankings = rankings

    @classmethod
    def build(
        cls,
        matrix: sp.csr_matrix,
        rider_region: np.ndarray,
        rider_device: np.ndarray,
        class_ids: tuple[str, ...],
        playable: np.ndarray,
    ) -> Popularity:
        """From the riders x classes weights; rows past the codes (stored riders) count in all.

        `playable[d, k]`: class k can be played on device d.
        """
        weights = np.asarray(matrix.sum(axis=0)).ravel()
        rankings: dict[Segment, list[tuple[str, float]]] = {
            (None, None): _rank(weights, class_ids, None)
        }
        known = matrix[: rider_region.size]
        for r in (*range(len(REGION_CODES)), None):
            for d in range(len(DEVICES)):
                rows = rider_device == d
                if r is not None:
                    rows &= rider_region == r
                segment = np.asarray(known[np.flatnonzero(rows)].sum(axis=0)).ravel()
                rankings[(r, d)] = _rank(segment, class_ids, playable[d])
        for r in range(len(REGION_CODES)):
            segment = np.asarray(known[np.flatnonzero(rider_region == r)].sum(axis=0)).ravel()
            rankings[(r, None)] = _rank(segment, class_ids, None)
        return cls(rankings)

    def top(self, n: int, region: str | None = None, device: str | None = None) -> Popular:
        """The `n` most popular classes of the segment; all regions if it has fewer than `n`."""
        d = None if device is None else DEVICES.index(device)
        segment: Segment = (None if region is None else REGION_CODES.index(region), d)
        if segment[0] is not None and len(self._rankings[segment]) < n:
            segment = (None, d)
        ranked = self._rankings[segment][:n]
        return Popular(ranked, _code(REGION_CODES, segment[0]), _code(DEVICES, segment[1]))


def _code(codes: tuple[str, ...], index: int | None) -> str | None:
    return None if index is None else codes[index]


def _rank(
    weights: np.ndarray, class_ids: tuple[str, ...], playable: np.ndarray | None
) -> list[tuple[str, float]]:
    """Classes with positive weight (and playable), by weight then catalogue order."""
    if playable is not None:
        weights = np.where(playable, weights, 0.0)
    total = float(weights.sum())
    if total <= 0:
        return []
    order = np.lexsort((np.arange(weights.size), -weights))[:MAX_RANKED]
    order = order[weights[order] > 0]
    return [(class_ids[k], round(float(weights[k]) / total, 6)) for k in order]
