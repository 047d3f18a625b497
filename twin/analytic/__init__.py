"""Queueing theory: the closed forms the engines are checked against and `twin analyze` prints.

    erlang        M/M/c by Erlang C (and Erlang B), with wait and sojourn distributions
    finite        M/M/c/K: a finite queue, its blocking probability and throughput
    erlang_batch  Erlang C over NumPy arrays of arrival rates (for the fluid engine)
    waiting       the M/M/c wait and sojourn distributions on floats or arrays
    pk            M/G/1 by Pollaczek-Khinchine, M/G/c by Allen-Cunneen (an approximation)
    jackson       open networks from a `kind: network` scenario

Everything here is pure calculation: numbers in, frozen records out.
"""

from twin.analytic.erlang import MMc, erlang_b, erlang_c, mmc
from twin.analytic.erlang_batch import MMcBatch, erlang_c_many, mmc_many
from twin.analytic.finite import MMcK, mmck
from twin.analytic.jackson import NetworkResult, SourceResult, StationResult, analyze_network
from twin.analytic.pk import MeanQueue, mg1, mgc_allen_cunneen

__all__ = [
    "MMc",
    "MMcBatch",
    "MMcK",
    "MeanQueue",
    "NetworkResult",
    "SourceResult",
    "StationResult",
    "analyze_network",
    "erlang_b",
    "erlang_c",
    "erlang_c_many",
    "mg1",
    "mgc_allen_cunneen",
    "mmc",
    "mmc_many",
    "mmck",
]
