"""Implicit-feedback ALS: train on the riders' history, answer top-n for one rider.

Training is CPU-bound (about a second for 2,000 riders x 2,000 classes) and is meant to run
in a worker thread; a trained `Recommender` is immutable, so the event loop keeps answering
from the old one until the new one is swapped in. The hyper-parameters are seed 000's:
factors 50, regularization 0.01, 20 iterations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from twin.serve.recommend.interactions import History, rider_id
from twin.serve.recommend.popular import Popularity

__all__ = ["AlsConfig", "Interaction", "Recommender", "train"]

Interaction = tuple[str, str, float]  # (rider_id, class_id, weight) as the backend stores it


@dataclass(frozen=True, slots=True)
class AlsConfig:
    """ALS hyper-parameters (seed 000) and the seed of its initial factors."""

    factors: int = 50
    regularization: float = 0.01
    iterations: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.factors < 1 or self.iterations < 1:
            raise ValueError("factors and iterations must be >= 1")
        if self.regularization < 0:
            raise ValueError("regularization must be >= 0")


class Recommender:
    """A trained model with its rider and class indices; immutable once built.

    `fingerprint` names the training data and configuration: two processes that trained on
    the same interactions share it, so it can key a shared cache. `popular` answers the riders
    it does not know (the cold-start fallback).
    """

    def __init__(
        self,
        model: object,
        riders: dict[str, int],
        class_ids: tuple[str, ...],
        user_items: sp.csr_matrix,
        fingerprint: str,
        popular: Popularity,
    ) -> None:
        self._model = model
        self._riders = riders
        self._items = {cid: k for k, cid in enumerate(class_ids)}
        self.class_ids = class_ids
        self.user_items = user_items
        self.fingerprint = fingerprint
        self.popular = popular

    @property
    def n_riders(self) -> int:
        return len(self._riders)

    def knows(self, rider: str) -> bool:
        return rider in self._riders

    def taken(self, rider: str) -> list[str]:
        """The classes in `rider`'s training history."""
        row = self._riders[rider]
        start, stop = self.user_items.indptr[row], self.user_items.indptr[row + 1]
        return [self.class_ids[k] for k in self.user_items.indices[start:stop]]

    def recommend(
        self, rider: str, n: int, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]] | None:
        """Top `n` (class_id, score), best first, never a class already taken; None if unknown."""
        row = self._riders.get(rider)
        if row is None:
            return None
        skip = np.array([self._items[c] for c in exclude if c in self._items], dtype=np.int32)
        ids, scores = self._model.recommend(  # type: ignore[attr-defined]
            row,
            self.user_items[row],
            N=n,
            filter_already_liked_items=True,
            filter_items=skip if skip.size else None,
        )
        keep = (ids >= 0) & np.isfinite(scores)
        return [(self.class_ids[i], float(s)) for i, s in zip(ids[keep], scores[keep], strict=True)]


def train(history: History, extra: Iterable[Interaction], config: AlsConfig) -> Recommender:
    """Fit ALS on the generated history plus the interactions the platform stored since."""
    riders, matrix = _matrix(history, extra)
    fingerprint = _fingerprint(matrix, config)
    model = _fit(matrix, config)
    popular = Popularity.build(
        matrix, history.rider_region, history.rider_device, history.class_ids, history.playable
    )
    return Recommender(model, riders, history.class_ids, matrix, fingerprint, popular)


def _matrix(history: History, extra: Iterable[Interaction]) -> tuple[dict[str, int], sp.csr_matrix]:
    """Riders x classes confidence matrix; stored interactions on unknown classes are dropped."""
    riders = {rider_id(i): i for i in range(history.n_riders)}
    items = {cid: k for k, cid in enumerate(history.class_ids)}
    rows, cols, weights = [history.rider], [history.item], [history.weight]
    more_r, more_c, more_w = [], [], []
    for rider, class_id, weight in extra:
        col = items.get(class_id)
        if col is None:
            continue  # a live class: not in the on-demand library the model ranks
        more_r.append(riders.setdefault(rider, len(riders)))
        more_c.append(col)
        more_w.append(weight)
    rows.append(np.asarray(more_r, dtype=np.int64))
    cols.append(np.asarray(more_c, dtype=np.int64))
    weights.append(np.asarray(more_w, dtype=np.float32))
    shape = (len(riders), len(history.class_ids))
    coo = sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))))
    matrix = sp.csr_matrix(coo, shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data = np.maximum(matrix.data, 0.0)  # bad ratings can cancel a ride, not go below
    matrix.eliminate_zeros()
    return riders, matrix


def _fit(matrix: sp.csr_matrix, config: AlsConfig) -> object:
    """Fit on one BLAS thread: implicit warns (and is slower) with a BLAS thread pool."""
    # Deferred: implicit (and its BLAS) loads only when a model is fitted, not with the service.
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            iterations=config.iterations,
            random_state=config.seed,
            num_threads=1,
        )
        model.fit(matrix, show_progress=False)
    return model


def _fingerprint(matrix: sp.csr_matrix, config: AlsConfig) -> str:
    digest = hashlib.blake2b(repr(config).encode(), digest_size=8)
    for part in (matrix.indptr, matrix.indices, matrix.data):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(repr(matrix.shape).encode())
    return digest.hexdigest()
