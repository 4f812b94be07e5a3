"""Container and Kubernetes files for a model: a Docker build context and its manifests.

:func:`build_image` writes a folder that ``docker build`` turns into an image serving one
model version with ``steward serve``, and the Kubernetes objects that run it: a
Deployment with probes on the health endpoints, a Service, a HorizontalPodAutoscaler,
and a blue-green pair of Deployments behind a Service whose selector picks the live slot.
No Docker engine is needed to write them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import yaml
from pydantic import BaseModel

from steward._version import __version__
from steward.errors import AlreadyExists, InvalidInput
from steward.registry import Manifest, download_model, get_model_version
from steward.serve._kubernetes import (
    CONTAINER,
    HOME_DIR,
    LOG_DIR,
    SINGLE,
    UID,
    ContainerSpec,
    write_manifests,
)
from steward.serve._wheel import build_steward_wheel
from steward.validation import check_name

MODEL_DIR = "/app/model"
WRITTEN = {"Dockerfile", ".dockerignore", "README.md", "requirements.txt", "model", "wheels", "k8s"}
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # DNS-1035 label: what a Service name must be
_NAME_MAX = 63 - len("-green")  # room for the blue-green suffixes
_QUANTITY = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)(?P<suffix>[KMGTPE]i|[mkMGTPE])?$")
_SCALE = {"m": Fraction(1, 1000), "": Fraction(1), "k": Fraction(10**3)}
_SCALE |= {s: Fraction(10 ** (3 * i)) for i, s in enumerate("MGTPE", start=2)}
_SCALE |= {f"{s}i": Fraction(2 ** (10 * i)) for i, s in enumerate("KMGTPE", start=1)}
_IMAGE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::\d+)?/)?"  # registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
MIB = 2**20
HEADROOM = Fraction(4, 5)  # the process may use 80% of the container's memory limit
SMALLEST_LIMIT = 128 * MIB


class ImageFiles(BaseModel):
    """What :func:`build_image` wrote: the folder, its files, the image and the model.

    ``name`` names the Kubernetes objects; ``deployment`` is the name the server serves
    under (``/v2/models/<deployment>/infer``, the prediction log's deployment).
    """

    folder: Path
    files: list[str]
    image: str
    name: str
    deployment: str
    model: str
    version: int | None
    model_uri: str
    port: int
    max_memory: str
    commands: list[str]


def build_image(
    model_uri: str,
    out: str | Path | None = None,
    *,
    name: str | None = None,
    port: int = 8080,
    base_image: str | None = None,
    image: str | None = None,
    cpu: str = "500m",
    memory: str = "1Gi",
    cpu_limit: str = "1",
    memory_limit: str = "2Gi",
    replicas: int = 2,
    min_replicas: int = 2,
    max_replicas: int = 10,
    target_cpu: int = 70,
    steward_wheel: str | Path | None = None,
    overwrite: bool = False,
) -> ImageFiles:
    """Return the files written: a Docker build context and Kubernetes manifests for a model.

    ``out`` (default ``./<name>-image``) receives ``Dockerfile``, ``requirements.txt``
    (the model's pins and a wheel of this Steward, in ``wheels/``), ``model/`` (the
    verified package), ``.dockerignore``, ``README.md`` and ``k8s/`` (``deployment.yaml``,
    ``service.yaml``, ``hpa.yaml``, ``blue-green.yaml``). ``name`` names the Kubernetes
    objects (default: from the model's name); ``image`` is the image reference they run
    (default ``<name>:<version>``). ``cpu``/``memory`` are the requests and
    ``cpu_limit``/``memory_limit`` the limits, as Kubernetes quantities; the server caps
    its own memory below the limit. ``steward_wheel`` is a built wheel of Steward to use
    instead of building one from the running Steward's source. An existing non-empty
    ``out`` is replaced only with ``overwrite`` and only if it holds an earlier context.
    """
    if name is not None:
        _check_name(name, "name")
    _check_port(port)
    requests = {"cpu": _cpu(cpu, "cpu"), "memory": _memory(memory, "memory")}
    limits = {"cpu": _cpu(cpu_limit, "cpu_limit"), "memory": _memory(memory_limit, "memory_limit")}
    for kind, asked, cap in (("cpu", cpu, cpu_limit), ("memory", memory, memory_limit)):
        if requests[kind] > limits[kind]:
            raise InvalidInput(
                f"The {kind!r} request must not exceed its limit: got {kind}={asked!r} and "
                f"{kind}_limit={cap!r}. Lower {kind} or raise {kind}_limit."
            )
    if limits["memory"] < SMALLEST_LIMIT:
        raise InvalidInput(
            f"The 'memory_limit' parameter must be at least 128Mi: the server caps itself at "
            f"80% of it, and Python needs 64Mi to start. Got {memory_limit!r}."
        )
    _check_scaling(replicas, min_replicas, max_replicas, target_cpu)
    if base_image is not None:
        _check_image(base_image, "base_image")
    if image is not None:
        _check_image(image, "image")
    wheel = _given_wheel(steward_wheel) if steward_wheel is not None else None

    resolved, model, version = _resolve(model_uri)
    name = name or kubernetes_name(model)
    folder = Path(out) if out is not None else Path(f"{name}-image")
    _check_out(folder, overwrite)

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}-", dir=folder.parent) as tmp:
        context = Path(tmp) / "context"
        context.mkdir()
        download_model(resolved, context / "model")
        manifest, manifest_sha = _manifest(context / "model")
        base_image = base_image or _python_image(manifest)
        (context / "wheels").mkdir()
        if wheel is None:
            wheel = build_steward_wheel(context / "wheels")
        else:
            wheel = Path(shutil.copy2(wheel, context / "wheels" / wheel.name))
        tag = str(version) if version is not None else manifest_sha[:12]
        spec = ContainerSpec(
            name=name,
            model=model,
            deployment=_deployment_name(model, name),
            version=version,
            model_uri=resolved,
            image=image or f"{name}:{tag}",
            base_image=base_image,
            port=port,
            max_memory=_max_memory(limits["memory"]),
            requests={"cpu": cpu, "memory": memory},
            limits={"cpu": cpu_limit, "memory": memory_limit},
            replicas=replicas,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            target_cpu=target_cpu,
            wheel=f"wheels/{wheel.name}",
        )
        _write_context(context, spec, manifest)
        if folder.exists():  # an empty folder, or an earlier context and overwrite
            shutil.rmtree(folder)
        context.rename(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return ImageFiles(
        folder=folder,
        files=files,
        image=spec.image,
        name=name,
        deployment=spec.deployment,
        model=model,
        version=version,
        model_uri=resolved,
        port=port,
        max_memory=spec.max_memory,
        commands=_commands(spec, folder),
    )


def kubernetes_name(model: str) -> str:
    """Return a valid Kubernetes object name made from a model name ('Churn_v2' -> 'churn-v2')."""
    text = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    if not text or not text[0].isalpha():
        text = f"model-{text}".rstrip("-")
    return text[:_NAME_MAX].rstrip("-")


# --- checks of the arguments ---------------------------------------------------------


def _check_name(name: str, param: str) -> None:
    if not _NAME.match(name) or len(name) > _NAME_MAX:
        raise InvalidInput(
            f"The {param!r} parameter must be a Kubernetes name: lowercase letters, digits "
            f"and '-', starting with a letter, ending with a letter or digit, at most "
            f"{_NAME_MAX} characters (room for '-green'). Got {name!r}; try "
            f"{kubernetes_name(name)!r}."
        )


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise InvalidInput(f"The 'port' parameter must be a TCP port, 1-65535; got {port}.")


def _quantity(text: str, param: str, example: str) -> tuple[Fraction, str]:
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise InvalidInput(
            f"The {param!r} parameter must be a Kubernetes quantity such as {example}; got "
            f"{text!r}."
        )
    return Fraction(match["number"]) * _SCALE[match["suffix"] or ""], match["suffix"] or ""


def _cpu(text: str, param: str) -> Fraction:
    value, suffix = _quantity(text, param, "500m or 2")
    if suffix not in {"", "m"} or value <= 0:
        raise InvalidInput(
            f"The {param!r} parameter must be a positive number of CPUs, as 0.5, 2 or 500m "
            f"(millicores); got {text!r}."
        )
    return value


def _memory(text: str, param: str) -> Fraction:
    value, suffix = _quantity(text, param, "512Mi or 2Gi")
    if suffix == "m":
        raise InvalidInput(
            f"The {param!r} parameter {text!r} is in millibytes ('m'); write Mi for mebibytes, "
            f"as in {text[:-1]}Mi."
        )
    if value < 64 * MIB:
        raise InvalidInput(
            f"The {param!r} parameter must be at least 64Mi, enough to start Python; got "
            f"{text!r} ({int(value)} bytes)."
        )
    return value


def _check_scaling(replicas: int, low: int, high: int, target: int) -> None:
    if replicas < 1 or low < 1:
        raise InvalidInput(
            f"The 'replicas' and 'min_replicas' parameters must be at least 1; got "
            f"replicas={replicas}, min_replicas={low}."
        )
    if high < low:
        raise InvalidInput(
            f"The 'max_replicas' parameter must be at least min_replicas; got "
            f"max_replicas={high}, min_replicas={low}."
        )
    if target < 1:
        raise InvalidInput(
            f"The 'target_cpu' parameter is the average CPU use (% of the request) the "
            f"autoscaler aims at and must be at least 1; got {target}."
        )


def _check_image(reference: str, param: str) -> None:
    match = _IMAGE.match(reference) if len(reference) <= 255 else None
    if not match:
        raise InvalidInput(
            f"The {param!r} parameter must be an image reference such as python:3.12-slim or "
            f"registry.example.com/team/churn:3; got {reference!r}."
        )
    if match["digest"] is None and match["tag"] in {None, "latest"}:
        raise InvalidInput(
            f"The {param!r} parameter must pin a tag or digest other than 'latest', so that "
            f"every build gets the same image; got {reference!r}. Add a tag, as in "
            f"{reference.rsplit(':', 1)[0] if match['tag'] else reference}:1.0."
        )


def _given_wheel(path: str | Path) -> Path:
    wheel = Path(path)
    if not wheel.is_file() or not re.match(r"^steward-[^-]+-.*\.whl$", wheel.name):
        raise InvalidInput(
            f"The 'steward_wheel' parameter must be a built wheel of Steward "
            f"(steward-<version>-py3-none-any.whl); got {str(path)!r}, which "
            f"{'is not a file' if not wheel.is_file() else 'is not named as one'}."
        )
    return wheel


def _check_out(folder: Path, overwrite: bool) -> None:
    if not folder.exists():
        return
    if not folder.is_dir():
        raise AlreadyExists(
            f"The output {str(folder)!r} is a file; give a new or empty folder for the build "
            "context."
        )
    found = sorted(p.name for p in folder.iterdir())
    if not found:
        return
    if not overwrite:
        raise AlreadyExists(
            f"The output folder {str(folder)!r} exists and is not empty; choose a new folder, "
            "or pass overwrite=True (--overwrite) to replace an earlier build context."
        )
    foreign = [n for n in found if n not in WRITTEN]
    if foreign or not (folder / "Dockerfile").is_file():
        raise AlreadyExists(
            f"The output folder {str(folder)!r} is not an earlier build context "
            f"({'it holds ' + ', '.join(foreign[:5]) if foreign else 'it has no Dockerfile'}), "
            "so overwrite will not delete it; choose a new folder."
        )


# --- the model -----------------------------------------------------------------------


def _resolve(model_uri: str) -> tuple[str, str, int | None]:
    """Return (the URI to download, the model's name, its version) for a model URI."""
    if model_uri.startswith("models:"):
        found = get_model_version(model_uri)
        return found.uri, found.model, found.version
    if model_uri.startswith("runs:"):
        return model_uri, model_uri.rstrip("/").rsplit("/", 1)[-1], None
    return model_uri, Path(model_uri).expanduser().resolve().name, None


def _manifest(folder: Path) -> tuple[Manifest, str]:
    data = (folder / "steward.yaml").read_bytes()
    return Manifest.model_validate(yaml.safe_load(data)), hashlib.sha256(data).hexdigest()


def _python_image(manifest: Manifest) -> str:
    match = re.match(r"^(\d+)\.(\d+)", manifest.python)
    if not match:
        raise InvalidInput(
            f"The model's manifest records Python {manifest.python!r}, which is not a version "
            "number; pass base_image (--base-image), as in python:3.12-slim."
        )
    major, minor = int(match[1]), int(match[2])
    if (major, minor) < (3, 11):
        raise InvalidInput(
            f"The model was saved with Python {manifest.python}, but Steward needs 3.11 or "
            "later to serve it; pass base_image (--base-image) with Python 3.11 or later."
        )
    return f"python:{major}.{minor}-slim"


def _deployment_name(model: str, name: str) -> str:
    """Return the name the server serves under (its /v2/models/<name>, its prediction log).

    That is the model's name, as `steward serve models:/<model>@...` names its deployment,
    when it is a valid Steward name, else the Kubernetes name.
    """
    try:
        return check_name(model, "deployment")
    except InvalidInput:
        return name


def _max_memory(limit: Fraction) -> str:
    """Return the server's --max-memory: 80% of the container's limit, in MiB."""
    return f"{int(limit * HEADROOM // MIB)}M"


def _normal(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


# --- the files -----------------------------------------------------------------------


def _write_context(context: Path, spec: ContainerSpec, manifest: Manifest) -> None:
    pins = [
        f"{d}=={v}" for d, v in sorted(manifest.requirements.items()) if _normal(d) != "steward"
    ]
    (context / "requirements.txt").write_text(
        "# The model's pinned requirements (its steward.yaml), then Steward from its wheel.\n"
        + "".join(f"{pin}\n" for pin in pins)
        + f"./{spec.wheel}\n"
    )
    (context / "Dockerfile").write_text(_dockerfile(spec))
    (context / ".dockerignore").write_text(
        "# Only the Dockerfile's inputs go to the Docker daemon.\n"
        "k8s/\nREADME.md\n**/__pycache__\n**/*.pyc\n"
    )
    write_manifests(context / "k8s", spec)
    (context / "README.md").write_text(_readme(spec, pins, _example_row(context / "model")))


def _dockerfile(spec: ContainerSpec) -> str:
    command = ["steward", "serve", MODEL_DIR, "--host", "0.0.0.0", "--port", str(spec.port)]
    command += ["--max-memory", spec.max_memory, "--name", spec.deployment]
    probe = (
        "import urllib.request; urllib.request.urlopen("
        f"'http://127.0.0.1:{spec.port}/v2/health/live', timeout=4)"
    )
    labels = {
        "org.opencontainers.image.title": spec.name,
        "org.opencontainers.image.description": f"Model {spec.model} served by Steward",
        "steward.model": spec.model,
        "steward.model-uri": spec.model_uri,
        "steward.version": __version__,
    }
    version = f" version {spec.version}" if spec.version is not None else ""
    return "\n".join(
        [
            f"# The image of model {spec.model}{version} ({spec.model_uri}), written by",
            f"# `steward build-image` (Steward {__version__}). Build it with",
            f"#   docker build -t {spec.image} .",
            f"FROM {spec.base_image}",
            "LABEL " + " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()),
            "ENV PYTHONDONTWRITEBYTECODE=1 \\",
            "    PYTHONUNBUFFERED=1 \\",
            "    PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
            f"    STEWARD_HOME={HOME_DIR} \\",
            f"    STEWARD_PREDICTION_LOG={LOG_DIR}",
            "# A user without a login shell; the files of the image stay root's, read-only to it.",
            f"RUN groupadd --system --gid {UID} steward \\",
            f" && useradd --system --uid {UID} --gid steward --no-create-home "
            "--home-dir /nonexistent --shell /usr/sbin/nologin steward \\",
            f" && mkdir -p {LOG_DIR} {HOME_DIR} \\",
            f" && chown -R {UID}:{UID} /var/lib/steward",
            "WORKDIR /app",
            "# Only the pinned requirements and Steward's wheel: nothing unpinned from the model.",
            "COPY requirements.txt ./",
            "COPY wheels/ ./wheels/",
            "RUN pip install --no-cache-dir -r requirements.txt",
            f"COPY model/ {MODEL_DIR}/",
            f"EXPOSE {spec.port}",
            "# Slim images have no curl: Python asks the liveness endpoint.",
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
            f"  CMD {json.dumps(['python', '-c', probe])}",
            f"USER {UID}:{UID}",
            f"CMD {json.dumps(command)}",
            "",
        ]
    )


def _commands(spec: ContainerSpec, folder: Path) -> list[str]:
    where = folder.as_posix()
    return [
        f"docker build -t {spec.image} {where}",
        f"docker run --rm -p {spec.port}:{spec.port} {spec.image}",
        "kubectl apply -f " + SINGLE.replace("k8s/", f"{where}/k8s/"),
    ]


def _example_row(package: Path) -> str:
    """Return a /predict body with the first row of the package's input example, as JSON."""
    try:
        rows = json.loads((package / "input_example.json").read_text())
        return json.dumps({"records": rows[:1]}).replace("'", "'\\''")  # quoted for a shell
    except (OSError, ValueError, TypeError, KeyError):
        return '{"records": [{"<column>": "<value>"}]}'


def _readme(spec: ContainerSpec, pins: list[str], body: str) -> str:
    port = spec.port
    return f"""\
# Image of {spec.model} ({spec.model_uri})

Written by `steward build-image` (Steward {__version__}). The image runs

    steward serve {MODEL_DIR} --host 0.0.0.0 --port {port} --max-memory {spec.max_memory} \\
        --name {spec.deployment}

as user {UID}, on `{spec.base_image}`, with only the model's pinned requirements
({", ".join(pins) or "none"}) and Steward installed from `{spec.wheel}`.

## Build and run

    docker build -t {spec.image} .
    docker run --rm -p {port}:{port} {spec.image}
    curl localhost:{port}/v2/health/ready
    curl localhost:{port}/predict -H 'content-type: application/json' \\
        -d '{body}'

The server also answers the Open Inference Protocol at `/v2/models/{spec.deployment}/infer`
and Prometheus at `/metrics`.

Predictions are logged to `{LOG_DIR}` in the container
(`STEWARD_PREDICTION_LOG`); to keep them, give it a folder you mount or an `s3://` URL
(`-e STEWARD_PREDICTION_LOG=...`). To require tokens, mount a tokens file and set
`STEWARD_SERVE_TOKENS_FILE` to its path.

## Kubernetes

Push the image where the cluster pulls from (and set that reference in `k8s/` with
`--image` when you build the context), then either

    kubectl apply -f {SINGLE}

for one Deployment (probes on `/v2/health/ready` and `/v2/health/live`;
requests: {spec.requests["cpu"]} CPU, {spec.requests["memory"]};
limits: {spec.limits["cpu"]} CPU, {spec.limits["memory"]}),
its Service `{spec.name}` on port 80,
and an autoscaler keeping {spec.min_replicas} to {spec.max_replicas} replicas at {spec.target_cpu}% of the CPU request; or

    kubectl apply -f k8s/blue-green.yaml

for two Deployments, `{spec.name}-blue` and `{spec.name}-green`, behind the Service
`{spec.name}-live`, which sends traffic to the pods labelled `slot: blue`. Release a new
version on the idle slot, then switch:

    kubectl set image deployment/{spec.name}-green {CONTAINER}=<new image>
    kubectl rollout status deployment/{spec.name}-green
    kubectl patch service {spec.name}-live -p '{{"spec":{{"selector":{{"slot":"green"}}}}}}'

Patching back to `blue` rolls back. Do not apply both layouts: each runs its own pods.

## Memory

The container may use {spec.limits["memory"]}; the server caps itself at {spec.max_memory}
(`--max-memory`, 80% of the limit), leaving room for the interpreter and the shared
libraries, so that it refuses a request it cannot hold (503) instead of being killed
with every request in flight.
"""
