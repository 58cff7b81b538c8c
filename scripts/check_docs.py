"""Check every code block of README.md, so the documentation cannot rot (`make check-docs`).

Blocks are found by scanning the README's fenced code blocks, so a section
added later is covered without touching this script:

- The public types keep their promises (``create_record`` returns a
  ``RecordUri`` whose ``collection`` and ``rkey`` are ``str``, ``upload_blob``
  takes a ``BlobInput`` and refuses ``42``): a small contract, checked by mypy.
- ``python`` blocks are type-checked with ``mypy --strict`` (each block is a
  module of its own) and then run, each in a fresh interpreter and a fresh
  temporary directory, against the reference PDS on loopback (started here,
  as the tests do). The README's placeholder account
  (``alice.bsky.social`` / ``app-password``, or ``alice.example.com``) becomes
  the test PDS's account; the public client and resolver classes resolve it
  through the test PDS and its PLC directory (an HTTPS well-known lookup routed
  to loopback, no DNS), and ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1`` lets identity
  data point at loopback. Files a block names (``"shard-000000.tar"``) exist.
- ``sh`` blocks: every ``make TARGET`` names a Makefile target, and every
  ``atmosphere ...`` command line parses with the CLI's own argument parser.
- Links: every Markdown link in README.md is absolute (``https://...``) or an
  in-page ``#anchor``, so it works on the package index page too.

A block can opt out only with a marker on the line right before its fence,
and the marker must say why::

    <!-- check-docs: skip-run (opens a browser) -->      type-checked, not run
    <!-- check-docs: skip (shows output, not code) -->   neither

The same goes for the Markdown pages under ``docs/`` (most of them include
README sections; their own blocks are checked here too).

Usage: ``python scripts/check_docs.py [--no-run] [FILE.md ...]``
(default: README.md and docs/**/*.md, outside docs/_build).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
MARKER = re.compile(r"<!--\s*check-docs:\s*(?P<what>skip-run|skip)\s*(?P<why>.*?)\s*-->")
PYTHON = {"python", "py", "python3"}
SHELL = {"sh", "bash", "shell", "console"}

# The README's placeholder identities -> the test PDS's first account (handle, password).
PLACEHOLDER_HANDLES = ("alice.bsky.social", "alice.example.com")
PLACEHOLDER_PASSWORD = "app-password"
# Relative file names a block may read: created (small) in the block's directory.
DATA_FILE = re.compile(r"""["']([\w][\w.-]*\.(?:tar|bin|dat|json|car|zip|gz))["']""")
BLOCK_TIMEOUT = 120.0
# Elided values in shell examples -> valid ones, so the CLI's argument checks can run.
SHELL_PLACEHOLDERS = {
    "did:plc:...": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    "bafkrei...": "bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None  # "skip" / "skip-run" / None

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their opt-out markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group("fence"), m.group("info").strip().split(" ")[0].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence)) and lines[i].strip(fence[0]) == ""
        ):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        skip = None
        prev = lines[start - 1] if start > 0 else ""
        marker = MARKER.search(prev)
        if marker:
            why = marker.group("why").strip(" ()-—:")
            if not why:
                raise SystemExit(f"{path.name}:{start}: a check-docs marker must give its reason")
            skip = marker.group("what")
        if lang.startswith("{"):  # a MyST directive ({include}, {toctree}), not code
            continue
        found.append(Block(path, start + 1, lang, textwrap.dedent("\n".join(body)) + "\n", skip))
    return found


# -- python: mypy --strict ------------------------------------------------------------


def mypy_command(workdir: Path, *files: str) -> list[str]:
    """``mypy --strict`` over ``files`` in ``workdir``, without the project's own config."""
    return [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--python-version",
        "3.10",
        "--cache-dir",
        str(workdir / ".mypy_cache"),
        "--config-file",
        os.devnull,
        *files,
    ]


def typecheck(py_blocks: list[Block], workdir: Path) -> list[str]:
    """Run mypy --strict over the blocks (one module each); the failure messages."""
    files: dict[str, Block] = {}
    for n, block in enumerate(py_blocks):
        name = f"readme_block_{n:02d}_line_{block.line}.py"
        (workdir / name).write_text(block.code, encoding="utf-8")
        files[name] = block
    if not files:
        return []
    cmd = mypy_command(workdir, *sorted(files))
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    if out.returncode == 0:
        return []
    failures = []
    for line in out.stdout.splitlines():
        file, _, rest = line.partition(":")
        block = files.get(file)
        if block is None:
            continue
        lineno, _, message = rest.partition(":")
        where = block.line + int(lineno) if lineno.isdigit() else block.line
        failures.append(f"{block.path.name}:{where}: mypy: {message.strip()}")
    return failures or [out.stdout + out.stderr]


# The public types' promises that the README relies on, checked with the same mypy run:
# each `reveal_type` must show the type named in its comment, each marked call must fail.
CONTRACT = """
from pathlib import Path
from atmosphere import AtmosphereClient, AsyncAtmosphereClient, BlobRef, RecordUri

async def shapes(client: AtmosphereClient, aclient: AsyncAtmosphereClient) -> None:
    uri = client.create_record("a.b.c", {"$type": "a.b.c"})
    reveal_type(uri)  # RecordUri
    reveal_type(uri.collection)  # str
    reveal_type(uri.rkey)  # str
    reveal_type(client.put_record(uri.collection, uri.rkey, {}))  # RecordUri
    reveal_type(client.apply_writes([]))  # list[RecordUri]
    reveal_type(client.upload_blob(b"x"))  # BlobRef
    reveal_type(client.upload_blob(Path("x")))  # BlobRef
    reveal_type(client.upload_blob([b"a", b"b"]))  # BlobRef
    with open("x", "rb") as fh:
        reveal_type(client.upload_blob(fh))  # BlobRef
    reveal_type(await aclient.upload_blob(b"x"))  # BlobRef
    reveal_type(await aclient.create_record("a.b.c", {}))  # RecordUri
    client.upload_blob(42)  # error: arg-type
    client.upload_blob(3.5)  # error: arg-type
    client.upload_blob(["text", "chunks"])  # error: list-item
"""


def check_contract(workdir: Path) -> list[str]:
    """Run mypy --strict on CONTRACT; the promises it did not keep."""
    name = "public_types_contract.py"
    (workdir / name).write_text(CONTRACT, encoding="utf-8")
    cmd = mypy_command(workdir, name)
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False).stdout
    got: dict[int, list[str]] = {}
    for line in out.splitlines():
        m = re.match(rf"{re.escape(name)}:(\d+): (error|note): (.*)$", line)
        if m:
            got.setdefault(int(m.group(1)), []).append(f"{m.group(2)}: {m.group(3)}")
    failures = []
    for n, source in enumerate(CONTRACT.splitlines(), start=1):
        code, _, comment = source.partition("  # ")
        notes = got.pop(n, [])
        if "reveal_type(" in code:
            want = comment.strip()
            shown = [
                # Without module prefixes: "list[RecordUri]", "TypedDict(BlobRef, {...})".
                re.sub(r"\b(?:[a-z_]\w*\.)+(?=[A-Za-z_])", "", m.split('"', 1)[1].rstrip('"'))
                for m in notes
                if m.startswith("note: Revealed type is")
            ]
            if not shown or not (shown[0] == want or shown[0].startswith(f"TypedDict({want},")):
                failures.append(f"type contract line {n}: expected {want}, mypy says {notes}")
        elif comment.startswith("error: "):
            code_wanted = comment.removeprefix("error: ").strip()
            if not any(m.startswith("error:") and f"[{code_wanted}]" in m for m in notes):
                failures.append(f"type contract line {n}: `{code.strip()}` must be an error")
        elif notes:
            failures.append(f"type contract line {n}: unexpected {notes}")
    failures += [f"type contract line {n}: unexpected {m}" for n, m in got.items()]
    return failures


# -- python: run against the test PDS -------------------------------------------------

# Runs in the block's own interpreter before the block: binds the public classes to
# the test PDS (by subclassing, so the block's own code is unchanged).
PRELUDE = r"""
import os, sys
sys.path.insert(0, os.environ["CHECK_DOCS_ROOT"])
import httpx
import atmosphere
from tests.support.flavours import AsyncNoDns, NoDns
from tests.support.routing import RoutingTransport

_PLC = os.environ["CHECK_DOCS_PLC"]
_ROUTES = {os.environ["CHECK_DOCS_HANDLE"]: os.environ["CHECK_DOCS_PDS"]}


def _routed():
    return RoutingTransport(_ROUTES, passthrough=True)  # loopback PDS/PLC pass through
_base_client = atmosphere.AtmosphereClient
_base_async = atmosphere.AsyncAtmosphereClient
_base_resolver = atmosphere.IdentityResolver
_base_async_resolver = atmosphere.AsyncIdentityResolver
_base_atmosphere = atmosphere.Atmosphere
_base_async_atmosphere = atmosphere.AsyncAtmosphere


class IdentityResolver(_base_resolver):
    def __init__(self, **kw):
        kw.setdefault("http", httpx.Client(transport=_routed()))
        kw.setdefault("dns_resolver", NoDns())
        kw.setdefault("plc_url", _PLC)
        super().__init__(**kw)


class AsyncIdentityResolver(_base_async_resolver):
    def __init__(self, **kw):
        kw.setdefault("http", httpx.AsyncClient(transport=_routed()))
        kw.setdefault("dns_resolver", AsyncNoDns())
        kw.setdefault("plc_url", _PLC)
        super().__init__(**kw)


class AtmosphereClient(_base_client):
    def __init__(self, base_url=None, **kw):
        kw.setdefault("plc_url", _PLC)
        kw.setdefault("resolver", IdentityResolver())
        super().__init__(base_url, **kw)


class AsyncAtmosphereClient(_base_async):
    def __init__(self, base_url=None, **kw):
        kw.setdefault("plc_url", _PLC)
        kw.setdefault("resolver", AsyncIdentityResolver())
        super().__init__(base_url, **kw)


class Atmosphere(_base_atmosphere):
    def __init__(self, base_url=None, **kw):
        kw.setdefault("plc_url", _PLC)
        kw.setdefault("resolver", IdentityResolver())
        super().__init__(base_url, **kw)


class AsyncAtmosphere(_base_async_atmosphere):
    def __init__(self, base_url=None, **kw):
        kw.setdefault("plc_url", _PLC)
        kw.setdefault("resolver", AsyncIdentityResolver())
        super().__init__(base_url, **kw)


for _cls in (
    IdentityResolver,
    AsyncIdentityResolver,
    AtmosphereClient,
    AsyncAtmosphereClient,
    Atmosphere,
    AsyncAtmosphere,
):
    _cls.__module__ = "atmosphere"
    setattr(atmosphere, _cls.__name__, _cls)
del _cls
"""


def substitute(code: str, handle: str, password: str) -> str:
    for placeholder in PLACEHOLDER_HANDLES:
        code = code.replace(placeholder, handle)
    return code.replace(PLACEHOLDER_PASSWORD, password)


def run_block(block: Block, env: dict[str, str], handle: str, password: str) -> str | None:
    """Run one block in a fresh interpreter and directory; an error message, or None."""
    with tempfile.TemporaryDirectory(prefix="check-docs-") as tmp:
        for name in set(DATA_FILE.findall(block.code)):
            Path(tmp, name).write_bytes(os.urandom(4096) + name.encode())
        script = Path(tmp, "block.py")
        script.write_text(
            PRELUDE + "\n# --- README block ---\n" + substitute(block.code, handle, password),
            encoding="utf-8",
        )
        started = time.monotonic()
        try:
            out = subprocess.run(
                [sys.executable, str(script)],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"{block.name}: did not finish within {BLOCK_TIMEOUT:g} s"
        took = time.monotonic() - started
        if out.returncode != 0:
            tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
            return f"{block.name}: exited with status {out.returncode}\n{tail}"
        print(f"  ran {block.name} ({took:.1f} s)")
        return None


def run_blocks(py_blocks: list[Block]) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from tests.support.pds import start_pds

    failures: list[str] = []
    with start_pds() as pds:
        account = pds.accounts[0]
        env = dict(os.environ)
        env.update(
            CHECK_DOCS_ROOT=str(ROOT),
            CHECK_DOCS_PDS=pds.pds_url,
            CHECK_DOCS_PLC=pds.plc_url,
            CHECK_DOCS_HANDLE=account.handle,
            ATMOSPHERE_ALLOW_PRIVATE_HOSTS="1",
            PYTHONWARNINGS="error::DeprecationWarning",
        )
        for block in py_blocks:
            message = run_block(block, env, account.handle, account.password)
            if message:
                failures.append(message)
    return failures


# -- sh: make targets and CLI command lines ----------------------------------------------


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))


def check_shell(block: Block) -> list[str]:
    from atmosphere._cli import build_parser

    failures = []
    targets = make_targets()
    for offset, raw in enumerate(block.code.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        where = f"{block.path.name}:{block.line + offset}"
        if not line or line.startswith("#"):
            continue
        for placeholder, value in SHELL_PLACEHOLDERS.items():
            line = line.replace(placeholder, value)
        # The command after a pipe into it (`printf ... | atmosphere login ...`).
        command = line.rsplit("|", 1)[-1].strip() if "| atmosphere" in line else line
        words = shlex.split(command.split(" <", 1)[0].split(" >", 1)[0])
        if words[:1] == ["make"]:
            for word in words[1:]:
                if "=" not in word and not word.startswith("-") and word not in targets:
                    failures.append(f"{where}: `make {word}`: no such Makefile target")
        elif words[:1] == ["atmosphere"]:
            try:
                build_parser().parse_args(words[1:])
            except SystemExit as exc:
                if exc.code not in (0, None):
                    failures.append(f"{where}: the CLI rejects `{command}`")
    return failures


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def relative_links(path: Path) -> list[str]:
    """Links that only work inside the repository (README.md only: docs pages link freely)."""
    if path.name != "README.md":
        return []
    failures = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for target in LINK.findall(line):
            if not target.startswith(("https://", "http://", "#", "mailto:")):
                failures.append(f"{path.name}:{n}: relative link {target!r}: make it absolute")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=[
            ROOT / "README.md",
            *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts),
        ],
    )
    parser.add_argument("--no-run", action="store_true", help="type-check only")
    args = parser.parse_args()

    found = [b for f in args.files for b in blocks(f)]
    py_blocks = [b for b in found if b.lang in PYTHON and b.skip != "skip"]
    sh_blocks = [b for b in found if b.lang in SHELL and b.skip != "skip"]
    skipped = [b for b in found if b.skip]
    print(
        f"check-docs: {len(found)} blocks; {len(py_blocks)} python, {len(sh_blocks)} shell, "
        f"{len(skipped)} with an opt-out marker"
    )
    failures: list[str] = [f for path in args.files for f in relative_links(path)]
    with tempfile.TemporaryDirectory(prefix="check-docs-mypy-") as tmp:
        failures += typecheck(py_blocks, Path(tmp))
        failures += check_contract(Path(tmp))
    print(f"  mypy --strict: {len(py_blocks)} python blocks and the public types' contract")
    for block in sh_blocks:
        failures += check_shell(block)
    if not args.no_run and not failures:
        failures += run_blocks([b for b in py_blocks if b.skip != "skip-run"])
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures:
        return 1
    print("check-docs: every block passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
