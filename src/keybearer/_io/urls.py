"""The URL rules for the I/O layer: defined once in ``keybearer._protocol.urls``.

Kept under this name for the modules above the protocol layer that import it
from here; new code may import from ``keybearer._protocol.urls`` directly.
"""

from __future__ import annotations

from keybearer._protocol.urls import check_secure_url, is_loopback_host, loopback_mounts

__all__ = ["check_secure_url", "is_loopback_host", "loopback_mounts"]
