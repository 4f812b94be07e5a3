"""The deploy stage: model-as-a-service (REST, Open Inference Protocol v2), traffic
policies, the prediction log, blue-green switches, batch scoring and container files."""

from steward.serve._api import (
    create_deployment,
    create_serving_token,
    describe_routes,
    get_deployment,
    get_deployment_history,
    list_deployments,
    list_serving_tokens,
    load_spec,
    revoke_serving_token,
    set_deployment_model,
    set_traffic,
    traffic_spec,
    update_deployment,
)
from steward.serve._container import ImageFiles as ImageFiles
from steward.serve._container import build_image as build_image
from steward.serve._deploy_ops import DeployOps as DeployOps
from steward.serve._hooks import DeploymentRequest as DeploymentRequest
from steward.serve._hooks import ServedVersion as ServedVersion
from steward.serve._hooks import add_deployment_hook as add_deployment_hook
from steward.serve._hooks import remove_deployment_hook as remove_deployment_hook
from steward.serve._models import (
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
    NewServingToken,
    Route,
    ServingToken,
)
from steward.serve._run import Prepared as Prepared
from steward.serve._run import prepare_server as prepare_server
from steward.serve._run import run_server as run_server
from steward.serve._score import ScoreResult as ScoreResult
from steward.serve._score import score as score
from steward.serve._stats import RouteTraffic as RouteTraffic
from steward.serve._stats import Traffic, traffic
from steward.serve._stats import log_root as log_root
from steward.serve._traffic import Router as Router

__all__ = [
    "Deployment",
    "DeploymentRevision",
    "DeploymentSpec",
    "ImageFiles",
    "NewServingToken",
    "Route",
    "Router",
    "ScoreResult",
    "ServingToken",
    "Traffic",
    "build_image",
    "create_deployment",
    "create_serving_token",
    "describe_routes",
    "get_deployment",
    "get_deployment_history",
    "list_deployments",
    "list_serving_tokens",
    "load_spec",
    "revoke_serving_token",
    "score",
    "set_deployment_model",
    "set_traffic",
    "traffic",
    "traffic_spec",
    "update_deployment",
]
