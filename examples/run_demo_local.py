"""``make demo``: run examples/publish_dataset.py against a local reference PDS.

Starts the pinned reference PDS and a PLC directory on loopback (see
fixtures/pds), plus a loopback DNS server that publishes the demo account's
``_atproto`` TXT record, so that the walk-through resolves identities exactly
as it would on the public network. Everything is torn down on exit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from publish_dataset import publish  # noqa: E402

from atmosphere import AtmosphereClient, IdentityResolver  # noqa: E402
from tests.support.dns_server import DnsServer  # noqa: E402
from tests.support.pds import start_pds  # noqa: E402


def main() -> int:
    """Start the local services, log in as the demo account and run the flow."""
    t0 = time.perf_counter()
    print("starting a local reference PDS and PLC directory ...", flush=True)
    with start_pds() as pds, DnsServer() as dns_server:
        acct = pds.account("alice.test")
        dns_server.set_txt(f"_atproto.{acct.handle}", f"did={acct.did}")
        print(
            f"PDS {pds.pds_url}  PLC {pds.plc_url}  DNS 127.0.0.1:{dns_server.port}"
            f"  (ready in {time.perf_counter() - t0:.1f} s)\n"
        )
        with (
            # The local PDS is a loopback, plain-http host: local development is
            # switched on explicitly (the default refuses such hosts when they
            # come from identity data).
            IdentityResolver(
                dns_resolver=dns_server.make_resolver(),
                plc_url=pds.plc_url,
                timeout=5,
                allow_private_hosts=True,
            ) as resolver,
            AtmosphereClient(resolver=resolver, allow_private_hosts=True) as client,
        ):
            # No base URL: the PDS is found from the handle (DNS TXT -> DID -> PLC doc).
            client.login(acct.handle, acct.password)
            publish(client, report=lambda line: print(f"  {line}", flush=True))
    print("\nlocal PDS stopped; demo finished")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
