"""Cold start job, the atproto SDK: import, restore the saved session, write one record.

    python coldstart_sdk.py PDS_URL SESSION_FILE COLLECTION DID

``Client.login(session_string=..., fetch_bsky_profile=False)`` installs the
session without a request. Prints the ``time.monotonic()`` of each step as
one JSON line.
"""

import sys
import time

t_script = time.monotonic()
from atproto import Client  # noqa: E402

t_import = time.monotonic()
pds_url, session_file, collection, did = sys.argv[1:5]
with open(session_file) as fh:
    saved = fh.read().strip()
client = Client(pds_url)
client.login(session_string=saved, fetch_bsky_profile=False)
t_restore = time.monotonic()
answer = client.com.atproto.repo.create_record(
    {
        "repo": did,
        "collection": collection,
        "record": {"$type": collection, "job": "cold start", "n": 1},
        "validate": False,
    }
)
t_write = time.monotonic()
assert answer.uri.startswith("at://"), answer
print(
    f'{{"t_script": {t_script!r}, "t_import": {t_import!r}, '
    f'"t_restore": {t_restore!r}, "t_write": {t_write!r}}}'
)
