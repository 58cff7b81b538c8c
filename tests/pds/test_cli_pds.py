"""The ``atmosphere`` command against the real reference PDS, run as a subprocess."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from atmosphere import (
    AtmosphereClient,
    compute_cid,
)
from atmosphere._cli import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    save_session,
)
from tests.support.cli import Result, error_line, run_cli
from tests.support.pds import PdsProcess, mint_expired_access_token

NS = "ac.foundation.dataset"
TEST_COLLECTION = "com.example.atmosphere.cliTest"


# -- against the real PDS -----------------------------------------------------------


@dataclass
class Cli:
    """Runs the CLI against the test PDS with one session file."""

    pds: PdsProcess
    tmp_path: Path
    session_file: Path

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return run_cli(
            "--pds",
            self.pds.pds_url,
            "--plc-url",
            self.pds.plc_url,
            *args,
            tmp_path=self.tmp_path,
            session_file=self.session_file,
            stdin=stdin,
        )

    def login(self, handle: str = "alice.test") -> Result:
        password = self.pds.account(handle).password
        result = self("--json", "login", handle, "--password-stdin", stdin=password + "\n")
        assert result.code == 0, result.stderr
        return result


@pytest.fixture
def cli(pds: PdsProcess, tmp_path: Path) -> Cli:
    return Cli(pds, tmp_path, tmp_path / "config" / "atmosphere" / "session")


@pytest.fixture
def alice_cli(cli: Cli) -> Iterator[Cli]:
    cli.login()
    yield cli
    if cli.session_file.exists():
        cli("logout")


def _write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


@pytest.mark.pds
def test_login_whoami_logout(cli: Cli, pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    result = cli.login()
    assert result.json() == {
        "did": alice.did,
        "handle": "alice.test",
        "pds": pds.pds_url,
        "session_file": str(cli.session_file),
    }
    assert alice.password not in result.stdout + result.stderr
    assert stat.S_IMODE(cli.session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.session_file.parent.stat().st_mode) == 0o700
    saved = cli.session_file.read_text().strip()
    assert saved.split(":::")[:2] == ["alice.test", alice.did]

    whoami = cli("--json", "whoami")
    assert whoami.code == 0
    assert whoami.json() == {"did": alice.did, "handle": "alice.test", "pds": pds.pds_url}
    text = cli("whoami")
    assert text.stdout.strip() == f"alice.test ({alice.did}) on {pds.pds_url}"
    for secret in saved.split(":::")[2:4]:
        assert secret not in whoami.stdout + whoami.stderr + text.stdout + text.stderr

    logout = cli("logout")
    assert logout.code == 0, logout.stderr
    assert not cli.session_file.exists()
    after = cli("whoami")
    assert after.code == EXIT_AUTH
    assert "not logged in" in error_line(after)

    # The server revoked the session: once the (stateless) access token has
    # expired, the saved refresh token no longer brings it back.
    handle, did, _access, refresh, pds_url = saved.split(":::")
    expired = mint_expired_access_token(pds.jwt_secret, did)
    save_session(cli.session_file, ":::".join([handle, did, expired, refresh, pds_url]))
    revoked = cli("whoami")
    assert revoked.code == EXIT_AUTH
    error_line(revoked)
    for secret in saved.split(":::")[2:4]:
        assert secret not in revoked.stdout + revoked.stderr


@pytest.mark.pds
def test_password_from_the_interactive_prompt_is_not_echoed(cli: Cli, pds: PdsProcess) -> None:
    # Without --password-stdin and without a terminal, getpass reads stdin (and
    # warns on stderr); the password must still never be printed.
    password = pds.account("alice.test").password
    result = cli("login", "alice.test", stdin=password + "\n")
    assert result.code == 0, result.stderr
    assert "Password for alice.test:" in result.stderr
    assert password not in result.stdout + result.stderr
    assert cli.session_file.exists()
    assert cli("logout").code == 0


@pytest.mark.pds
def test_bad_password_exits_3(cli: Cli) -> None:
    result = cli("login", "alice.test", "--password-stdin", stdin="wrong-password-123\n")
    assert result.code == EXIT_AUTH
    assert "authentication failed" in error_line(result)
    assert "wrong-password-123" not in result.stdout + result.stderr
    assert not cli.session_file.exists()


@pytest.mark.pds
def test_refreshed_tokens_are_saved(cli: Cli, pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    cli.login()
    handle, did, _access, refresh, pds_url = cli.session_file.read_text().strip().split(":::")
    expired = mint_expired_access_token(pds.jwt_secret, did)
    save_session(cli.session_file, ":::".join([handle, did, expired, refresh, pds_url]))

    result = cli("--json", "whoami")
    assert result.code == 0, result.stderr
    assert result.json()["did"] == alice.did
    fields = cli.session_file.read_text().strip().split(":::")
    assert fields[2] != expired
    assert fields[3] != refresh  # refresh rotates the refresh token
    assert stat.S_IMODE(cli.session_file.stat().st_mode) == 0o600
    assert cli("logout").code == 0


@pytest.mark.pds
def test_record_lifecycle(alice_cli: Cli, pds: PdsProcess, tmp_path: Path) -> None:
    cli = alice_cli
    did = pds.account("alice.test").did
    record = {"$type": TEST_COLLECTION, "name": "first", "n": 1}
    created = cli(
        "--json", "create", TEST_COLLECTION, str(_write_json(tmp_path / "r.json", record))
    )
    assert created.code == 0, created.stderr
    out = created.json()
    assert isinstance(out, dict)
    uri, cid = out["uri"], out["cid"]
    assert uri.startswith(f"at://{did}/{TEST_COLLECTION}/")
    assert isinstance(cid, str)
    assert cid.startswith("bafyrei")

    got = cli("--json", "get", uri)
    assert got.code == 0, got.stderr
    assert got.json() == record
    pretty = cli("get", uri)
    assert json.loads(pretty.stdout) == record
    assert "\n  " in pretty.stdout

    listed = cli("--json", "ls", TEST_COLLECTION)
    assert listed.code == 0, listed.stderr
    envelopes = {e["uri"]: e for e in listed.json_lines()}
    assert envelopes[uri] == {"uri": uri, "cid": cid, "value": record}
    array = cli("--json", "ls", TEST_COLLECTION, "--array")
    assert array.json() == listed.json_lines()
    text = cli("ls", TEST_COLLECTION)
    assert any(line.startswith(uri) for line in text.stdout.splitlines())

    rkey = uri.rsplit("/", 1)[1]
    updated = {**record, "name": "second"}
    put = cli("--json", "put", TEST_COLLECTION, rkey, "-", stdin=json.dumps(updated))
    assert put.code == 0, put.stderr
    assert put.json() == {"uri": uri, "cid": put.json()["cid"]}
    assert put.json()["cid"] != cid
    assert cli("--json", "get", uri).json() == updated

    keyed = cli("create", TEST_COLLECTION, "-", "--rkey", "fixed-key", stdin=json.dumps(record))
    assert keyed.code == 0, keyed.stderr
    assert keyed.stdout.strip() == f"at://{did}/{TEST_COLLECTION}/fixed-key"

    for target in (uri, keyed.stdout.strip()):
        removed = cli("--json", "rm", target)
        assert removed.code == 0, removed.stderr
        assert removed.json() == {"uri": target, "deleted": True}
    missing = cli("get", uri)
    assert missing.code == EXIT_NOT_FOUND
    assert "RecordNotFound" in error_line(missing)


@pytest.mark.pds
def test_create_requires_a_matching_type(alice_cli: Cli) -> None:
    no_type = alice_cli("create", TEST_COLLECTION, "-", stdin='{"name": "x"}')
    assert no_type.code == EXIT_ERROR
    assert '"$type"' in error_line(no_type)
    wrong = alice_cli("create", TEST_COLLECTION, "-", stdin='{"$type": "com.example.other"}')
    assert wrong.code == EXIT_ERROR
    assert "does not match the collection" in error_line(wrong)


@pytest.mark.pds
def test_bad_at_uri_is_a_usage_error(alice_cli: Cli) -> None:
    for bad in ("not-a-uri", "at://did:plc:abc/not an nsid/x"):
        result = alice_cli("get", bad)
        assert result.code == EXIT_USAGE
        assert "AT-URI" in result.stderr


@pytest.mark.pds
def test_ls_follows_cursors(alice_cli: Cli, pds: PdsProcess) -> None:
    collection = "com.example.atmosphere.cliPaging"
    alice = pds.account("alice.test")
    with AtmosphereClient(pds.pds_url) as client:
        client.login(alice.handle, alice.password)
        uris = [
            str(client.create_record(collection, {"$type": collection, "i": i})) for i in range(105)
        ]
        try:
            everything = alice_cli("--json", "ls", collection)
            assert everything.code == 0, everything.stderr
            assert sorted(e["uri"] for e in everything.json_lines()) == sorted(uris)
            limited = alice_cli("--json", "ls", collection, "--limit", "3")
            assert len(limited.json_lines()) == 3
            bob = pds.account("bob.test").did
            other = alice_cli("--json", "ls", collection, "--repo", bob)
            assert other.code == 0, other.stderr
            assert other.json_lines() == []
        finally:
            for uri in uris:
                client.delete_record(uri)


@pytest.mark.pds
def test_atdata_listings(alice_cli: Cli, pds: PdsProcess, tmp_path: Path) -> None:
    did = pds.account("alice.test").did
    made: dict[str, str] = {}
    for command, collection in (
        ("schemas", f"{NS}.sampleSchema"),
        ("datasets", f"{NS}.record"),
        ("lenses", f"{NS}.lens"),
    ):
        created = alice_cli(
            "--json", "create", collection, "-", stdin=json.dumps({"$type": collection, "k": 1})
        )
        assert created.code == 0, created.stderr
        uri = created.json()["uri"]
        made[command] = uri
        listed = alice_cli("--json", command, "--limit", "5")
        assert listed.code == 0, listed.stderr
        assert uri in [e["uri"] for e in listed.json_lines()]
        array = alice_cli("--json", command, "--limit", "5", "--array")
        assert array.json() == listed.json_lines()

    # Reading someone's repo needs no session: the PDS is found through PLC.
    anonymous = Cli(pds, tmp_path, tmp_path / "nobody" / "session")
    public = anonymous("--json", "schemas", "--repo", did)
    assert public.code == 0, public.stderr
    assert made["schemas"] in [e["uri"] for e in public.json_lines()]
    assert anonymous("schemas").code == EXIT_AUTH  # "yourself" needs a login
    for uri in made.values():
        assert alice_cli("rm", uri).code == 0


@pytest.mark.pds
def test_blob_upload_and_verified_download(alice_cli: Cli, pds: PdsProcess, tmp_path: Path) -> None:
    did = pds.account("alice.test").did
    data = os.urandom(300_000)
    source = tmp_path / "shard-000000.tar"
    source.write_bytes(data)

    uploaded = alice_cli("--json", "blob", "upload", str(source))
    assert uploaded.code == 0, uploaded.stderr
    assert uploaded.stderr == ""  # no progress bar without a terminal
    ref = uploaded.json()
    cid = compute_cid(data)
    assert ref == {
        "$type": "blob",
        "ref": {"$link": cid},
        "mimeType": "application/x-tar",
        "size": len(data),
    }
    forced = alice_cli("--json", "blob", "upload", str(source), "--mime", "application/x-custom")
    assert forced.json()["mimeType"] == "application/x-custom"

    # A blob is served once a record references it.
    holder = {"$type": f"{NS}.record", "name": "blob holder", "shard": ref}
    created = alice_cli("--json", "create", f"{NS}.record", "-", stdin=json.dumps(holder))
    assert created.code == 0, created.stderr
    try:
        target = tmp_path / "out" / "copy.tar"
        target.parent.mkdir()
        got = alice_cli("--json", "blob", "get", did, cid, "-o", str(target))
        assert got.code == 0, got.stderr
        assert got.json() == {"did": did, "cid": cid, "path": str(target), "size": len(data)}
        assert target.read_bytes() == data
        assert sorted(p.name for p in target.parent.iterdir()) == ["copy.tar"]

        anonymous = Cli(pds, tmp_path, tmp_path / "nobody" / "session")
        again = tmp_path / "again.tar"
        plain = anonymous("blob", "get", did, cid, "-o", str(again))
        assert plain.code == 0, plain.stderr
        assert again.read_bytes() == data
        assert f"Saved {len(data)} bytes" in plain.stdout

        missing = compute_cid(b"never uploaded")
        absent = alice_cli("blob", "get", did, missing, "-o", str(tmp_path / "nope"))
        assert absent.code == EXIT_NOT_FOUND
        error_line(absent)
        assert not (tmp_path / "nope").exists()
    finally:
        alice_cli("rm", created.json()["uri"])


@pytest.mark.pds
def test_resolve_by_did(cli: Cli, pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    result = cli("--json", "resolve", alice.did)
    assert result.code == 0, result.stderr
    report = result.json()
    assert isinstance(report, dict)
    assert report["did"] == alice.did
    assert report["pds"] == pds.pds_url
    assert report["claimed_handle"] == "alice.test"
    assert report["did_document"] == f"{pds.plc_url}/{alice.did}"
    # *.test handles are not in public DNS, so the handle cannot be verified here.
    assert report["handle"] in ("alice.test", "handle.invalid")
    how = report["how"]
    assert how["did"] == "given"
    assert "#atproto_pds" in how["pds"]
    if report["handle"] == "handle.invalid":
        assert "alice.test" in how["handle"]
        assert "does not resolve" in how["handle"]

    text = cli("resolve", alice.did)
    assert text.code == 0
    assert text.stdout.splitlines()[0] == f"did:    {alice.did}"

    unknown = cli("resolve", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    assert unknown.code == EXIT_NOT_FOUND
    assert "DID not found" in error_line(unknown)


@pytest.mark.pds
def test_resolve_reserved_handle_is_not_found(cli: Cli) -> None:
    result = cli("resolve", "someone.invalid")
    assert result.code == EXIT_NOT_FOUND
    assert "reserved" in error_line(result)
