"""Use the package from a renamed copy, as a vendoring application would (`make check-vendored`).

Copies ``src/atmosphere/`` to ``<tmp>/myapp/_vendor/atmosphere/`` and, in a
fresh interpreter where importing a top-level ``atmosphere`` fails, drives
the copy against the reference PDS on loopback: sync and asyncio clients
(login, records, a blob there and back), the resolver, the lazily imported
public names and pydantic models, the error classes, and the command line
(``python -m myapp._vendor.atmosphere --version``). Every logger the copy
creates must be named under ``myapp._vendor.atmosphere`` (the one rule:
``logging.getLogger(__name__)``), so the application configures it as
``logging.getLogger("myapp._vendor.atmosphere")``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import asyncio, importlib.abc, logging, os, sys

class NoTopLevelAtmosphere(importlib.abc.MetaPathFinder):
    """Any import of the installed `atmosphere` is a failure: the copy must not need it."""
    def find_spec(self, name, path=None, target=None):
        if name == "atmosphere" or name.startswith("atmosphere."):
            raise ImportError(f"the vendored copy imported the top-level {name!r}")
        return None

sys.meta_path.insert(0, NoTopLevelAtmosphere())

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.name)

logging.basicConfig(level=logging.DEBUG, handlers=[Keep()])
# What the README tells a vendoring application to do:
logging.getLogger("myapp._vendor.atmosphere").setLevel(logging.DEBUG)

from myapp._vendor import atmosphere as atm
from myapp._vendor.atmosphere import (
    AsyncAtmosphereClient, AtmosphereClient, AtUri, IdentityResolver, RecordUri, compute_cid,
)
from myapp._vendor.atmosphere.errors import AtmosphereError, RecordNotFoundError

pds, plc = os.environ["VENDOR_PDS"], os.environ["VENDOR_PLC"]
handle, password = os.environ["VENDOR_HANDLE"], os.environ["VENDOR_PASSWORD"]
NSID = "ac.foundation.dataset.record"
blob = os.urandom(70_000)

with AtmosphereClient(pds, plc_url=plc) as client:
    client.login(handle, password)
    ref = client.upload_blob(blob, "application/octet-stream")
    assert ref["ref"]["$link"] == compute_cid(blob)
    uri = client.create_record(NSID, {"$type": NSID, "name": "vendored", "data": [ref]})
    assert isinstance(uri, RecordUri) and isinstance(uri, AtUri), type(uri)
    assert type(uri).__module__ == "myapp._vendor.atmosphere._syntax", type(uri).__module__
    assert client.get_record(uri)["name"] == "vendored"
    assert client.get_blob(client.did, ref["ref"]["$link"]) == blob
    saved = client.export_session()
    client.delete_record(uri)
    try:
        client.get_record(uri)
    except RecordNotFoundError as exc:
        assert isinstance(exc, atm.AtmosphereError) and isinstance(exc, AtmosphereError)
    else:
        raise AssertionError("a deleted record was found")

async def main():
    async with AsyncAtmosphereClient(pds, plc_url=plc) as client:
        await client.login_with_session(saved)
        uri = await client.create_record(NSID, {"$type": NSID, "name": "async"})
        assert (await client.get_record(uri))["name"] == "async"
        await client.delete_record(uri)

asyncio.run(main())

with IdentityResolver(plc_url=plc) as resolver:
    doc = resolver.resolve_did(os.environ["VENDOR_DID"])
    assert type(doc).__module__ == "myapp._vendor.atmosphere._models", type(doc).__module__

names = sorted(set(records))
ours = [n for n in names if "atmosphere" in n]
assert ours, f"the copy logged nothing under its name (loggers: {names})"
stray = [n for n in ours if not n.startswith("myapp._vendor.atmosphere.")]
assert not stray, f"loggers outside the vendored package name: {stray}"
made = [n for n in logging.root.manager.loggerDict if "atmosphere" in n]
stray = [n for n in made if not n.startswith("myapp._vendor.atmosphere")]
assert not stray, f"loggers created outside the vendored package name: {stray}"
print("vendored copy OK; loggers used:", ", ".join(ours))
'''


def main() -> int:
    started = time.monotonic()
    sys.path.insert(0, str(ROOT))
    from tests.support.pds import start_pds

    with tempfile.TemporaryDirectory(prefix="check-vendored-") as tmp_name:
        tmp = Path(tmp_name)
        vendor = tmp / "myapp" / "_vendor"
        vendor.mkdir(parents=True)
        (tmp / "myapp" / "__init__.py").write_text("")
        (vendor / "__init__.py").write_text("")
        shutil.copytree(
            ROOT / "src" / "atmosphere",
            vendor / "atmosphere",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (tmp / "child.py").write_text(CHILD, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ATMOSPHERE_"))}
        env["PYTHONPATH"] = str(tmp)
        env["ATMOSPHERE_ALLOW_PRIVATE_HOSTS"] = "1"  # the loopback PDS's own DID documents
        with start_pds() as pds:
            account = pds.accounts[0]
            env.update(
                VENDOR_PDS=pds.pds_url,
                VENDOR_PLC=pds.plc_url,
                VENDOR_HANDLE=account.handle,
                VENDOR_PASSWORD=account.password,
                VENDOR_DID=account.did,
            )
            child = subprocess.run(
                [sys.executable, "-W", "error", str(tmp / "child.py")],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        print(child.stdout, end="")
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            print("FAIL check-vendored: the renamed copy did not work", file=sys.stderr)
            return 1
        cli = subprocess.run(
            [sys.executable, "-m", "myapp._vendor.atmosphere", "--version"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if cli.returncode != 0 or not cli.stdout.startswith("atmosphere-atproto "):
            print(cli.stdout + cli.stderr, file=sys.stderr)
            print("FAIL check-vendored: the copy's command line did not run", file=sys.stderr)
            return 1
    print(f"check-vendored: passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
