"""The Kubernetes objects that run a model's image, written with PyYAML.

One Deployment (probes on the health endpoints, requests and limits, a non-root,
read-only container), its Service and HorizontalPodAutoscaler; and the blue-green
layout: two Deployments, one a slot, behind a Service whose selector picks the live one.
The two layouts share no object name and no pod, so applying one never disturbs the other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

UID = 10001  # numeric, so Kubernetes' runAsNonRoot can verify the image's user
LOG_DIR = "/var/lib/steward/predictions"
HOME_DIR = "/var/lib/steward/home"
CONTAINER = "server"
SLOTS = ("blue", "green")
SINGLE = "k8s/deployment.yaml -f k8s/service.yaml -f k8s/hpa.yaml"  # what `kubectl apply -f` takes


class ContainerSpec(BaseModel):
    """Everything the image's files and the manifests are made from."""

    name: str
    model: str
    deployment: str
    version: int | None
    model_uri: str
    image: str
    base_image: str
    port: int
    max_memory: str
    requests: dict[str, str]
    limits: dict[str, str]
    replicas: int
    min_replicas: int
    max_replicas: int
    target_cpu: int
    wheel: str


def write_manifests(folder: Path, spec: ContainerSpec) -> None:
    """Write deployment.yaml, service.yaml, hpa.yaml and blue-green.yaml into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    single = _labels(spec.name, spec.name)
    slots = [(f"{spec.name}-{slot}", slot) for slot in SLOTS]
    files = {
        "deployment.yaml": [_deployment(spec, spec.name, single)],
        "service.yaml": [_service(spec, spec.name, single)],
        "hpa.yaml": [_hpa(spec)],
        "blue-green.yaml": [
            *(_deployment(spec, name, _labels(spec.name, name, slot)) for name, slot in slots),
            _service(spec, f"{spec.name}-live", {**_selector_base(spec.name), "slot": SLOTS[0]}),
        ],
    }
    for file, objects in files.items():
        text = yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False)
        (folder / file).write_text(_header(spec, file) + text)


class _Dumper(yaml.SafeDumper):
    """YAML as people write manifests: a label set used twice is written twice, not aliased."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _selector_base(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def _labels(name: str, instance: str, slot: str | None = None) -> dict[str, str]:
    """Return the selector labels of one Deployment's pods."""
    labels = {**_selector_base(name), "app.kubernetes.io/instance": instance}
    return {**labels, "slot": slot} if slot else labels


def _metadata(spec: ContainerSpec, name: str, labels: dict[str, str]) -> dict[str, Any]:
    version = str(spec.version) if spec.version is not None else spec.image.rsplit(":", 1)[-1]
    # A label value: at most 63 of [A-Za-z0-9_.-], starting and ending with a letter or digit.
    version = re.sub(r"[^A-Za-z0-9_.-]", "-", version)[:63].strip("-_.")
    return {
        "name": name,
        "labels": {
            **labels,
            **({"app.kubernetes.io/version": version} if version else {}),
            "app.kubernetes.io/component": "model-server",
            "app.kubernetes.io/managed-by": "steward",
        },
        "annotations": {"steward/model": spec.model, "steward/model-uri": spec.model_uri},
    }


def _deployment(spec: ContainerSpec, name: str, selector: dict[str, str]) -> dict[str, Any]:
    meta = _metadata(spec, name, selector)
    probe = {"httpGet": {"path": "/v2/health/live", "port": "http"}, "timeoutSeconds": 3}
    container = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": [
            {"name": "STEWARD_PREDICTION_LOG", "value": LOG_DIR},
            # Math libraries size their thread pools by the node's cores, not the pod's share.
            {
                "name": "OMP_NUM_THREADS",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": CONTAINER,
                        "resource": "limits.cpu",
                        "divisor": "1",
                    }
                },
            },
        ],
        # Liveness waits for the startup probe: loading a large model takes a while.
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 90},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
        "resources": {"requests": dict(spec.requests), "limits": dict(spec.limits)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "predictions", "mountPath": LOG_DIR},
            {"name": "home", "mountPath": HOME_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": meta["labels"],
                    "annotations": {
                        **meta["annotations"],
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(spec.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        {"name": v, "emptyDir": {}} for v in ("predictions", "home", "tmp")
                    ],
                },
            },
        },
    }


def _service(spec: ContainerSpec, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, name, _selector_base(spec.name)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(spec: ContainerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, spec.name, _selector_base(spec.name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": spec.target_cpu},
                    },
                }
            ],
        },
    }


def _header(spec: ContainerSpec, file: str) -> str:
    lines = [f"Written by `steward build-image` for {spec.model_uri} (image {spec.image})."]
    if file == "blue-green.yaml":
        lines += [
            f"Blue-green: two Deployments, one a slot, and the Service {spec.name}-live that sends",
            "traffic to the pods of one slot (blue here). Apply this file instead of",
            "deployment.yaml, service.yaml and hpa.yaml. To release a new version, update the",
            "idle slot, wait for it, then switch the Service's selector:",
            f"  kubectl set image deployment/{spec.name}-green {CONTAINER}=<new image>",
            f"  kubectl rollout status deployment/{spec.name}-green",
            f"  kubectl patch service {spec.name}-live -p "
            """'{"spec":{"selector":{"slot":"green"}}}'""",
            'Switching back ("slot":"blue") rolls back at once.',
        ]
    else:
        lines += [
            "Apply with the other files of the single Deployment:",
            f"  kubectl apply -f {SINGLE}",
        ]
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)
