"""The direction of the house for sign-in: route → engine → method → adapter → session → token.

The engine never imports the web layer, and the protocol layer (`idp.oauth`) never imports the engine or the
web layer: a login traced through the code never returns to a module it already left.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package.replace(".", "/")).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("idp.authn", ("idp.web",)), ("idp.oauth", ("idp.authn", "idp.web"))],
)
def test_no_import_runs_against_the_direction_of_a_sign_in(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        module: sorted(name for name in names if name.startswith(forbidden))
        for module, names in _imports(package).items()
        if any(name.startswith(forbidden) for name in names)
    }
    assert wrong == {}


def test_the_web_layer_holds_no_journey_decision() -> None:
    """The decision lives in idp.authn.policy; routes never judge prompt, acr or consent themselves."""
    for path in (ROOT / "idp/web").glob("*.py"):
        text = path.read_text()
        assert "get_consent_grant" not in text and "create_authorization_response" not in text, path.name
        assert "acr.demanded(" not in text and "consent.missing(" not in text, path.name
