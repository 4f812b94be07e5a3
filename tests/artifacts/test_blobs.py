"""Content-addressed blobs on a local folder and on S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import steward
from steward._backend import SqlBackend, set_backend
from steward.artifacts import ArtifactStore
from steward.errors import IntegrityError, InvalidInput, NotFound


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(tmp_path / "blobs")
    return ArtifactStore(request.getfixturevalue("s3_uri"))


def test_identical_content_is_stored_once(blobs: ArtifactStore, tmp_path: Path) -> None:
    one, two = tmp_path / "one.bin", tmp_path / "two.bin"
    one.write_bytes(b"same bytes" * 1000)
    two.write_bytes(b"same bytes" * 1000)
    sha1, size = blobs.put_file(one)
    sha2, _ = blobs.put_file(two)
    assert sha1 == sha2 and size == 10_000
    stored = [p for p in blobs.fs.find(f"{blobs.root}/blobs")]
    assert len(stored) == 1
    assert blobs.read_bytes(sha1) == one.read_bytes()
    assert blobs.download(sha1, tmp_path / "out" / "copy.bin").read_bytes() == one.read_bytes()


def test_altered_blob_is_refused_on_read(blobs: ArtifactStore, tmp_path: Path) -> None:
    sha, _ = blobs.put_bytes(b"original content")
    with blobs.fs.open(blobs._path(sha), "wb") as fh:
        fh.write(b"tampered content")
    with pytest.raises(IntegrityError, match="altered or corrupted"):
        blobs.read_bytes(sha)
    with pytest.raises(IntegrityError):
        blobs.download(sha, tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()  # nothing half-written is left behind


def test_upload_with_a_wrong_digest_is_refused(blobs: ArtifactStore) -> None:
    wrong = "0" * 64
    with pytest.raises(IntegrityError, match="corrupted in transit"):
        blobs.put_verified(wrong, io.BytesIO(b"data"))
    assert not blobs.exists(wrong)


def test_bad_digests_and_missing_blobs(blobs: ArtifactStore) -> None:
    with pytest.raises(InvalidInput, match="sha256"):
        blobs.exists("../../etc/passwd")
    with pytest.raises(NotFound):
        blobs.read_bytes("a" * 64)


def test_runs_log_artifacts_to_s3(s3_uri: str, tmp_path: Path) -> None:
    backend = SqlBackend.open(f"sqlite:///{tmp_path / 's.db'}", s3_uri)
    set_backend(backend)
    with steward.start_run() as run:
        steward.log_text("on s3", "notes/readme.txt")
        steward.log_dict({"a": 1}, "config.json")
    assert steward.load_artifact_bytes(run.id, "notes/readme.txt") == b"on s3"
    assert sorted(a.path for a in steward.list_artifacts(run.id)) == [
        "config.json",
        "notes/readme.txt",
    ]
