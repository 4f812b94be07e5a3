"""The HTTP client: the public API against a team server (``STEWARD_URI=http://...``)."""

from steward.client._http import HttpBackend, HttpBlobs, connect, install_operations

__all__ = ["HttpBackend", "HttpBlobs", "connect", "install_operations"]
