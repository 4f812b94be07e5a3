"""Bandits: what a Thompson-sampling deployment did, read from its prediction log.

The serving side (``steward.serve.Router``) draws from each arm's Beta(prior + successes,
prior + failures) posterior and serves the arm with the largest draw; rewards in [0, 1]
come back through /feedback, each logged with the route that served the request and the
time. From the log, per time bucket and arm: the share of traffic, the successes and
failures counted so far (a reward r counts r successes and 1 - r failures, as the router
counts it), and the posterior's mean and 95% credible interval (SciPy's beta). At the
end: each arm's posterior and its probability of being the best (seeded Monte Carlo),
and an estimate of the cumulative regret: the sum over rewarded requests of the best
arm's posterior mean minus the chosen arm's. It is an estimate: the true rates are
unknown, so the final posterior means stand in for them.

``simulate_bandit`` drives the same Router against Bernoulli arms of known rates, so the
policy's behaviour can be checked against the truth.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats

from steward.errors import InvalidInput, NotFound
from steward.iterate._servedlog import answered, read_served, resolve, rewards, seconds
from steward.serve import Deployment, DeploymentSpec, Router, get_deployment_history

DRAWS = 100_000
LEVEL = 0.95


class ArmState(BaseModel):
    """One arm at the end of a time bucket: its traffic there, its posterior so far."""

    route: str
    requests: int = Field(description="Requests this arm served in the bucket.")
    share: float = Field(description="Its share of the bucket's requests.")
    successes: float = Field(description="Rewards counted up to the bucket's end.")
    failures: float
    mean: float = Field(description="Posterior mean of the arm's reward rate.")
    low: float = Field(description="95% credible interval, lower end.")
    high: float


class Bucket(BaseModel):
    """A slice of time: each arm's traffic and posterior, and the regret so far."""

    start: float
    end: float
    requests: int
    regret: float = Field(description="Estimated cumulative regret at the bucket's end.")
    arms: list[ArmState]


class ArmPosterior(BaseModel):
    """An arm over the whole window: traffic, rewards, posterior, chance of being best."""

    route: str
    model: str
    requests: int
    share: float
    rewarded: int = Field(description="Requests whose reward came back.")
    successes: float
    failures: float
    mean: float
    low: float
    high: float
    prob_best: float


class BanditAnalysis(BaseModel):
    """A bandit deployment's traffic shares and posteriors over time, and its regret."""

    deployment: str
    revision: int
    window_seconds: float | None
    window_start: float | None
    window_end: float
    log_root: str
    prior: tuple[float, float] = Field(description="Prior (successes, failures) of every arm.")
    requests: int
    rewarded: int
    arms: list[ArmPosterior]
    buckets: list[Bucket]
    best: str | None = Field(description="The arm most likely the best, if any reward came.")
    regret: float = Field(description="Estimated cumulative regret (posterior means).")
    regret_even_split: float = Field(
        description="The same estimate had every arm had an equal share of the rewarded requests."
    )
    notes: list[str] = Field(default_factory=list)
    skipped_segments: list[dict[str, str]] = Field(default_factory=list)

    def to_markdown(self) -> str:
        """Return the analysis as a Markdown report."""
        lines = [
            f"# Bandit {self.deployment}",
            "",
            f"{self.requests:,} requests, {self.rewarded:,} rewarded; prior Beta"
            f"({self.prior[0]:g}, {self.prior[1]:g}).",
            "",
            "| arm | model | requests | share | rewarded | successes | failures | mean "
            "| 95% interval | P(best) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for a in self.arms:
            lines.append(
                f"| {a.route} | {a.model} | {a.requests:,} | {a.share:.1%} | {a.rewarded:,} "
                f"| {a.successes:g} | {a.failures:g} | {a.mean:.4f} "
                f"| [{a.low:.4f}, {a.high:.4f}] | {a.prob_best:.1%} |"
            )
        lines += ["", *self.notes]
        return "\n".join(lines) + "\n"


class BanditSimulation(BanditAnalysis):
    """A simulated bandit against arms of known rates, with the true regret beside the estimate."""

    rates: list[float]
    true_regret: float = Field(description="Sum over requests of best rate - chosen arm's rate.")
    true_regret_even_split: float = Field(description="The same for an even split of traffic.")


def analyze_bandit(
    deployment: str | Deployment,
    *,
    window_seconds: float | None = None,
    buckets: int = 20,
) -> BanditAnalysis:
    """Return a bandit deployment's analysis from its log: traffic share and posterior per
    arm over ``buckets`` slices of time, each arm's chance of being best, and regret."""
    found = resolve(deployment)
    spec = found.spec
    ended = None
    if spec.policy != "bandit":  # a bandit that ended: read it as its last revision ran
        try:
            history = get_deployment_history(found.name)
        except NotFound:  # a deployment record given that this store does not hold
            history = []
        past = [h for h in history if h.spec.policy == "bandit"]
        if past:
            spec, ended = past[-1].spec, past[-1].revision
    if spec.policy != "bandit":
        raise InvalidInput(
            f"Deployment {found.name!r} is not a bandit (its policy is {spec.policy!r}): a "
            "bandit analysis reads the rewards of Thompson-sampling arms. Make it one: "
            f"steward deploy traffic {found.name} --bandit models:/NAME/VERSION"
        )
    log = read_served(found, window_seconds)
    served = answered(log.predictions, "primary")
    if len(served):
        served = served.drop_duplicates("request_id")
        requests = pd.DataFrame(
            {"time": seconds(served["time"]).to_numpy(), "route": served["route"].to_numpy()}
        )
    else:
        requests = pd.DataFrame({"time": [], "route": []})
    given = rewards(log.feedback)
    rewarded = pd.DataFrame(
        {
            "time": seconds(given["time"]).to_numpy() if len(given) else [],
            "route": given["route"].to_numpy(),
            "reward": given["reward"].to_numpy(dtype=float),
        }
    )
    analysis = _analyze(
        spec,
        requests,
        rewarded,
        buckets,
        deployment=found.name,
        revision=found.revision,
        window_seconds=window_seconds,
        window_start=log.start,
        window_end=log.end,
        log_root=log.root,
        skipped_segments=log.skipped,
    )
    if ended is not None:
        analysis.notes.insert(
            0,
            f"The bandit ended: the deployment's policy is {found.spec.policy!r} now; its "
            f"arms are read as revision {ended} ran them.",
        )
    if not len(requests):
        analysis.notes.insert(
            0, f"No requests were logged in the window (log: {log.root}): send traffic first."
        )
    return analysis


def simulate_bandit(
    rates: list[float],
    requests: int,
    *,
    seed: int = 0,
    prior: tuple[float, float] = (1.0, 1.0),
    buckets: int = 20,
) -> BanditSimulation:
    """Return the analysis of serve's Thompson-sampling Router run for ``requests`` requests
    against Bernoulli arms with the given reward ``rates`` (one arm a rate)."""
    if len(rates) < 2 or any(not 0 <= r <= 1 for r in rates):
        raise InvalidInput(f"Give two or more reward rates from 0 to 1; got {rates}.")
    if requests < 1:
        raise InvalidInput(f"requests must be 1 or more; got {requests}.")
    spec = DeploymentSpec.model_validate(
        {
            "policy": "bandit",
            "routes": [
                {"name": f"arm-{i + 1}", "model": f"rate {r:g}"} for i, r in enumerate(rates)
            ],
            "bandit": {"prior_successes": prior[0], "prior_failures": prior[1]},
        }
    )
    router = Router(spec)
    router._rng.seed(seed)  # the router's own draws, seeded: the same run every time
    world = random.Random(seed + 1)
    chosen: list[int] = []
    outcomes: list[float] = []
    for _ in range(requests):
        index = router.choose(None)
        reward = 1.0 if world.random() < rates[index] else 0.0
        router.reward(spec.routes[index].name, reward)
        chosen.append(index)
        outcomes.append(reward)
    names = [spec.routes[i].name for i in chosen]
    times = np.arange(requests, dtype=float)
    served = pd.DataFrame({"time": times, "route": names})
    given = pd.DataFrame({"time": times, "route": names, "reward": outcomes})
    analysis = _analyze(
        spec,
        served,
        given,
        buckets,
        deployment="simulation",
        revision=0,
        window_seconds=float(requests),
        window_start=0.0,
        window_end=float(requests),
        log_root="",
        skipped_segments=[],
    )
    best = max(rates)
    true_regret = float(sum(best - rates[i] for i in chosen))
    return BanditSimulation(
        **analysis.model_dump(),
        rates=list(rates),
        true_regret=true_regret,
        true_regret_even_split=float(requests * (best - float(np.mean(rates)))),
    )


def _analyze(
    spec: DeploymentSpec,
    requests: pd.DataFrame,
    rewarded: pd.DataFrame,
    buckets: int,
    **record: Any,
) -> BanditAnalysis:
    """Return the analysis of ``requests`` (time, route) and ``rewarded`` (time, route, reward)."""
    if buckets < 1:
        raise InvalidInput(f"buckets must be 1 or more; got {buckets}.")
    prior = (spec.bandit.prior_successes, spec.bandit.prior_failures)
    arms = [r.name for r in spec.serving]
    models = {r.name: r.resolved or r.model for r in spec.serving}
    notes: list[str] = []
    other = sorted(set(requests["route"]) - set(arms))
    if other:
        notes.append(
            f"Requests served by routes the deployment no longer has ({', '.join(other)}) "
            "are left out."
        )
    requests = requests[requests["route"].isin(arms)]
    rewarded = rewarded[rewarded["route"].isin(arms)]
    successes = {a: float(rewarded.loc[rewarded["route"] == a, "reward"].sum()) for a in arms}
    counts = {a: int((rewarded["route"] == a).sum()) for a in arms}
    failures = {a: counts[a] - successes[a] for a in arms}
    means = {a: _mean(prior, successes[a], failures[a]) for a in arms}
    best_mean = max(means.values())
    gaps = rewarded["route"].map(lambda a: best_mean - means[a]).to_numpy(dtype=float)
    probs = _prob_best(prior, [successes[a] for a in arms], [failures[a] for a in arms])
    total = len(requests)
    final = []
    for a, prob in zip(arms, probs, strict=True):
        low, high = _interval(prior, successes[a], failures[a])
        served = int((requests["route"] == a).sum())
        final.append(
            ArmPosterior(
                route=a,
                model=models[a],
                requests=served,
                share=served / total if total else 0.0,
                rewarded=counts[a],
                successes=successes[a],
                failures=failures[a],
                mean=means[a],
                low=low,
                high=high,
                prob_best=prob,
            )
        )
    regret = float(gaps.sum())
    even = float(len(rewarded) * (best_mean - float(np.mean(list(means.values())))))
    best = max(final, key=lambda f: f.prob_best).route if len(rewarded) else None
    if len(rewarded):
        notes.append(
            f"Regret is an estimate: {regret:.4g} rewards lost against always serving the arm "
            "with the best posterior mean, with the final posterior means standing in for the "
            f"unknown true rates (an even split of the same requests: {even:.4g})."
        )
    else:
        notes.append("No rewards came back yet: every posterior is still the prior.")
    return BanditAnalysis(
        prior=prior,
        requests=total,
        rewarded=len(rewarded),
        arms=final,
        buckets=_buckets(arms, prior, requests, rewarded, gaps, buckets),
        best=best,
        regret=regret,
        regret_even_split=even,
        notes=notes,
        **record,
    )


def _buckets(
    arms: list[str],
    prior: tuple[float, float],
    requests: pd.DataFrame,
    rewarded: pd.DataFrame,
    gaps: np.ndarray,
    count: int,
) -> list[Bucket]:
    times = np.concatenate(
        [requests["time"].to_numpy(dtype=float), rewarded["time"].to_numpy(dtype=float)]
    )
    if not len(times):
        return []
    first, last = float(times.min()), float(times.max())
    width = (last - first) / count
    if width <= 0:
        count, width = 1, 1.0

    def slot(t: pd.Series) -> np.ndarray:
        found = np.floor((t.to_numpy(dtype=float) - first) / width).astype(int)
        clipped: np.ndarray = np.clip(found, 0, count - 1)
        return clipped

    request_slot, reward_slot = slot(requests["time"]), slot(rewarded["time"])
    regret = np.cumsum(np.bincount(reward_slot, weights=gaps, minlength=count))
    out = []
    for i in range(count):
        here = requests["route"].to_numpy()[request_slot == i]
        upto = rewarded[reward_slot <= i]
        states = []
        for a in arms:
            s = float(upto.loc[upto["route"] == a, "reward"].sum())
            f = float((upto["route"] == a).sum()) - s
            low, high = _interval(prior, s, f)
            served = int((here == a).sum())
            states.append(
                ArmState(
                    route=a,
                    requests=served,
                    share=served / len(here) if len(here) else 0.0,
                    successes=s,
                    failures=f,
                    mean=_mean(prior, s, f),
                    low=low,
                    high=high,
                )
            )
        out.append(
            Bucket(
                start=first + i * width,
                end=first + (i + 1) * width,
                requests=len(here),
                regret=float(regret[i]),
                arms=states,
            )
        )
    return out


def _mean(prior: tuple[float, float], s: float, f: float) -> float:
    a, b = prior[0] + s, prior[1] + f
    return a / (a + b)


def _interval(prior: tuple[float, float], s: float, f: float) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2
    low, high = stats.beta.ppf([tail, 1 - tail], prior[0] + s, prior[1] + f)
    return float(low), float(high)


def _prob_best(prior: tuple[float, float], s: list[float], f: list[float]) -> list[float]:
    """Return each arm's probability of the highest rate, from seeded posterior draws."""
    rng = np.random.default_rng(0)
    draws = np.stack(
        [rng.beta(prior[0] + si, prior[1] + fi, DRAWS) for si, fi in zip(s, f, strict=True)]
    )
    wins = np.bincount(draws.argmax(axis=0), minlength=len(s))
    return [float(w) / DRAWS for w in wins]
