"""look() catches what it promises: a load the CSP refuses, a page wider than a phone, and an
axe-core finding each fail it with a message that says what happened (on the real home page,
spoiled on purpose in the browser)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import harness
from tests.e2e.harness import look


@pytest.fixture
def home(page: Page) -> Page:
    page.goto("/")
    expect(page.locator("h1")).to_be_visible()
    return page


def test_look_reports_a_load_the_csp_refused(home: Page) -> None:
    home.evaluate(
        """() => new Promise(done => {
            document.addEventListener("securitypolicyviolation", () => done(), { once: true });
            const img = document.createElement("img");
            img.alt = "x";
            img.src = "https://elsewhere.example/pixel.png";
            document.body.append(img);
        })"""
    )
    with pytest.raises(AssertionError, match="Content Security Policy"):
        look(home, "harness-csp")


def test_look_reports_sideways_scrolling_on_a_phone(home: Page) -> None:
    home.evaluate("() => { document.querySelector('h1').style.width = '900px'; }")
    with pytest.raises(AssertionError, match="sideways scrolling at 360 px"):
        look(home, "harness-wide")


def test_look_reports_an_axe_finding_with_its_rule_and_place(
    home: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    # this test checks look() itself: axe-core runs in this pass too
    monkeypatch.setattr(harness, "MARKUP_CHECKED_ELSEWHERE", False)
    home.evaluate("() => { document.querySelector('#language-select').id = 'unlabelled'; }")
    with pytest.raises(AssertionError, match=r"select-name \(critical\)[\s\S]*#unlabelled"):
        look(home, "harness-axe")
