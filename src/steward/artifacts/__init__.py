"""Content-addressed artifact storage (local folder or any fsspec URL such as s3://)."""

from steward.artifacts._blobs import CHUNK, ArtifactStore, BlobStore, check_sha256, sha256_file

__all__ = ["CHUNK", "ArtifactStore", "BlobStore", "check_sha256", "sha256_file"]
