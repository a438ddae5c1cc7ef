"""Accessibility checks run in the real browser: axe-core (npm, tests/e2e/node_modules) injected into a
Playwright page, WCAG 2.x A and AA rules, and only the findings axe rates serious or critical kept.

Without node_modules/axe-core the checks skip, saying how to install it; under CI (CI=true) they fail instead,
because `.ci/run` installs it with `npm ci`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import IN_CI

AXE = Path(__file__).resolve().parents[1] / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class Finding:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.impact} {self.rule} ({self.help}): {', '.join(self.targets[:5])}"


def axe_or_skip() -> None:
    if AXE.exists():
        return
    reason = f"{AXE} is missing: run `npm ci` in tests/e2e"
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the accessibility checks)")
    pytest.skip(reason)


def check(page: Page) -> list[Finding]:
    """The serious and critical WCAG 2.x A/AA violations axe finds on the page as it is now."""
    axe_or_skip()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        Finding(v["id"], v["impact"], v["help"], tuple(" ".join(map(str, n["target"])) for n in v["nodes"]))
        for v in result["violations"]
        if v.get("impact") in BLOCKING
    ]


def no_sideways_scroll(page: Page) -> bool:
    """True when nothing on the page is wider than the window (the page never scrolls sideways)."""
    content, client = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    width = page.viewport_size["width"] if page.viewport_size else client
    return bool(content <= min(client, width))
