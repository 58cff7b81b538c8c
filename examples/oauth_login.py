"""Log in with OAuth from a script, publish a record and a blob, then log out.

    pip install 'atmosphere-atproto[oauth]'
    python examples/oauth_login.py alice.bsky.social

The script listens once on ``http://127.0.0.1:<free port>/``, opens the sign-in
page of your PDS in your browser (and prints its URL, for a machine without a
browser), and continues when you approve. No password passes through the
script. The session (tokens and its DPoP key: a secret) is saved to
``oauth-session.json`` (mode 0600) and reused on the next run;
``--logout`` revokes it.

Options: ``ATMOSPHERE_PDS`` (a PDS or entryway URL to start from instead of
resolving the handle), ``ATMOSPHERE_PLC_URL``, ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``
(a local development PDS on loopback http).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from atmosphere import AtmosphereClient, OAuthError

SESSION = Path("oauth-session.json")
COLLECTION = "com.example.atmosphere.oauthDemo"


def save(session: str) -> None:
    """``on_session_change``: keep the newest session (refreshes rotate the tokens)."""
    fd = os.open(SESSION, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(session)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    options = {}
    if os.environ.get("ATMOSPHERE_PLC_URL"):
        options["plc_url"] = os.environ["ATMOSPHERE_PLC_URL"]
    with AtmosphereClient(
        os.environ.get("ATMOSPHERE_PDS"), on_session_change=save, **options
    ) as client:
        if SESSION.exists():
            client.login_with_session(SESSION.read_text())
            print(f"Restored the OAuth session of {client.handle} ({client.did})")
        else:
            try:
                session = client.login_oauth(argv[0])
            except OAuthError as exc:
                print(f"Sign-in failed: {exc}", file=sys.stderr)
                return 1
            print(f"Signed in as {client.handle} ({client.did}); granted: {session.scope}")

        if "--logout" in argv:
            client.logout()
            SESSION.unlink(missing_ok=True)
            print("Logged out: the session is revoked")
            return 0

        blob = client.upload_blob(b"hello from an OAuth session\n", mime_type="text/plain")
        uri = client.create_record(
            COLLECTION,
            {
                "$type": COLLECTION,
                "text": "published with OAuth",
                "attachment": blob,
                "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            },
        )
        print(f"Published {uri} with blob {blob['ref']['$link']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
