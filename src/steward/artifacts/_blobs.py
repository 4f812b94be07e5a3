"""Content-addressed blobs: every file is stored once, under its sha256, and checked on read."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any, Protocol

import fsspec

from steward.errors import IntegrityError, InvalidInput, NotFound

CHUNK = 1 << 20
_HEX = set("0123456789abcdef")


class BlobStore(Protocol):
    """What the tracking API needs of a blob store; local, fsspec and HTTP stores have it."""

    def put_file(self, path: str | Path) -> tuple[str, int]: ...
    def put_bytes(self, data: bytes) -> tuple[str, int]: ...
    def exists(self, sha256: str) -> bool: ...
    def read_bytes(self, sha256: str) -> bytes: ...
    def download(self, sha256: str, dest: str | Path) -> Path: ...


def check_sha256(value: str) -> str:
    """Return ``value`` if it is a lowercase sha256 hex digest, else raise InvalidInput."""
    if len(value) != 64 or not set(value) <= _HEX:
        raise InvalidInput(
            f"{value!r} is not a sha256 digest: expected 64 lowercase hexadecimal characters."
        )
    return value


def sha256_file(path: str | Path) -> tuple[str, int]:
    """Return the sha256 hex digest and size in bytes of a local file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ArtifactStore:
    """Blobs under a local folder or any fsspec URL, laid out as ``blobs/ab/abcdef…``."""

    def __init__(self, uri: str | Path) -> None:
        self.uri = str(uri)
        self.fs, root = fsspec.core.url_to_fs(self.uri)
        self.root = root.rstrip("/")
        self.local = "file" in _protocols(self.fs)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.root}/blobs/{sha256[:2]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        """Return True when a blob with this digest is stored."""
        return bool(self.fs.exists(self._path(sha256)))

    def put_file(self, path: str | Path) -> tuple[str, int]:
        """Store a local file (once) and return its sha256 and size."""
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"Cannot store {str(path)!r}: no such file.")
        sha, size = sha256_file(path)
        if not self.exists(sha):
            self._write(sha, path)
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes (once) and return their sha256 and size."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.exists(sha):
            with tempfile.NamedTemporaryFile(delete=False) as tmp:
                tmp.write(data)
            try:
                self._write(sha, Path(tmp.name))
            finally:
                os.unlink(tmp.name)
        return sha, len(data)

    def put_verified(self, sha256: str, stream: IO[bytes]) -> int:
        """Store a stream that the sender says has this digest; refuse it when it does not."""
        check_sha256(sha256)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                tmp.write(chunk)
        try:
            if digest.hexdigest() != sha256:
                raise IntegrityError(
                    f"The uploaded content hashes to {digest.hexdigest()}, not {sha256}: it was "
                    "corrupted in transit. Upload it again."
                )
            if not self.exists(sha256):
                self._write(sha256, Path(tmp.name))
        finally:
            os.unlink(tmp.name)
        return size

    def _write(self, sha256: str, source: Path) -> None:
        target = self._path(sha256)
        if self.local:
            # Write beside the target and rename: readers never see a half-written blob,
            # and two writers of the same content both end with the same whole file.
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            partial = f"{target}.{uuid.uuid4().hex}.partial"
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        else:
            # Object stores make a PUT visible only once it is complete.
            self.fs.put_file(str(source), target)

    def open(self, sha256: str) -> Any:
        """Return a binary file object of the blob (not verified: use read_bytes/download)."""
        if not self.exists(sha256):
            raise NotFound(f"No blob {sha256} in the artifact store at {self.uri!r}.")
        return self.fs.open(self._path(sha256), "rb")

    def read_bytes(self, sha256: str) -> bytes:
        """Return the blob's content after checking it still hashes to its name."""
        with self.open(sha256) as fh:
            data: bytes = fh.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise _tampered(sha256, actual, self.uri)
        return data

    def download(self, sha256: str, dest: str | Path) -> Path:
        """Copy the blob to ``dest``, verifying its hash, and return ``dest``."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        partial = dest.with_name(dest.name + f".{uuid.uuid4().hex}.partial")
        with self.open(sha256) as src, open(partial, "wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            partial.unlink()
            raise _tampered(sha256, digest.hexdigest(), self.uri)
        os.replace(partial, dest)
        return dest


def _tampered(expected: str, actual: str, uri: str) -> IntegrityError:
    return IntegrityError(
        f"Blob {expected} in {uri!r} now hashes to {actual}: it was altered or corrupted "
        "after it was stored. Restore it from a backup; Steward will not use it.",
        expected=expected,
        actual=actual,
    )


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
