"""Live deployments with real prediction logs: shadow, bandit and A/B, served in-process.

One store is filled once a test session (per xdist worker) and shared by the iterate,
UI and browser tests: models registered through the public API, deployments created,
each served by the real serving app (ASGI, in-process) while requests and feedback are
sent to it, and its prediction log flushed. What was sent is kept beside it, so tests
compute what the analyses should say from the traffic itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward
from steward._backend import SqlBackend, set_backend
from steward.iterate import plan_ab_test, set_ab_plan
from steward.serve import Deployment, DeploymentSpec, traffic_spec
from tests.serve.conftest import records, serving

BANDIT_RATES = {"arm-1": 0.2, "arm-2": 0.6}
AB_RATES = {"a": 0.15, "b": 0.35}
AB_PLAN = plan_ab_test("proportion", 0.15, 0.10)  # 250 an arm: more than the test sends


@dataclass
class Sent:
    """What a deployment was sent: one entry per request."""

    request_ids: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    rows: list[pd.DataFrame] = field(default_factory=list)
    labels: dict[str, list[Any]] = field(default_factory=dict)  # request id -> label per row
    rewards: dict[str, float] = field(default_factory=dict)  # request id -> reward


@dataclass
class Live:
    """The filled store, its home, the models' estimators and what each deployment got."""

    home: Path
    backend: SqlBackend
    models: dict[str, Any]
    sent: dict[str, Sent]

    def deployment(self, name: str) -> Deployment:
        """Return a deployment's record from the store."""
        return self.backend.get_deployment(name)


_built: dict[str, Live] = {}


def classification(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Return two numeric inputs and a label a logistic model finds well (about 85%)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n).round(3), "x2": rng.normal(size=n).round(3)})
    logit = 2.5 * X["x1"] - 2.0 * X["x2"] - 0.8
    return X, pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="y")


def regression(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Return three numeric inputs and a linear target with noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)).round(3), columns=["a", "b", "c"])
    return X, pd.Series(2 * X["a"] - X["b"] + 0.5 * X["c"] + rng.normal(0, 0.3, n), name="t")


def _spec(spec: DeploymentSpec, logs: Path, name: str) -> DeploymentSpec:
    """Return ``spec`` logging to a folder of its own (independent of STEWARD_HOME)."""
    log = spec.log.model_copy(update={"uri": str(logs / name), "flush_seconds": 0.2})
    return spec.model_copy(update={"log": log})


def _send(
    client: Any, X: pd.DataFrame, n: int, *, multi_every: int = 0
) -> tuple[list[str], list[str], list[pd.DataFrame]]:
    """Send ``n`` /predict requests of one row (three rows every ``multi_every``-th)."""
    ids, routes, rows = [], [], []
    for i in range(n):
        size = 3 if multi_every and i % multi_every == 0 else 1
        frame = X.iloc[i % (len(X) - 3) :][:size]
        answer = client.post("/predict", json={"records": records(frame)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        ids.append(body["request_id"])
        routes.append(body["route"])
        rows.append(frame)
    return ids, routes, rows


def _drain(prepared: Any, shadows: int) -> None:
    """Wait until the shadow routes scored every queued request, then write the log."""
    state = prepared.state
    deadline = time.monotonic() + 30
    while shadows and state.shadow_queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3 if shadows else 0.0)  # the job being scored when the queue emptied
    state.log.flush()


def _serve_shadow(
    name: str, X: pd.DataFrame, y: pd.Series, n: int, label_share: float, live: Live
) -> None:
    sent = Sent()
    with serving(deployment=name) as (client, prepared):
        sent.request_ids, sent.routes, sent.rows = _send(client, X, n, multi_every=10)
        labels = []
        for i, (request_id, frame) in enumerate(zip(sent.request_ids, sent.rows, strict=True)):
            if i < int(n * label_share) and len(frame) == 1:
                value = y.loc[frame.index[0]].item()
                sent.labels[request_id] = [value]
                labels.append({"request_id": request_id, "label": value})
        if labels:
            answer = client.post("/feedback", json=labels)
            assert answer.status_code == 200, answer.text
        _drain(prepared, shadows=1)
    live.sent[name] = sent


def _serve_rewards(name: str, X: pd.DataFrame, n: int, rates: dict[str, float], live: Live) -> None:
    """Send requests one by one, each followed by its reward (Bernoulli at its route's rate)."""
    sent = Sent()
    world = random.Random(11)
    with serving(deployment=name) as (client, prepared):
        for i in range(n):
            ids, routes, rows = _send(client, X.iloc[i % 50 :], 1)
            reward = 1.0 if world.random() < rates[routes[0]] else 0.0
            answer = client.post("/feedback", json={"request_id": ids[0], "reward": reward})
            assert answer.status_code == 200, answer.text
            sent.request_ids += ids
            sent.routes += routes
            sent.rows += rows
            sent.rewards[ids[0]] = reward
        _drain(prepared, shadows=0)
    live.sent[name] = sent


def build_live(tmp_path_factory: pytest.TempPathFactory) -> Live:
    """Return the shared store with its served deployments (built on first use)."""
    if "live" in _built:
        return _built["live"]
    home = tmp_path_factory.mktemp("iterate-live") / "home"
    logs = home.parent / "logs"
    backend = SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home.parent)
        mp.setenv("STEWARD_HOME", str(home))
        mp.setenv("STEWARD_USER", "tester")
        for var in ("STEWARD_URI", "STEWARD_STORE_URI", "STEWARD_ARTIFACT_URI", "STEWARD_PROJECT"):
            mp.delenv(var, raising=False)
        set_backend(backend)
        try:
            live = _fill(Live(home, backend, {}, {}), logs)
        finally:
            set_backend(None)
    _built["live"] = live
    return live


def _fill(live: Live, logs: Path) -> Live:
    X, y = classification(800, seed=0)
    train = X.index < 500
    good = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[train], y[train])
    poor = make_pipeline(StandardScaler(), LogisticRegression(C=1e-4)).fit(X[train], y[train])
    R, t = regression(600, seed=1)
    rtrain = R.index < 300
    rpoor = make_pipeline(StandardScaler(), Ridge(alpha=2000.0)).fit(R[rtrain], t[rtrain])
    rgood = LinearRegression().fit(R[rtrain], t[rtrain])
    for name, model, example in (
        ("clf", good, X.head(20)),
        ("clf", poor, X.head(20)),
        ("reg", rpoor, R.head(20)),
        ("reg", rgood, R.head(20)),
    ):
        with steward.start_run(capture_environment_info=False):
            steward.log_model(model, input_example=example, registered_model_name=name)
    live.models = {"clf/1": good, "clf/2": poor, "reg/1": rpoor, "reg/2": rgood}
    shadow = traffic_spec("models:/clf/1", shadow=["models:/clf/2"])
    holdout, labels = X[~train], y[~train]
    deployments = {
        "clf-shadow": shadow,
        "clf-unlabeled": shadow,
        "reg-shadow": traffic_spec("models:/reg/1", shadow=["models:/reg/2"]),
        "quiet-shadow": shadow,
        "bandit": traffic_spec("models:/clf/1", bandit=["models:/clf/2"]),
        "ab": traffic_spec("models:/clf/1", ab={"models:/clf/1": 0.5, "models:/clf/2": 0.5}),
        "quiet-ab": traffic_spec("models:/clf/1", ab={"models:/clf/1": 0.5, "models:/clf/2": 0.5}),
        "late-ab": traffic_spec("models:/clf/1", ab={"models:/clf/1": 0.5, "models:/clf/2": 0.5}),
    }
    for name, spec in deployments.items():
        steward.create_deployment(name, _spec(spec, logs, name), reason="iterate tests")
    _serve_shadow("clf-shadow", holdout, labels, 230, 0.9, live)
    _serve_shadow("clf-unlabeled", holdout, labels, 210, 0.0, live)
    _serve_shadow("reg-shadow", R[~rtrain], t[~rtrain], 210, 1.0, live)
    _serve_rewards("bandit", holdout, 300, BANDIT_RATES, live)
    set_ab_plan("ab", AB_PLAN)  # planned before the test starts, as it should be
    _serve_rewards("ab", holdout, 160, AB_RATES, live)
    _serve_rewards("late-ab", holdout, 40, AB_RATES, live)  # an earlier test's traffic...
    live.sent["late-ab-before"] = live.sent["late-ab"]
    time.sleep(0.01)
    set_ab_plan("late-ab", AB_PLAN)  # ...then this test's plan and traffic
    _serve_rewards("late-ab", holdout, 30, AB_RATES, live)
    return live


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Live:
    """The shared store with served shadow, bandit and A/B deployments."""
    return build_live(tmp_path_factory)


@pytest.fixture
def on_live(live: Live) -> Iterator[Live]:
    """The shared store as this test's backend (for the API calls that name a deployment)."""
    set_backend(live.backend)
    yield live
    set_backend(None)
