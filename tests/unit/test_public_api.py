"""The public surface: ``__all__``, the lazy-import table and what the package exposes agree."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import atmosphere

PACKAGE_DIR = Path(atmosphere.__file__).resolve().parent


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the ``if TYPE_CHECKING:`` imports in ``atmosphere/__init__.py``."""
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                for alias in stmt.names:
                    found[alias.name] = "." * stmt.level + (stmt.module or "")
    return found


def test_all_lazy_table_and_type_checking_imports_agree() -> None:
    lazy = atmosphere._LAZY
    assert sorted(atmosphere.__all__) == sorted([*lazy, "__version__"])
    assert _type_checking_imports() == lazy
    assert len(set(atmosphere.__all__)) == len(atmosphere.__all__)


def test_every_public_name_resolves_to_its_table_module() -> None:
    for name, module in atmosphere._LAZY.items():
        value = getattr(atmosphere, name)
        source = importlib.import_module(module, "atmosphere")
        assert getattr(source, name) is value, name


def test_dir_lists_exactly_the_public_names() -> None:
    assert dir(atmosphere) == sorted(atmosphere.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        atmosphere.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_the_documented_entry_points_import() -> None:
    from atmosphere import (  # noqa: F401
        AsyncAtmosphere,
        AsyncAtmosphereClient,
        AsyncIdentityResolver,
        Atmosphere,
        AtmosphereClient,
        IdentityResolver,
    )
    from atmosphere.atdata import adapt  # noqa: F401


def test_public_modules_are_errors_and_the_atdata_adapter() -> None:
    public = [
        m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]) if not m.name.startswith("_")
    ]
    assert public == ["atdata", "errors"]


def test_the_atdata_adapter_module_imports_no_atdata() -> None:
    code = (
        "import sys, atmosphere.atdata\nprint(atmosphere.atdata.__all__, 'atdata' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['adapt'] False"


def test_bare_import_loads_no_client_code() -> None:
    code = (
        "import sys, atmosphere; "
        "print(sorted(m for m in sys.modules if m.startswith('atmosphere.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_importing_the_clients_loads_neither_pydantic_nor_dnspython() -> None:
    code = (
        "import sys\n"
        "from atmosphere import AtmosphereClient, AsyncAtmosphereClient, IdentityResolver\n"
        "from atmosphere import Atmosphere, AsyncAtmosphere\n"
        "import atmosphere.atdata\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'dns'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_importing_the_clients_does_not_load_asyncio() -> None:
    # An asyncio program has it loaded already; a sync one should not pay for it.
    code = (
        "import sys\n"
        "from atmosphere import AtmosphereClient, AsyncAtmosphereClient\n"
        "print('asyncio' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_importing_the_clients_loads_no_transport_backend_or_oauth_machinery() -> None:
    # httpcore (and whatever async backends it pulls in) loads when the first
    # connection pool is built; the OAuth modules load on the first OAuth call.
    # Older httpx releases import httpcore themselves: only what the clients add
    # on top of `import httpx` counts.
    code = (
        "import sys\n"
        "import httpx\n"
        "already = set(sys.modules)\n"
        "from atmosphere import AtmosphereClient, AsyncAtmosphereClient, IdentityResolver\n"
        "from atmosphere import Atmosphere, AsyncAtmosphere\n"
        "heavy = ('httpcore', 'h11', 'anyio', 'trio', 'atmosphere._oauth.auth',\n"
        "         'atmosphere._oauth.session', 'atmosphere._oauth.flow')\n"
        "print(sorted(m for m in set(sys.modules) - already if m.startswith(heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_restoring_a_session_and_writing_loads_no_pydantic() -> None:
    # A short job's path: import, restore a saved session, write one record.
    code = """
import base64, json, sys, time
import httpx
from atmosphere import AtmosphereClient

def jwt(exp):
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return part({"alg": "HS256"}) + "." + part({"exp": exp, "sub": "did:plc:abc"}) + ".sig"

cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
answer = {"uri": "at://did:plc:abc/app.x.y/3kabc", "cid": cid}
http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))
client = AtmosphereClient("https://pds.example", _client=http)
now = time.time()
saved = ":::".join(("alice.test", "did:plc:abc", jwt(now + 3600), jwt(now + 86400),
                    "https://pds.example"))
client.login_with_session(saved, verify=False)
print(client.create_record("app.x.y", {"$type": "app.x.y", "n": 1}).rkey)
print(sorted({m.split('.')[0] for m in sys.modules} & {"pydantic", "dns"}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["3kabc", "[]"]
