"""Defaults shared by the clients, the resolver and the command line, in one place."""

from __future__ import annotations

from typing import Final

import httpx

DEFAULT_PLC_URL: Final = "https://plc.directory"
"""The PLC directory that serves ``did:plc`` documents."""

DEFAULT_ENTRYWAY: Final = "https://bsky.social"
"""The PDS assumed for a session string that names none (the SDK's four-field form)."""

DISTRIBUTION: Final = "atmosphere-atproto"
"""The name this library is published under (``pip install atmosphere-atproto``).

The import name is ``atmosphere``; the distribution name differs because
``atmosphere`` on PyPI is an unrelated package."""

USER_AGENT: Final = "atmosphere-python"
"""The ``User-Agent`` of every request sent through a client this library creates."""

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=30.0)
"""Per-step timeouts of a client's own ``httpx`` client.

They bound each step, never a whole request: ``write`` is how long one send
may make no progress, ``read`` how long to wait for the next bytes. A
multi-GB blob that keeps moving is never cut off; a stalled one is.
"""

DEFAULT_RESOLVER_TIMEOUT: Final = 10.0
"""Seconds allowed for each identity lookup (one DNS query, one HTTP fetch)."""
