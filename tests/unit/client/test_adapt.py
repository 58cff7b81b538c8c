"""``atmosphere.atdata.adapt``: our sync clients seen as atdata's class.

atdata is not installed in the main suite's venv (``make test-atdata`` drives
the real one): these tests stand a small module in for ``atdata.atmosphere.client``.
Sync only by nature: atdata is synchronous and the asyncio clients cannot be adapted.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atmosphere import (
    AsyncAtmosphere,
    AtdataMissingError,
    Atmosphere,
    AtmosphereClient,
    InvalidArgumentError,
)
from atmosphere.atdata import adapt
from tests.support.fake_pds import FakePds

PASSWORD = "pw pw pw pw"


class TheirAtmosphere:
    """Stands in for atdata 0.7's ``Atmosphere``."""

    _APPVIEW_URL = "https://bsky.social"

    def __init__(self) -> None:
        raise AssertionError("adapt() must not construct atdata's client")

    @property
    def did(self) -> str:
        return "theirs"

    def list_records(self, *args: Any, **kwargs: Any) -> Any:
        return "theirs"

    def _get_appview_client(self) -> Any:
        return "theirs"


def _install(monkeypatch: pytest.MonkeyPatch, **classes: type) -> None:
    package = types.ModuleType("atdata")
    sub = types.ModuleType("atdata.atmosphere")
    client = types.ModuleType("atdata.atmosphere.client")
    for name, cls in classes.items():
        setattr(client, name, cls)
    monkeypatch.setitem(sys.modules, "atdata", package)
    monkeypatch.setitem(sys.modules, "atdata.atmosphere", sub)
    monkeypatch.setitem(sys.modules, "atdata.atmosphere.client", client)


@pytest.fixture
def fake() -> FakePds:
    fake = FakePds("https://pds.test")
    fake.add_account("alice.test", PASSWORD)
    return fake


@pytest.fixture
def atmo(fake: FakePds) -> Iterator[Atmosphere]:
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        yield Atmosphere.login("alice.test", PASSWORD, base_url=fake.url, _client=http)


def test_the_adapted_client_passes_atdatas_check_with_our_members(
    monkeypatch: pytest.MonkeyPatch, atmo: Atmosphere, fake: FakePds
) -> None:
    _install(monkeypatch, Atmosphere=TheirAtmosphere)
    adapted = adapt(atmo)
    assert isinstance(adapted, TheirAtmosphere)
    assert isinstance(adapted, Atmosphere)
    assert adapted.did == atmo.did != "theirs"
    assert type(adapted).list_records is Atmosphere.list_records
    assert adapted.list_records("science.alt.dataset.schema") == ([], None)
    for name in ("_get_appview_client", "_APPVIEW_URL"):
        with pytest.raises(AttributeError, match="atmosphere does not provide"):
            getattr(adapted, name)
    assert adapt(adapted) is adapted
    assert type(adapt(atmo)) is type(adapted)  # one adapted class per pair


def test_the_adapted_client_shares_the_clients_state(
    monkeypatch: pytest.MonkeyPatch, fake: FakePds
) -> None:
    _install(monkeypatch, Atmosphere=TheirAtmosphere)
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        client = Atmosphere(fake.url, _client=http)
        adapted = adapt(client)
        assert not adapted.is_authenticated
        client._login("alice.test", PASSWORD)
        assert adapted.is_authenticated
        assert adapted.export_session() == client.export_session()


def test_atdata_03s_class_is_used_when_there_is_no_atmosphere(
    monkeypatch: pytest.MonkeyPatch, fake: FakePds
) -> None:
    class TheirClient:
        pass

    _install(monkeypatch, AtmosphereClient=TheirClient)
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        client = AtmosphereClient(fake.url, _client=http)
        adapted = adapt(client)
        assert isinstance(adapted, TheirClient)
        assert isinstance(adapted, AtmosphereClient)
        assert adapted.namespace == "ac.foundation.dataset"


def test_without_atdata_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, atmo: Atmosphere
) -> None:
    monkeypatch.setitem(sys.modules, "atdata.atmosphere.client", None)
    with pytest.raises(AtdataMissingError, match="pip install atdata") as info:
        adapt(atmo)
    assert isinstance(info.value, ImportError)


def test_an_atdata_without_either_class(monkeypatch: pytest.MonkeyPatch, atmo: Atmosphere) -> None:
    _install(monkeypatch)
    with pytest.raises(AtdataMissingError, match="neither"):
        adapt(atmo)


@pytest.mark.parametrize("bad", [object(), "client", None])
def test_only_our_sync_clients_can_be_adapted(monkeypatch: pytest.MonkeyPatch, bad: Any) -> None:
    _install(monkeypatch, Atmosphere=TheirAtmosphere)
    with pytest.raises(InvalidArgumentError, match="adapt\\(\\) takes"):
        adapt(bad)


def test_an_async_client_cannot_be_adapted(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, Atmosphere=TheirAtmosphere)
    with pytest.raises(InvalidArgumentError):
        adapt(AsyncAtmosphere(_client=httpx.AsyncClient()))
