"""Headless Chromium kept on loopback, for driving the authorization server's real pages.

Debian's ``chromium`` and ``chromedriver`` (``make browser`` installs them);
selenium is told their paths and ``SE_OFFLINE=true`` so Selenium Manager
downloads nothing. The host resolver maps every name except ``localhost`` and
``127.0.0.1`` to "not found", and background networking is off, so the browser
cannot reach anything but the loopback servers of the test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

LOOPBACK_ONLY = "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed: run `make browser`")
    return path


@contextmanager
def headless_chromium() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium session with a throw-away profile."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium")
    profile = tempfile.mkdtemp(prefix="atmosphere-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--dns-prefetch-disable",
        "--metrics-recording-only",
        f"--host-resolver-rules={LOOPBACK_ONLY}",
        "--window-size=1024,900",
    ):
        options.add_argument(arg)
    service = Service(executable_path=_binary("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
