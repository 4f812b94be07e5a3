"""The deploy stage's public API: create and change deployments, tokens, specs from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.configs import load_config
from steward.context import get_backend
from steward.errors import InvalidInput, did_you_mean
from steward.serve._models import (
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
    NewServingToken,
    Policy,
    Route,
    ServingToken,
)


def load_spec(path: str | Path) -> DeploymentSpec:
    """Return the deployment spec in a YAML file (errors name the line and the key)."""
    return load_config(path, DeploymentSpec)


def traffic_spec(
    model_uri: str,
    *,
    shadow: list[str] | None = None,
    ab: dict[str, float] | None = None,
    bandit: list[str] | None = None,
    sticky_column: str | None = None,
    base: DeploymentSpec | None = None,
) -> DeploymentSpec:
    """Return the spec of a policy built from URIs: the model alone, or with shadows,
    an A/B split (URI -> weight, the model's own weight under its URI) or bandit arms.

    Settings other than the routes (log, batching...) are kept from ``base``.
    """
    chosen = [p for p, v in (("shadow", shadow), ("ab", ab), ("bandit", bandit)) if v]
    if len(chosen) > 1:
        raise InvalidInput(
            f"Choose one traffic policy; got {' and '.join(chosen)}. A deployment either shadows, "
            "splits A/B, or runs a bandit."
        )
    policy: Policy = "single"
    routes = [Route(name="primary", model=model_uri)]
    if shadow:
        policy = "shadow"
        routes += [
            Route(name=f"shadow-{i + 1}" if len(shadow) > 1 else "shadow", model=u, shadow=True)
            for i, u in enumerate(shadow)
        ]
    elif ab:
        policy = "ab"
        weights = dict(ab)
        primary_weight = weights.pop(model_uri, None)
        if primary_weight is None:
            raise InvalidInput(
                f"An A/B split gives each model a weight, the served model's too: include "
                f"{model_uri}=<weight> among the weights (got {', '.join(ab)})."
            )
        routes = [Route(name="a", model=model_uri, weight=primary_weight)]
        routes += [
            Route(name=chr(ord("b") + i), model=u, weight=w)
            for i, (u, w) in enumerate(weights.items())
        ]
    elif bandit:
        policy = "bandit"
        routes = [Route(name="arm-1", model=model_uri)]
        routes += [Route(name=f"arm-{i + 2}", model=u) for i, u in enumerate(bandit)]
    settings = base.model_dump(exclude={"policy", "routes", "sticky_column"}) if base else {}
    try:
        return DeploymentSpec.model_validate(
            {**settings, "policy": policy, "routes": routes, "sticky_column": sticky_column}
        )
    except ValueError as exc:
        raise InvalidInput(f"The traffic policy is not valid: {exc}") from exc


def create_deployment(
    name: str,
    spec: DeploymentSpec | str | Path,
    *,
    description: str = "",
    reason: str = "",
) -> Deployment:
    """Return a new deployment serving ``spec``: a spec, a YAML file, or one model's URI."""
    return get_backend().create_deployment(name, _spec(spec), description, reason)


def _spec(spec: DeploymentSpec | str | Path) -> DeploymentSpec:
    if isinstance(spec, DeploymentSpec):
        return spec
    text = str(spec)
    if text.startswith(("models:", "runs:")):
        return traffic_spec(text)
    return load_spec(spec)


def get_deployment(name: str) -> Deployment:
    """Return deployment ``name`` with its current spec and revision."""
    return get_backend().get_deployment(name)


def list_deployments() -> list[Deployment]:
    """Return every deployment."""
    return get_backend().list_deployments()


def get_deployment_history(name: str) -> list[DeploymentRevision]:
    """Return every revision of a deployment, oldest first: what, who, when and why."""
    return get_backend().get_deployment_history(name)


def update_deployment(
    name: str,
    spec: DeploymentSpec | str | Path,
    *,
    reason: str = "",
    expected_revision: int | None = None,
) -> Deployment:
    """Return the deployment after making ``spec`` (a spec, a YAML file or a URI) its next revision."""
    return get_backend().update_deployment(name, _spec(spec), reason, expected_revision)


def set_deployment_model(
    name: str,
    model_uri: str,
    *,
    route: str | None = None,
    reason: str = "",
    expected_revision: int | None = None,
) -> Deployment:
    """Return the deployment after pointing one route (default: the serving one) at a model.

    This is the blue-green switch: running servers load and warm the new model beside the
    old, then switch atomically. Switching back is the same call with the old URI.
    """
    backend = get_backend()
    current = backend.get_deployment(name)
    spec = current.spec
    names = [r.name for r in spec.routes]
    if route is None:
        if len(spec.serving) != 1:
            raise InvalidInput(
                f"Deployment {name!r} serves {len(spec.serving)} routes "
                f"({', '.join(r.name for r in spec.serving)}); say which with route=."
            )
        route = spec.serving[0].name
    if route not in names:
        raise InvalidInput(
            f"Deployment {name!r} has no route {route!r}.{did_you_mean(route, names)} "
            f"Its routes are: {', '.join(names)}."
        )
    routes = [
        r.model_copy(update={"model": model_uri, "resolved": None}) if r.name == route else r
        for r in spec.routes
    ]
    new = spec.model_copy(update={"routes": routes})
    expected = current.revision if expected_revision is None else expected_revision
    return backend.update_deployment(name, new, reason, expected)


def set_traffic(
    name: str,
    *,
    shadow: list[str] | None = None,
    ab: dict[str, float] | None = None,
    bandit: list[str] | None = None,
    sticky_column: str | None = None,
    reason: str = "",
) -> Deployment:
    """Return the deployment after changing its traffic policy around its serving model.

    Without any of ``shadow``, ``ab`` or ``bandit`` it goes back to serving one model.
    """
    backend = get_backend()
    current = backend.get_deployment(name)
    primary = current.spec.serving[0]
    uri = primary.resolved or primary.model  # keep the version served now, not the alias's
    spec = traffic_spec(
        uri, shadow=shadow, ab=ab, bandit=bandit, sticky_column=sticky_column, base=current.spec
    )
    return backend.update_deployment(name, spec, reason, current.revision)


def create_serving_token(name: str, label: str = "") -> NewServingToken:
    """Return a new token for a deployment; keep its ``secret``: it is not stored."""
    return get_backend().create_serving_token(name, label)


def list_serving_tokens(name: str) -> list[ServingToken]:
    """Return a deployment's tokens (prefixes only)."""
    return get_backend().list_serving_tokens(name)


def revoke_serving_token(name: str, token_id: int) -> ServingToken:
    """Return a token after revoking it."""
    return get_backend().revoke_serving_token(name, token_id)


def describe_routes(spec: DeploymentSpec) -> list[dict[str, Any]]:
    """Return one line of facts per route, for printing."""
    total = sum(r.weight for r in spec.serving) or 1.0
    return [
        {
            "route": r.name,
            "model": r.resolved or r.model,
            "requested": r.model,
            "role": "shadow" if r.shadow else "serves",
            "share": (None if r.shadow else (r.weight / total if spec.policy == "ab" else None)),
        }
        for r in spec.routes
    ]
