"""Traffic policies: which route answers a request, and the request ids that remember it.

- single: the one serving route;
- shadow: the serving route answers; every shadow route scores the same request later;
- ab: routes by weight; with an entity key (the request's ``entity``, or the value of the
  spec's ``sticky_column``) the same entity always lands on the same route (a hash of the
  key, not a random draw);
- bandit: Thompson sampling: draw from each route's Beta(successes + prior, failures +
  prior) and take the largest; rewards come back through ``/feedback``.

A request id is 32 hex characters: 22 random, 2 for the route that answered, 8 of a
keyed BLAKE2b digest of the rest with the deployment's key (a MAC, at a fifth of HMAC's
cost on this hot path). Any replica can tell from an id alone
whether its deployment issued it and which route served it (for the bandit's rewards),
without a lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import uuid
from typing import Any

from steward.serve._models import DeploymentSpec

ID_LENGTH = 32


class RequestIds:
    """Issues request ids that carry their route, and checks ids given back."""

    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(key.encode()).digest()  # BLAKE2b keys are <= 64 bytes

    def issue(self, route: int) -> str:
        """Return a new request id for a request served by route number ``route``."""
        body = f"{uuid.uuid4().hex[:22]}{route:02x}"
        return body + self._mac(body)

    def route_of(self, request_id: Any) -> int | None:
        """Return the route number of an id this deployment issued, or None for any other."""
        if not isinstance(request_id, str) or len(request_id) != ID_LENGTH:
            return None
        body, mac = request_id[:24], request_id[24:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            return int(body[22:24], 16)
        except ValueError:
            return None

    def _mac(self, body: str) -> str:
        return hashlib.blake2b(body.encode(), key=self._key, digest_size=4).hexdigest()


class Router:
    """Chooses the serving route of each request under the spec's policy."""

    def __init__(self, spec: DeploymentSpec, arms: dict[str, tuple[float, float]] | None = None):
        self.spec = spec
        self.serving = [i for i, r in enumerate(spec.routes) if not r.shadow]
        self.shadows = [i for i, r in enumerate(spec.routes) if r.shadow]
        weights = [spec.routes[i].weight for i in self.serving]
        total = sum(weights) or 1.0
        self._cumulative = []
        acc = 0.0
        for w in weights:
            acc += w / total
            self._cumulative.append(acc)
        self._rng = random.Random()
        self._lock = threading.Lock()
        self.arms: dict[str, tuple[float, float]] = dict(arms or {})  # store totals
        self.pending: dict[str, list[float]] = {}  # rewards not yet sent to the store

    def choose(self, entity: str | None) -> int:
        """Return the index (in ``spec.routes``) of the route that answers this request."""
        policy = self.spec.policy
        if policy in ("single", "shadow"):
            return self.serving[0]
        if policy == "ab":
            point = _unit(entity) if entity is not None else self._rng.random()
            for index, bound in zip(self.serving, self._cumulative, strict=True):
                if point < bound:
                    return index
            return self.serving[-1]
        return self._thompson()

    def _thompson(self) -> int:
        prior_s, prior_f = self.spec.bandit.prior_successes, self.spec.bandit.prior_failures
        best, best_draw = self.serving[0], -1.0
        with self._lock:
            for index in self.serving:
                name = self.spec.routes[index].name
                s, f = self.posterior(name)
                draw = self._rng.betavariate(s + prior_s, f + prior_f)
                if draw > best_draw:
                    best, best_draw = index, draw
        return best

    def posterior(self, route: str) -> tuple[float, float]:
        """Return a route's (successes, failures): the store's totals plus what is pending."""
        s, f = self.arms.get(route, (0.0, 0.0))
        ps, pf = self.pending.get(route, (0.0, 0.0))
        return s + ps, f + pf

    def reward(self, route: str, reward: float) -> None:
        """Count a reward in [0, 1] for a route (sent to the store with the next poll)."""
        with self._lock:
            counts = self.pending.setdefault(route, [0.0, 0.0])
            counts[0] += reward
            counts[1] += 1.0 - reward

    def take_pending(self) -> dict[str, tuple[float, float]]:
        """Return and forget the rewards counted since the last call."""
        with self._lock:
            pending = {k: (v[0], v[1]) for k, v in self.pending.items()}
            self.pending = {}
        return pending

    def restore_pending(self, pending: dict[str, tuple[float, float]]) -> None:
        """Put rewards back after the store could not take them."""
        with self._lock:
            for route, (s, f) in pending.items():
                counts = self.pending.setdefault(route, [0.0, 0.0])
                counts[0] += s
                counts[1] += f


def _unit(key: str) -> float:
    """Return a stable number in [0, 1) for an entity key (the same on every replica)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
