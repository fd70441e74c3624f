"""Headless Chromium for the UI tests (Superset, the docs site, the Airflow UI): Debian's chromium through
Debian's chromedriver, which `make test` installs when missing. One browser per test module."""

from __future__ import annotations

import shutil
import time

import pytest


def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("Debian's chromium and chromium-driver are missing: `make test` installs them "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # without the background-networking flags Chromium keeps dialling Google, which this network refuses
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,1400"):
        options.add_argument(flag)
    b = webdriver.Chrome(service=Service(driver), options=options)
    b.set_page_load_timeout(120)
    return b


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy (pages build themselves after loading)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # the page is still building: keep polling until the deadline
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
