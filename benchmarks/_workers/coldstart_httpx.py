"""Cold start job, raw httpx (the floor): import, read the saved tokens, write one record.

    python coldstart_httpx.py PDS_URL SESSION_FILE COLLECTION

The session file is the ``createSession`` answer as JSON. Prints the
``time.monotonic()`` of each step as one JSON line.
"""

import sys
import time

t_script = time.monotonic()
import json  # noqa: E402

import httpx  # noqa: E402

t_import = time.monotonic()
pds_url, session_file, collection = sys.argv[1:4]
with open(session_file) as fh:
    session = json.load(fh)
http = httpx.Client(base_url=pds_url)
headers = {"Authorization": f"Bearer {session['accessJwt']}"}
t_restore = time.monotonic()
answer = http.post(
    "/xrpc/com.atproto.repo.createRecord",
    json={
        "repo": session["did"],
        "collection": collection,
        "record": {"$type": collection, "job": "cold start", "n": 1},
        "validate": False,
    },
    headers=headers,
)
answer.raise_for_status()
uri = answer.json()["uri"]
t_write = time.monotonic()
http.close()
assert uri.startswith("at://"), uri
print(
    f'{{"t_script": {t_script!r}, "t_import": {t_import!r}, '
    f'"t_restore": {t_restore!r}, "t_write": {t_write!r}}}'
)
