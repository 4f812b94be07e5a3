"""build_image: the Docker build context and Kubernetes manifests of a model.

No Docker engine runs here, so the files are checked as the tools that read them would:
every manifest against the Kubernetes object schemas (strict: no unknown field), the
Dockerfile's instructions through a Dockerfile parser, requirements.txt and the wheel
through pip, and the image's command by running it on this machine.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import numpy as np
import pandas as pd
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward._backend import set_backend
from steward._version import __version__
from steward.errors import AlreadyExists, InvalidInput, NotFound, StewardError
from steward.registry import Manifest
from steward.serve import ImageFiles, _wheel, build_image
from steward.serve._container import kubernetes_name
from tests.conftest import free_port

K8S_VERSION = kubernetes_validate.latest_version()
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
SINGLE = ("deployment.yaml", "service.yaml", "hpa.yaml")
ENV_VARS = ("STEWARD_URI", "STEWARD_STORE_URI", "STEWARD_ARTIFACT_URI", "STEWARD_PROJECT")


def churn_frame(n: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "monthly": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    logit = -0.05 * X["tenure"] + 0.03 * X["monthly"] + (X["plan"] == "basic") * 0.8 - 1
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="churn")
    return X, y


def churn_pipeline() -> Pipeline:
    X, y = churn_frame()
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        (StandardScaler(), ["tenure", "monthly"]),
    )
    return make_pipeline(features, LogisticRegression(max_iter=500)).fit(X, y)


def register_churn() -> Pipeline:
    """Register the pipeline as models:/churn/1 with the alias champion; return it."""
    model = churn_pipeline()
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=churn_frame()[0], registered_model_name="churn")
    steward.set_alias("churn", "champion", 1)
    return model


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the running Steward, built once from its source as build_image does."""
    return _wheel.build_steward_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[ImageFiles]:
    """The build context of models:/churn@champion, written once for the checks that read it."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STEWARD_HOME", str(home))
        env.setenv("STEWARD_USER", "tester")
        for var in ENV_VARS:
            env.delenv(var, raising=False)
        set_backend(None)
        try:
            register_churn()
            folder = tmp_path_factory.mktemp("context") / "churn-image"
            yield build_image("models:/churn@champion", folder, steward_wheel=wheel)
        finally:
            set_backend(None)


@pytest.fixture
def registered() -> Pipeline:
    """models:/churn/1 (alias champion) in this test's own store."""
    return register_churn()


def manifests(folder: Path, file: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((folder / "k8s" / file).read_text()) if d]


def objects(folder: Path, *files: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for file in files:
        for item in manifests(folder, file):
            found[(item["kind"], item["metadata"]["name"])] = item
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def dockerfile(folder: Path) -> DockerfileParser:
    return DockerfileParser(str(folder / "Dockerfile"))


def model_manifest(folder: Path) -> Manifest:
    return Manifest.model_validate(yaml.safe_load((folder / "model" / "steward.yaml").read_text()))


# --- what is written ---------------------------------------------------------------


def test_context_holds_the_files_and_names_the_image(built: ImageFiles) -> None:
    folder = built.folder
    assert {"Dockerfile", ".dockerignore", "README.md", "requirements.txt"} <= set(built.files)
    assert {f"k8s/{f}" for f in (*SINGLE, "blue-green.yaml")} <= set(built.files)
    assert "model/steward.yaml" in built.files
    assert f"wheels/steward-{__version__}-py3-none-any.whl" in built.files
    assert all((folder / f).is_file() for f in built.files)
    assert (built.model, built.version, built.model_uri) == ("churn", 1, "models:/churn/1")
    assert (built.name, built.image, built.port) == ("churn", "churn:1", 8080)
    assert built.max_memory == "1638M"  # 80% of the 2Gi limit, in MiB
    assert built.commands[0] == f"docker build -t churn:1 {folder.as_posix()}"
    assert any(c.startswith("kubectl apply -f") for c in built.commands)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_every_manifest_is_valid_against_the_kubernetes_schemas(built: ImageFiles) -> None:
    kinds = []
    for file in (*SINGLE, "blue-green.yaml"):
        for item in manifests(built.folder, file):
            assert kubernetes_validate.validate(item, K8S_VERSION, strict=True)
            assert DNS_1035.match(item["metadata"]["name"]), item["metadata"]["name"]
            assert len(item["metadata"]["name"]) <= 63
            kinds.append((file, item["kind"]))
    assert kinds == [
        ("deployment.yaml", "Deployment"),
        ("service.yaml", "Service"),
        ("hpa.yaml", "HorizontalPodAutoscaler"),
        ("blue-green.yaml", "Deployment"),
        ("blue-green.yaml", "Deployment"),
        ("blue-green.yaml", "Service"),
    ]


def test_the_schema_check_is_strict(built: ImageFiles) -> None:
    """A misspelt field fails validation: the check above would catch one in the files."""
    deployment = manifests(built.folder, "deployment.yaml")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_deployment_probes_resources_and_user(built: ImageFiles) -> None:
    deployment = manifests(built.folder, "deployment.yaml")[0]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert selects(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])
    assert spec["replicas"] == 2
    assert container["image"] == "churn:1"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (ready["path"], ports[ready["port"]]) == ("/v2/health/ready", 8080)
    assert (live["path"], ports[live["port"]]) == ("/v2/health/live", 8080)
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    user = dockerfile(built.folder).structure
    uid = next(i["value"] for i in user if i["instruction"] == "USER").split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid) != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # With a read-only root, every folder the server writes is a volume.
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["STEWARD_PREDICTION_LOG"] in mounts
    assert dockerfile(built.folder).envs["STEWARD_HOME"] in mounts
    assert "/tmp" in mounts
    threads = next(e for e in container["env"] if e["name"] == "OMP_NUM_THREADS")
    assert threads["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
    assert threads["valueFrom"]["resourceFieldRef"]["containerName"] == container["name"]
    assert {m["name"] for m in container["volumeMounts"]} == {v["name"] for v in pod["volumes"]}


def test_service_and_autoscaler_point_at_the_deployment(built: ImageFiles) -> None:
    found = objects(built.folder, *SINGLE)
    deployment = found[("Deployment", "churn")]
    service = found[("Service", "churn")]
    hpa = found[("HorizontalPodAutoscaler", "churn")]
    assert selects(
        service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
    )
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "churn",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_blue_green_pair_and_the_selector_switch(built: ImageFiles) -> None:
    found = objects(built.folder, "blue-green.yaml")
    blue = found[("Deployment", "churn-blue")]["spec"]["template"]["metadata"]["labels"]
    green = found[("Deployment", "churn-green")]["spec"]["template"]["metadata"]["labels"]
    assert (blue["slot"], green["slot"]) == ("blue", "green")
    for slot in ("blue", "green"):
        spec = found[("Deployment", f"churn-{slot}")]["spec"]
        assert selects(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])
        assert spec["selector"]["matchLabels"]["slot"] == slot
    service = found[("Service", "churn-live")]
    selector = service["spec"]["selector"]
    assert selector["slot"] == "blue"
    assert selects(selector, blue) and not selects(selector, green)
    switched = {**selector, "slot": "green"}  # what the documented kubectl patch does
    assert selects(switched, green) and not selects(switched, blue)
    # The single layout's Service never reaches the slots' pods, nor the live one its pods.
    single = objects(built.folder, *SINGLE)
    assert not set(single) & set(found)
    plain = single[("Deployment", "churn")]["spec"]["template"]["metadata"]["labels"]
    assert not selects(single[("Service", "churn")]["spec"]["selector"], blue)
    assert not selects(selector, plain)
    patch = """kubectl patch service churn-live -p '{"spec":{"selector":{"slot":"green"}}}'"""
    assert patch in (built.folder / "k8s" / "blue-green.yaml").read_text()
    assert patch in (built.folder / "README.md").read_text()
    assert json.loads(patch.split("-p ")[1].strip("'")) == {"spec": {"selector": {"slot": "green"}}}


def test_dockerfile_instructions(built: ImageFiles) -> None:
    parser = dockerfile(built.folder)
    steps = [(i["instruction"], i["value"]) for i in parser.structure]
    instructions = [name for name, _ in steps]
    python = ".".join(model_manifest(built.folder).python.split(".")[:2])
    assert parser.baseimage == f"python:{python}-slim"
    assert instructions.count("FROM") == 1
    assert "latest" not in (built.folder / "Dockerfile").read_text()
    # A non-root user, set after every RUN (installs run as root) and before the command.
    users = [i for i, name in enumerate(instructions) if name == "USER"]
    cmd = instructions.index("CMD")
    assert users and max(i for i, n in enumerate(instructions) if n == "RUN") < users[-1] < cmd
    user = steps[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"} and int(user) >= 1000
    # The command, in exec form.
    command = json.loads(parser.cmd)
    assert command[:3] == ["steward", "serve", "/app/model"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"
    assert command[command.index("--max-memory") + 1] == built.max_memory
    assert command[command.index("--name") + 1] == built.deployment == "churn"
    assert instructions[-1] == "CMD"
    (health,) = [v for name, v in steps if name == "HEALTHCHECK"]
    options, probe = health.split("CMD", 1)
    assert "--interval=" in options and "--timeout=" in options
    probe_command = json.loads(probe)
    assert probe_command[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8080/v2/health/live" in probe_command[2]
    assert ("EXPOSE", "8080") in steps
    assert parser.envs["STEWARD_PREDICTION_LOG"] == "/var/lib/steward/predictions"
    runs = [v for name, v in steps if name == "RUN"]
    assert any("pip install --no-cache-dir -r requirements.txt" in v for v in runs)
    assert not any("pip install" in v and "-r requirements.txt" not in v for v in runs)
    assert ("COPY", "model/ /app/model/") in steps
    assert parser.labels["steward.model-uri"] == "models:/churn/1"


def test_requirements_are_the_pins_and_the_steward_wheel(built: ImageFiles) -> None:
    folder = built.folder
    lines = [
        line
        for line in (folder / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = dict(line.split("==") for line in lines if "==" in line)
    wheels = [line for line in lines if "==" not in line]
    assert pins == model_manifest(folder).requirements
    assert "scikit-learn" in pins
    assert wheels == [f"./wheels/steward-{__version__}-py3-none-any.whl"]
    assert (folder / wheels[0]).is_file()
    # pip reads the file as the image's RUN does (offline: the pins are installed here).
    report = folder.parent / "report.json"
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-deps"]
    subprocess.run(
        [*pip, "--quiet", "--report", str(report), "-r", "requirements.txt"],
        cwd=folder,
        check=True,
        timeout=120,
    )
    installs = {i["metadata"]["name"]: i["metadata"]["version"] for i in _installs(report)}
    assert installs.get("steward") == __version__


def _installs(report: Path) -> list[dict[str, Any]]:
    return list(json.loads(report.read_text())["install"])


def test_the_wheel_holds_the_running_steward(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"steward-{__version__}.dist-info/METADATA").decode()
        entry_points = archive.read(f"steward-{__version__}.dist-info/entry_points.txt").decode()
    source = Path(steward.__file__).parent
    expected = {
        f"steward/{p.relative_to(source).as_posix()}"
        for p in source.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert expected <= names
    assert "steward/py.typed" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert f"Version: {__version__}" in metadata
    assert "steward = steward.cli:main" in entry_points


def test_model_folder_is_the_verified_package(built: ImageFiles) -> None:
    model = steward.load_model(str(built.folder / "model"))
    X = churn_frame()[0].head(20)
    expected = churn_pipeline().predict_proba(X)[:, 1]
    assert np.allclose(model.predict_proba(X)[:, 1], expected)


def test_readme_says_how_to_build_and_run(built: ImageFiles) -> None:
    text = (built.folder / "README.md").read_text()
    assert "docker build -t churn:1 ." in text
    assert "docker run --rm -p 8080:8080 churn:1" in text
    assert "kubectl apply -f k8s/deployment.yaml -f k8s/service.yaml -f k8s/hpa.yaml" in text
    assert "kubectl apply -f k8s/blue-green.yaml" in text
    row = json.loads((built.folder / "model" / "input_example.json").read_text())[0]
    assert f"-d '{json.dumps({'records': [row]})}'" in text  # a request that works as written
    ignored = (built.folder / ".dockerignore").read_text().split()
    assert "k8s/" in ignored and "model/" not in ignored


# --- options and other sources -----------------------------------------------------


def test_options_reach_every_file(registered: Pipeline, tmp_path: Path, wheel: Path) -> None:
    built = build_image(
        "models:/churn/1",
        tmp_path / "ctx",
        name="churn-scorer",
        port=9000,
        image="registry.example.com/ml/churn:1.0",
        base_image="python:3.12.4-slim-bookworm",
        cpu="250m",
        memory="512Mi",
        cpu_limit="2",
        memory_limit="1Gi",
        replicas=3,
        min_replicas=3,
        max_replicas=6,
        target_cpu=50,
        steward_wheel=wheel,
    )
    assert built.max_memory == "819M"
    parser = dockerfile(built.folder)
    assert parser.baseimage == "python:3.12.4-slim-bookworm"
    command = json.loads(parser.cmd)
    assert command[command.index("--port") + 1] == "9000"
    assert command[command.index("--max-memory") + 1] == "819M"
    assert "127.0.0.1:9000/v2/health/live" in (built.folder / "Dockerfile").read_text()
    found = objects(built.folder, *SINGLE, "blue-green.yaml")
    assert set(found) == {
        ("Deployment", "churn-scorer"),
        ("Service", "churn-scorer"),
        ("HorizontalPodAutoscaler", "churn-scorer"),
        ("Deployment", "churn-scorer-blue"),
        ("Deployment", "churn-scorer-green"),
        ("Service", "churn-scorer-live"),
    }
    for item in found.values():
        assert kubernetes_validate.validate(item, K8S_VERSION, strict=True)
    container = found[("Deployment", "churn-scorer")]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/ml/churn:1.0"
    assert container["ports"][0]["containerPort"] == 9000
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert found[("Deployment", "churn-scorer-green")]["spec"]["replicas"] == 3
    hpa = found[("HorizontalPodAutoscaler", "churn-scorer")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 50


def test_a_package_folder_gets_a_content_tag(registered: Pipeline, tmp_path: Path) -> None:
    with steward.start_run(capture_environment_info=False):
        info = steward.log_model(registered, "churn_model", input_example=churn_frame()[0])
    package = steward.download_model(info.uri, tmp_path / "Churn_Model v2")
    wheel = tmp_path / f"steward-{__version__}-py3-none-any.whl"
    wheel.write_bytes(b"a stand-in: this test reads no wheel")
    built = build_image(str(package), tmp_path / "ctx", steward_wheel=wheel)
    sha = hashlib.sha256((package / "steward.yaml").read_bytes()).hexdigest()
    assert (built.name, built.deployment, built.version) == (
        "churn-model-v2",
        "churn-model-v2",
        None,
    )
    assert built.image == f"churn-model-v2:{sha[:12]}"
    from_run = build_image(info.uri, tmp_path / "ctx2", steward_wheel=wheel)
    assert (from_run.model, from_run.name, from_run.deployment) == (
        "churn_model",
        "churn-model",
        "churn_model",
    )


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("churn", "churn"),
        ("Churn_Model v2", "churn-model-v2"),
        ("2024-churn", "model-2024-churn"),
        ("--", "model"),
        ("é" * 3 + "x" * 80, "x" * 57),
    ],
)
def test_kubernetes_names_from_model_names(model: str, name: str) -> None:
    assert kubernetes_name(model) == name
    assert DNS_1035.match(name)


# --- refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"name": "Churn_Model"},
            "must be a Kubernetes name.*Got 'Churn_Model'; try 'churn-model'",
        ),
        ({"name": "9lives"}, "starting with a letter.*Got '9lives'"),
        ({"name": "a" * 58}, "at most 57 characters"),
        ({"port": 0}, "'port' parameter must be a TCP port, 1-65535; got 0"),
        ({"memory": "500m"}, "millibytes.*as in 500Mi"),
        ({"memory_limit": "2 GB"}, "'memory_limit' parameter must be a Kubernetes quantity"),
        ({"cpu": "4"}, "'cpu' request must not exceed its limit: got cpu='4' and cpu_limit='1'"),
        ({"cpu": "2Gi"}, "'cpu' parameter must be a positive number of CPUs"),
        ({"min_replicas": 5, "max_replicas": 3}, "max_replicas=3, min_replicas=5"),
        ({"base_image": "python"}, "must pin a tag or digest other than 'latest'"),
        ({"image": "churn:latest"}, "'image' parameter must pin a tag"),
        ({"image": "Churn Image"}, "'image' parameter must be an image reference"),
        ({"steward_wheel": "nowhere.whl"}, "'steward_wheel' parameter.*is not a file"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_image("models:/churn@champion", tmp_path / "ctx", **options)
    assert not (tmp_path / "ctx").exists()


def test_unknown_model_is_not_found(registered: Pipeline, tmp_path: Path, wheel: Path) -> None:
    with pytest.raises(NotFound):
        build_image("models:/churn@challenger", tmp_path / "ctx", steward_wheel=wheel)
    with pytest.raises(NotFound):
        build_image("models:/chrun@champion", tmp_path / "ctx", steward_wheel=wheel)
    assert not (tmp_path / "ctx").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_existing_output_is_kept_unless_overwrite(
    registered: Pipeline, tmp_path: Path, wheel: Path
) -> None:
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match=r"exists and is not empty.*overwrite=True"):
        build_image("models:/churn/1", out, steward_wheel=wheel)
    with pytest.raises(AlreadyExists, match=r"is not an earlier build context.*notes\.txt"):
        build_image("models:/churn/1", out, steward_wheel=wheel, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    build_image("models:/churn/1", out, steward_wheel=wheel)  # an empty folder is fine
    again = build_image("models:/churn/1", out, steward_wheel=wheel, port=9090, overwrite=True)
    assert json.loads(dockerfile(again.folder).cmd)[6] == "9090"
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(AlreadyExists, match="is a file"):
        build_image("models:/churn/1", file, steward_wheel=wheel)


def test_no_source_to_build_a_wheel_from_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_distribution(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_wheel.importlib.metadata, "distribution", no_distribution)
    monkeypatch.setattr(_wheel, "PACKAGE", tmp_path / "site-packages" / "steward")
    with pytest.raises(StewardError, match="Cannot find the source of the running Steward"):
        _wheel.build_steward_wheel(tmp_path / "wheels")


def test_a_wheel_that_cannot_be_built_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    (source / "src" / "steward").mkdir(parents=True)
    (source / "src" / "steward" / "__init__.py").write_text("")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "no_such_backend"\n\n'
        '[project]\nname = "steward"\nversion = "0.0.1"\n'
    )
    monkeypatch.setattr(_wheel, "steward_source", lambda: source)
    with pytest.raises(StewardError) as caught:
        _wheel.build_steward_wheel(tmp_path / "wheels")
    message = caught.value.message
    assert message.startswith(f"Cannot build a wheel of Steward from its source {str(source)!r}")
    assert "no_such_backend" in message
    assert "--steward-wheel" in message
    assert not (tmp_path / "wheels").exists()


# --- the image's command -----------------------------------------------------------


def test_the_image_command_starts_the_server(built: ImageFiles, tmp_path: Path) -> None:
    """Run the Dockerfile's ENV and CMD here, with the model where the image holds it."""
    parser = dockerfile(built.folder)
    port = free_port()
    command = json.loads(parser.cmd)
    command[0] = str(Path(sys.executable).with_name("steward"))
    command[command.index("/app/model")] = str(built.folder / "model")
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    image_env = {k: v.replace("/var/lib/steward", str(tmp_path)) for k, v in parser.envs.items()}
    env = {**os.environ, **image_env}  # fresh folders, as the pod's empty volumes are
    assert not Path(env["STEWARD_PREDICTION_LOG"]).exists()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, server, log)
            assert httpx.get(f"{url}/v2/health/live", timeout=5).status_code == 200
            # The HEALTHCHECK's own command, against this port.
            (health,) = [i["value"] for i in parser.structure if i["instruction"] == "HEALTHCHECK"]
            probe = json.loads(health.split("CMD", 1)[1])
            probe[0] = sys.executable
            probe[2] = probe[2].replace(":8080/", f":{port}/")
            assert subprocess.run(probe, timeout=60).returncode == 0, log.read_text()

            example = json.loads((built.folder / "model" / "input_example.json").read_text())
            row = example[0]
            answer = httpx.post(f"{url}/predict", json={"records": [row]}, timeout=30)
            assert answer.status_code == 200, f"{answer.text}\n{log.read_text()}"
            body = answer.json()
            local = churn_pipeline()
            assert body["predictions"] == local.predict(pd.DataFrame([row])).tolist()
            expected = local.predict_proba(pd.DataFrame([row]))
            assert np.allclose(body["probabilities"], expected)
            assert body["deployment"] == "churn", body
            assert httpx.get(f"{url}/v2/models/churn/ready", timeout=5).status_code == 200
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log.read_text()
    assert f"Memory limit: {built.max_memory[:-1]} MiB" in output  # --max-memory applied
    # The request reached the prediction log, written where the image's ENV points.
    assert list(Path(env["STEWARD_PREDICTION_LOG"]).rglob("*.parquet")), output


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"steward serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"steward serve was not ready within 90 s:\n{log.read_text()}")
