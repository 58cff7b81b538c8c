"""The two shells that run a :data:`~._http.Flow`: one over ``httpx.Client``, one async.

They live in ``_async/oauth.py`` (``run_flow``) and its generated sync twin;
this module names them for the flows' callers. The shell sends each request
the flow yields (redirects are not followed: the flows want the real status),
reads at most ``max_body`` bytes of the answer, and sends the response back
into the flow. Transport failures become :class:`~atmosphere.errors.TransportError`.
"""

from __future__ import annotations

from .._async.oauth import MAX_BODY
from .._async.oauth import run_flow as run_async
from .._sync.oauth import run_flow as run_sync
from ._http import buffered

__all__ = ["MAX_BODY", "buffered", "run_async", "run_sync"]
