"""Model packages: hashes, tampering, version pins, flavors, and refusing what cannot be saved."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

import steward
from steward._backend import Backend, get_backend
from steward.errors import IntegrityError, InvalidInput
from steward.registry import VersionMismatchWarning


@pytest.fixture
def package(sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        info = steward.log_model(churn_pipeline, "model", input_example=X)
    return steward.download_model(info.uri, tmp_path / "pkg")


def test_package_layout_and_manifest(package: Path) -> None:
    files = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())
    assert files == ["input_example.json", "model/model.pkl", "steward.yaml"]
    manifest = yaml.safe_load((package / "steward.yaml").read_text())
    assert manifest["flavor"] == "sklearn" and manifest["methods"] == [
        "predict",
        "predict_proba",
        "decision_function",
    ]
    assert set(manifest["files"]) == {"input_example.json", "model/model.pkl"}
    plan = next(c for c in manifest["signature"]["inputs"] if c["name"] == "plan")
    assert plan["kind"] == "categorical" and plan["categories"] == ["basic", "plus", "pro"]
    tenure = next(c for c in manifest["signature"]["inputs"] if c["name"] == "tenure")
    assert tenure["kind"] == "integer" and tenure["min"] >= 0 and tenure["max"] <= 71
    assert manifest["signature"]["output"] == {
        "task": "classification",
        "classes": [0, 1],
        "dtype": "int64",
    }
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.parametrize("how", ["change", "add", "remove", "manifest"])
def test_an_altered_package_is_refused(package: Path, how: str) -> None:
    if how == "change":
        (package / "model" / "model.pkl").write_bytes(
            (package / "model" / "model.pkl").read_bytes() + b"\0"
        )
    elif how == "add":
        (package / "model" / "evil.py").write_text("import os\n")
    elif how == "remove":
        (package / "input_example.json").unlink()
    else:
        manifest = yaml.safe_load((package / "steward.yaml").read_text())
        manifest["files"]["model/model.pkl"] = "0" * 64
        (package / "steward.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(IntegrityError, match="altered"):
        steward.load_model(package)


def test_a_tampered_blob_in_the_store_is_refused(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data
) -> None:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        version = steward.log_model(
            churn_pipeline, input_example=X, registered_model_name="m"
        ).version
    assert version is not None
    pkl = next(f for f in version.files if f.path == "model/model.pkl")
    blob = Path(sqlite_backend.blobs.root) / "blobs" / pkl.sha256[:2] / pkl.sha256  # type: ignore[attr-defined]
    blob.write_bytes(b"malicious pickle")
    with pytest.raises(IntegrityError, match="altered or corrupted"):
        steward.load_model("models:/m/1")


def test_an_altered_cached_model_file_is_refused_naming_it(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data, steward_home: Path
) -> None:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        steward.log_model(churn_pipeline, input_example=X, registered_model_name="m")
    steward.load_model("models:/m/1")
    cached = next((steward_home / "cache" / "packages").iterdir())
    (cached / "model" / "model.pkl").write_bytes(b"garbage")
    with pytest.raises(IntegrityError) as caught:
        steward.load_model("models:/m/1")
    message = caught.value.message
    assert "models:/m/1" in message and str(cached / "model" / "model.pkl") in message
    assert f"delete the folder {str(cached)!r}" in message
    shutil.rmtree(cached)  # what the message says to do
    model = steward.load_model("models:/m/1")
    assert (model.predict(X.head(5)) == churn_pipeline.predict(X.head(5))).all()


@pytest.mark.parametrize("uri", ["models:/bc/1", "runs"])
def test_an_edited_manifest_in_the_cache_is_refused_on_every_load(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data, steward_home: Path, uri: str
) -> None:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        info = steward.log_model(churn_pipeline, input_example=X, registered_model_name="bc")
    uri = info.uri if uri == "runs" else uri
    steward.load_model(uri)  # verified, cached, stamped
    manifest = next((steward_home / "cache" / "packages").iterdir()) / "steward.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["signature"]["inputs"][0]["min"] = -1000.0  # one value, still a valid manifest
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    for _ in range(2):  # refused every time, not rebuilt behind the user's back
        with pytest.raises(IntegrityError, match="altered after Steward verified it") as caught:
            steward.load_model(uri)
        assert f"changed {manifest}" in caught.value.message
    manifest.write_text("{not: yaml: at all")  # unreadable: refused by hash before parsing
    with pytest.raises(IntegrityError, match=re.escape(f"changed {manifest}")):
        steward.load_model(uri)


def test_an_edited_manifest_blob_in_the_artifact_store_is_refused(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data
) -> None:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        version = steward.log_model(
            churn_pipeline, input_example=X, registered_model_name="bc"
        ).version
    assert version is not None
    sha = version.manifest_sha256
    blob = Path(sqlite_backend.blobs.root) / "blobs" / sha[:2] / sha  # type: ignore[attr-defined]
    blob.write_bytes(blob.read_bytes().replace(b"min:", b"min: -1000.0 #", 1))
    with pytest.raises(IntegrityError, match=r"File 'steward\.yaml' of models:/bc/1 is altered"):
        steward.load_model("models:/bc/1")


def test_library_version_differences_warn_or_refuse(package: Path) -> None:
    manifest = yaml.safe_load((package / "steward.yaml").read_text())
    manifest["requirements"]["scikit-learn"] = "0.24.2"
    manifest["requirements"]["not-a-real-dist"] = "1.0"
    # a re-signed manifest: the files still match, only the pins changed
    (package / "steward.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    with pytest.warns(
        VersionMismatchWarning,
        match=r"scikit-learn: saved with 0.24.2, installed .*not-a-real-dist: saved with 1.0, not installed",
    ):
        steward.load_model(package)
    with pytest.raises(InvalidInput, match="Install the pinned versions"):
        steward.load_model(package, strict=True)


def test_unpicklable_and_main_defined_models_are_refused(backend: Backend) -> None:
    class Local:
        def __init__(self) -> None:
            self.fn = lambda x: x

        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    with steward.start_run() as run:
        with pytest.raises(InvalidInput, match="cannot be pickled"):
            steward.log_model(Local())
        with pytest.raises(InvalidInput, match="no flavor accepts it"):
            steward.log_model(object())
        with pytest.raises(InvalidInput, match="lock"):
            steward.log_model(_WithLock())
    assert steward.list_artifacts(run.id) == []  # nothing half-written


class _WithLock:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame))


def test_python_flavor_with_code_files_loads_in_another_process(
    backend: Backend, tmp_path: Path
) -> None:
    if not hasattr(backend, "store"):
        pytest.skip("one backend is enough for the subprocess check")
    code = tmp_path / "src" / "rules.py"
    code.parent.mkdir()
    code.write_text(
        textwrap.dedent(
            """
            import numpy as np

            class Threshold:
                def __init__(self, limit):
                    self.limit = limit

                def predict(self, frame):
                    return (frame["amount"] > self.limit).astype(int).to_numpy()
            """
        )
    )
    sys.path.insert(0, str(code.parent))
    try:
        import rules  # type: ignore[import-not-found]

        model = rules.Threshold(100.0)
        with steward.start_run():
            info = steward.log_model(
                model,
                "rules",
                input_example=pd.DataFrame({"amount": [5.0, 500.0]}),
                code_paths=[code],
            )
    finally:
        sys.path.remove(str(code.parent))
        sys.modules.pop("rules", None)
    assert info.manifest.flavor == "python"
    folder = steward.download_model(info.uri, tmp_path / "pkg")
    script = (
        "import steward, pandas as pd\n"
        f"m = steward.load_model({str(folder)!r})\n"
        "print(m.predict(pd.DataFrame({'amount': [50.0, 150.0]})).tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip() == "[0, 1]"


def test_xgboost_and_lightgbm_flavors(backend: Backend, churn_data) -> None:  # type: ignore[no-untyped-def]
    lightgbm = pytest.importorskip("lightgbm")
    xgboost = pytest.importorskip("xgboost")
    X, y = churn_data
    numeric = X[["tenure", "monthly"]]
    models = {
        "xgb": xgboost.XGBClassifier(n_estimators=20, max_depth=3),
        "lgbm": lightgbm.LGBMClassifier(n_estimators=20, verbose=-1),
    }
    for name, model in models.items():
        model.fit(numeric, y)
        with steward.start_run():
            info = steward.log_model(model, name, input_example=numeric, registered_model_name=name)
        loaded = steward.load_model(f"models:/{name}/1")
        assert loaded.manifest.flavor == ("xgboost" if name == "xgb" else "lightgbm")
        assert {"xgb": "xgboost", "lgbm": "lightgbm"}[name] in loaded.manifest.requirements
        np.testing.assert_allclose(
            loaded.predict_proba(numeric.head(50)), model.predict_proba(numeric.head(50)), rtol=1e-6
        )
        assert info.manifest.signature is not None and info.manifest.signature.output.classes == [
            0,
            1,
        ]
    files = [f.path for f in get_backend().get_model_version("xgb", 1).files]
    assert "model/model.json" in files  # XGBoost's own portable format, not a pickle


def test_signature_cannot_be_inferred_for_nested_values(
    backend: Backend, churn_pipeline: Pipeline
) -> None:
    frame = pd.DataFrame({"tags": [["a", "b"], ["c"]], "x": [1, 2]})
    with steward.start_run(), pytest.raises(InvalidInput, match=r"column 'tags'.*list values"):
        steward.log_model(churn_pipeline, input_example=frame)
    mixed = pd.DataFrame({"code": ["A1", 7]})
    with (
        steward.start_run(),
        pytest.raises(InvalidInput, match=r"column 'code'.*mixes text and numbers"),
    ):
        steward.log_model(churn_pipeline, input_example=mixed)


def test_load_model_quietly_when_versions_match(package: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        steward.load_model(package)


def test_the_cache_stamp_does_not_hide_a_rewritten_file(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data, steward_home: Path
) -> None:  # type: ignore[no-untyped-def]
    import os

    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        steward.log_model(churn_pipeline, input_example=X, registered_model_name="m")
    steward.load_model("models:/m/1")  # fills the cache and its verification stamp
    cached = next(p for p in (steward_home / "cache" / "packages").iterdir() if p.is_dir())
    assert (cached / ".steward-verified.json").is_file()
    target = cached / "model" / "model.pkl"
    before = target.stat()
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF  # flip one byte, keep the size
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and put the mtime back
    with pytest.raises(
        IntegrityError, match=re.escape(f"changed {target}")
    ):  # the ctime moved: re-hashed
        steward.load_model("models:/m/1")
