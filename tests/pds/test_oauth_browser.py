"""Sign in and consent on the authorization server's real pages, in headless Chromium.

The browser is confined to loopback (tests/support/browser.py). It loads the
authorization URL from a real PAR, signs in on the provider's page, presses
"Authorize", and is redirected to the loopback callback server; the flow then
finishes with the token exchange and the binding check, and the session
publishes a record.
"""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from atmosphere._oauth import NonceStore, flow
from atmosphere._oauth.drive import run_sync
from atmosphere._oauth.identity import SimpleIdentityLookup
from atmosphere._oauth.loopback import CallbackServer
from atmosphere._oauth.resource import DpopAuth
from tests.support.browser import headless_chromium
from tests.support.pds import PdsProcess

pytestmark = pytest.mark.pds


def test_sign_in_and_consent_in_a_real_browser(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    lookup = SimpleIdentityLookup(
        plc_url=pds.plc_url, handle_service=pds.pds_url, allow_private_hosts=True
    )
    nonces = NonceStore()
    with (
        httpx.Client(trust_env=False) as http,
        CallbackServer() as callback,
        headless_chromium() as browser,
    ):
        pending = run_sync(
            flow.start_from_identifier(
                alice.handle, callback.client(), identity=lookup, nonces=nonces
            ),
            http,
        )
        browser.get(pending.url)
        wait = WebDriverWait(browser, 30)
        # With login_hint the page opens on "Sign in" with the username filled in.
        password = wait.until(ec.element_to_be_clickable((By.NAME, "password")))
        username = browser.find_element(By.NAME, "username")
        assert username.get_attribute("value") == alice.handle
        password.send_keys(alice.password)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        authorize = wait.until(
            ec.element_to_be_clickable(
                (By.XPATH, "//button[contains(normalize-space(.), 'Authorize')]")
            )
        )
        authorize.click()
        params = callback.wait(timeout=30)
        wait.until(ec.url_contains(callback.redirect_uri))
        assert "You may close this window" in browser.page_source

        session = run_sync(
            flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), http
        )
        assert session.did == alice.did
        with httpx.Client(auth=DpopAuth(lambda: session, NonceStore()), trust_env=False) as pdsc:
            created = pdsc.post(
                f"{session.pds_url}/xrpc/com.atproto.repo.createRecord",
                json={
                    "repo": session.did,
                    "collection": "app.bsky.feed.post",
                    "record": {
                        "$type": "app.bsky.feed.post",
                        "text": "signed in with a browser",
                        "createdAt": "2026-01-01T00:00:00.000Z",
                    },
                },
            )
        assert created.status_code == 200, created.text
        run_sync(flow.revoke_session(session, nonces=nonces), http)
