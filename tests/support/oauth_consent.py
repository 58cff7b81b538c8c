"""A stand-in browser for the CLI's ``login --oauth`` (set as ``BROWSER``).

``webbrowser`` runs ``python tests/support/oauth_consent.py <url>``; this signs in
and consents (or denies) through the provider's own API, then follows the redirect
to the CLI's loopback callback server, as a browser would. The account comes from
``OAUTH_TEST_USERNAME`` / ``OAUTH_TEST_PASSWORD``; ``OAUTH_TEST_DENY=1`` denies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from tests.support.oauth_provider import approve, reject


def main(url: str) -> int:
    """Consent (or deny) and deliver the redirect; 0 when the callback page answered."""
    if os.environ.get("OAUTH_TEST_DENY") == "1":
        redirect = reject(url)
    else:
        redirect = approve(
            url, os.environ["OAUTH_TEST_USERNAME"], os.environ["OAUTH_TEST_PASSWORD"]
        )
    page = httpx.get(redirect, trust_env=False, timeout=30)
    return 0 if page.status_code == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
