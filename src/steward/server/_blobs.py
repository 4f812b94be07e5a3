"""Blob upload and download: the one place where the API carries bytes, not JSON."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from steward._backend import Backend
from steward.artifacts import CHUNK, ArtifactStore, check_sha256
from steward.errors import NotFound
from steward.server._auth import authorize


def blob_router(backend: Backend) -> APIRouter:
    """Return routes that upload (PUT), check (HEAD) and download (GET) blobs by sha256."""
    router = APIRouter(tags=["artifacts"])
    blobs = backend.blobs
    assert isinstance(blobs, ArtifactStore)

    @router.put(
        "/blobs/{sha256}",
        status_code=201,
        summary="Upload a blob; refused unless it hashes to sha256",
    )
    async def put_blob(sha256: str, request: Request) -> dict[str, int | str]:
        authorize("put_blob", "PUT", None)
        check_sha256(sha256)
        with tempfile.SpooledTemporaryFile(max_size=16 << 20) as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            size = await run_in_threadpool(blobs.put_verified, sha256, spool)
        return {"sha256": sha256, "size": size}

    @router.head("/blobs/{sha256}", summary="Whether a blob is stored")
    def head_blob(sha256: str) -> Response:
        authorize("get_blob", "GET", None)
        if not blobs.exists(check_sha256(sha256)):
            raise NotFound(f"No blob {sha256} is stored.")
        return Response(status_code=200)

    @router.get("/blobs/{sha256}", summary="Download a blob (the client checks its hash)")
    def get_blob(sha256: str) -> StreamingResponse:
        authorize("get_blob", "GET", None)
        handle = blobs.open(check_sha256(sha256))

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return router
