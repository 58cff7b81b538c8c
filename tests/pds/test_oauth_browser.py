"""Sign in and consent on the authorization server's real pages, in headless Chromium.

The browser is confined to loopback (tests/support/browser.py). The client's
``login_oauth`` pushes the authorization request and hands the URL to the
``open_browser`` hook, which loads it in Chromium, signs in on the provider's
page and presses "Authorize"; the browser is redirected to the client's
loopback callback server, and the client finishes (token exchange, binding
check), publishes a record and a blob, and logs out (revocation).
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from atmosphere import AtmosphereClient, compute_cid
from tests.support.browser import headless_chromium
from tests.support.pds import PdsProcess

pytestmark = pytest.mark.pds


def test_sign_in_and_consent_in_a_real_browser(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    with (
        headless_chromium() as browser,
        AtmosphereClient(pds.pds_url, plc_url=pds.plc_url, allow_private_hosts=True) as client,
    ):

        def sign_in(url: str) -> None:
            browser.get(url)
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
            wait.until(ec.url_contains("http://127.0.0.1:"))
            wait.until(lambda b: "You may close this window" in b.page_source)

        session = client.login_oauth(alice.handle, open_browser=sign_in, show_url=None)
        assert session.did == client.did == alice.did
        uri = client.create_record(
            "app.bsky.feed.post",
            {
                "$type": "app.bsky.feed.post",
                "text": "signed in with a browser",
                "createdAt": "2026-01-01T00:00:00.000Z",
            },
        )
        assert uri.authority == alice.did
        data = b"a blob from a browser sign-in"
        assert client.upload_blob(data)["ref"]["$link"] == compute_cid(data)
        client.logout()
        assert not client.is_authenticated
