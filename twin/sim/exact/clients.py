"""The exact engine's clients: every call a rider makes times out, and may be retried.

A call may be answered (its request left the network), may be lost (dropped by a full queue
or a service down), or is going to time out when no answer came within its type's timeout;
the client then stops waiting (the request itself stays queued: the server does not know,
which is what makes retry storms costly). A failed call is retried after a capped
exponential backoff with full jitter (`twin.config.clients.Clients`), up to `retries` times;
a join is retried until the rider's patience runs out; periodic calls (playlist, segment,
leaderboard) are not retried: the next period sends a fresh one.

Timeouts cost no event per call: a type's timeout is fixed, so its deadlines come in send
order, and one timer per type wakes at the oldest pending deadline (rounded up to
`WHEEL_S`, as a client's timer wheel does) and expires every call due by then.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import simpy

from twin.config.clients import NO_RETRY, Clients
from twin.sim.distributions import BlockSampler
from twin.sim.exact.station import Request

__all__ = ["WHEEL_S", "Call", "ClientPool"]

WHEEL_S = 0.05

# on_result(ok, seconds from the first attempt to the answer)
OnResult = Callable[[bool, float], None]


class Call:
    """One logical call: its attempts share `first`; `pending` until answered or given up."""

    __slots__ = ("attempt", "deadline", "first", "kind", "on_result", "pending")

    def __init__(self, kind: int, first: float, on_result: OnResult | None) -> None:
        self.kind = kind
        self.first = first
        self.deadline = math.inf
        self.attempt = 0
        self.pending = True
        self.on_result = on_result


class _Timer:
    """The timeouts of one request type, in send order."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.calls: deque[tuple[float, int, Call]] = deque()  # (deadline, attempt, call)
        self.armed = False


class ClientPool:
    """Sends the riders' calls into the network and handles answers, timeouts and retries.

    `emit[k](token)` puts a request of type `names[k]` into the network, its token the call
    and the attempt; the network calls `settle(request, ok)` when one is answered or lost.
    `stats` counts per type the retries, timeouts and calls given up.
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        names: Sequence[str],
        emit: Sequence[Callable[[Any], None]],
        policy: Clients,
        segment_s: float,
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.names = list(names)
        self.emit = list(emit)
        self.policy = policy
        self.join = self.names.index("join") if "join" in self.names else -1
        self.retry = [n not in NO_RETRY for n in self.names]
        self.timers = [_Timer(policy.timeout_for(n, segment_s)) for n in self.names]
        self.uniform = BlockSampler(lambda n: rng.random(n))
        zeros = dict.fromkeys(("retries", "timeouts", "gave_up"), 0)
        self.stats = {n: dict(zeros) for n in self.names}

    def send(self, kind: int, on_result: OnResult | None = None) -> Call:
        """Make a call of type `kind` now."""
        call = Call(kind, self.env.now, on_result)
        self._attempt(call)
        return call

    def _attempt(self, call: Call) -> None:
        timer = self.timers[call.kind]
        call.deadline = self.env.now + timer.timeout_s
        timer.calls.append((call.deadline, call.attempt, call))
        if not timer.armed:
            self._arm(timer, call.deadline)
        self.emit[call.kind]((call, call.attempt))

    def _arm(self, timer: _Timer, deadline: float) -> None:
        timer.armed = True
        wake = math.ceil(deadline / WHEEL_S - 1e-9) * WHEEL_S
        event = self.env.timeout(max(wake - self.env.now, 0.0), value=timer)
        event.callbacks.append(self._expire)

    def _expire(self, event: simpy.Event) -> None:
        timer = cast(_Timer, event.value)
        now, calls = self.env.now + 1e-9, timer.calls
        while calls and calls[0][0] <= now:
            _, attempt, call = calls.popleft()
            if call.pending and call.attempt == attempt:
                self.stats[self.names[call.kind]]["timeouts"] += 1
                self._failed(call)
        timer.armed = False
        if calls:
            self._arm(timer, calls[0][0])

    def settle(self, request: Request, ok: bool) -> None:
        """The network's answer to an attempt (ignored when the client stopped waiting)."""
        call, attempt = request[4]
        if not call.pending or attempt != call.attempt or self.env.now > call.deadline:
            return
        if ok:
            self._done(call, True)
        else:
            self._failed(call)

    def _failed(self, call: Call) -> None:
        if not self.retry[call.kind]:
            self._done(call, False)
            return
        call.attempt += 1
        wait = self._backoff(call.attempt)
        give_up = (
            self.env.now + wait - call.first > self.policy.join_patience_s
            if call.kind == self.join
            else call.attempt > self.policy.retries
        )
        if give_up:
            self.stats[self.names[call.kind]]["gave_up"] += 1
            self._done(call, False)
            return
        self.stats[self.names[call.kind]]["retries"] += 1
        event = self.env.timeout(wait, value=call)
        event.callbacks.append(lambda e: self._attempt(e.value))

    def _backoff(self, attempt: int) -> float:
        ceiling = self.policy.backoff_ceiling(attempt)
        return ceiling * self.uniform.draw() if self.policy.jitter else ceiling

    def _done(self, call: Call, ok: bool) -> None:
        call.pending = False
        if call.on_result is not None:
            call.on_result(ok, self.env.now - call.first)
