"""Cold start job, atmosphere: import, restore the saved session, write one record.

    python coldstart_atmosphere.py PDS_URL SESSION_FILE COLLECTION [--verify]

Without ``--verify`` the session is installed without a request
(``login_with_session(..., verify=False)``), as the SDK's
``login(session_string=...)`` does; with it, the session is checked first
(``getSession``, the default). Prints the ``time.monotonic()`` of each step
as one JSON line (the clock is system-wide, so the parent can subtract its
own start time).
"""

import sys
import time

t_script = time.monotonic()
from atmosphere import AtmosphereClient  # noqa: E402

t_import = time.monotonic()
pds_url, session_file, collection = sys.argv[1:4]
with open(session_file) as fh:
    saved = fh.read().strip()
client = AtmosphereClient(pds_url)
client.login_with_session(saved, verify="--verify" in sys.argv[4:])
t_restore = time.monotonic()
uri = client.create_record(collection, {"$type": collection, "job": "cold start", "n": 1})
t_write = time.monotonic()
client.close()
assert str(uri).startswith("at://"), uri
print(
    f'{{"t_script": {t_script!r}, "t_import": {t_import!r}, '
    f'"t_restore": {t_restore!r}, "t_write": {t_write!r}}}'
)
