"""`steward build-image`: what it writes and prints, and its errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml

import steward
from steward._version import __version__
from steward.cli import app
from steward.serve import _wheel
from tests.cli.conftest import Invoke
from tests.serve.test_container import churn_frame, churn_pipeline


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the running Steward, built once for the tests that pass --steward-wheel."""
    return _wheel.build_steward_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def churn() -> None:
    """models:/churn/1, alias champion, in this test's store."""
    with steward.start_run(capture_environment_info=False):
        steward.log_model(
            churn_pipeline(), input_example=churn_frame()[0], registered_model_name="churn"
        )
    steward.set_alias("churn", "champion", 1)


def test_help_has_an_example_and_every_option(cli: Invoke) -> None:
    result = cli("build-image", "--help")
    assert result.exit_code == 0
    assert "steward build-image models:/churn@champion" in result.output
    for option in ("--out", "--name", "--image", "--memory-limit", "--overwrite", "--json"):
        assert option in result.output
    root = typer.main.get_command(app)
    listed = root.list_commands(typer.Context(root))  # type: ignore[attr-defined]
    assert listed.index("whatif") < listed.index("build-image") < listed.index("ui")


def test_writes_the_context_and_prints_the_next_commands(
    cli: Invoke, churn: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default path: a wheel built from the running Steward, the folder named for it."""
    monkeypatch.chdir(tmp_path)
    result = cli("build-image", "models:/churn@champion")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "churn-image"
    assert (folder / "Dockerfile").is_file()
    assert (folder / "wheels" / f"steward-{__version__}-py3-none-any.whl").is_file()
    out = result.stdout
    assert "Build context of churn version 1 in churn-image" in out
    assert "churn:1" in out and "--max-memory 1638M" in out
    for file in ("Dockerfile", "requirements.txt", "k8s/deployment.yaml", "k8s/blue-green.yaml"):
        assert file in out
    assert "model/ (3 files, the verified package)" in out
    assert "docker build -t churn:1 churn-image" in out
    assert "kubectl apply -f churn-image/k8s/deployment.yaml" in out
    assert "blue-green.yaml instead of the three files" in result.stderr


def test_json_output_lists_what_was_written(
    cli: Invoke, churn: None, tmp_path: Path, wheel: Path
) -> None:
    out = tmp_path / "ctx"
    result = cli(
        "build-image",
        "models:/churn/1",
        "--out",
        str(out),
        "--name",
        "churn-api",
        "--port",
        "9000",
        "--memory-limit",
        "4Gi",
        "--steward-wheel",
        str(wheel),
        "--json",
    )
    assert result.exit_code == 0, result.output
    built = json.loads(result.stdout)
    assert (built["name"], built["image"], built["port"]) == ("churn-api", "churn-api:1", 9000)
    assert built["max_memory"] == "3276M"
    assert "k8s/hpa.yaml" in built["files"]
    service = yaml.safe_load((out / "k8s" / "service.yaml").read_text())
    assert service["metadata"]["name"] == "churn-api"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--name", "Churn_API"], 2, "The 'name' parameter must be a Kubernetes name"),
        (["--memory", "3Gi"], 2, "'memory' request must not exceed its limit"),
        (["--image", "churn"], 2, "must pin a tag or digest other than 'latest'"),
    ],
)
def test_bad_options_exit_2(
    cli: Invoke, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = cli("build-image", "models:/churn@champion", "--out", str(tmp_path / "x"), *args)
    assert result.exit_code == code
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_existing_folder_exits_4_unless_overwrite(
    cli: Invoke, churn: None, tmp_path: Path, wheel: Path
) -> None:
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "keep.txt").write_text("")
    args = ["build-image", "models:/churn/1", "-o", str(out), "--steward-wheel", str(wheel)]
    result = cli(*args)
    assert result.exit_code == 4
    assert "exists and is not empty" in result.stderr and "--overwrite" in result.stderr
    result = cli(*args, "--overwrite")
    assert result.exit_code == 4
    assert "is not an earlier build context (it holds keep.txt)" in result.stderr
    (out / "keep.txt").unlink()
    assert cli(*args).exit_code == 0
    assert cli(*args, "--overwrite").exit_code == 0


def test_unknown_model_exits_3(cli: Invoke, churn: None, tmp_path: Path) -> None:
    result = cli("build-image", "models:/churn@challenger", "-o", str(tmp_path / "ctx"))
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "challenger" in result.stderr
    assert not (tmp_path / "ctx").exists()
