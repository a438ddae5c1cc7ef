"""The house, one way (DESIGN): `adapters` and `keys` import nothing of ours; `signing` imports `keys` and
`adapters` and nothing from `idp`; `idp` wires everything.

Read from the source (every `import` and `from ... import` of every module of a package, at any depth,
including imports inside functions), so a lazy import cannot hide the dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"idp", "signing", "keys", "adapters"}
LAYERS = {"signing": {"signing", "keys", "adapters"}, "keys": {"keys"}, "adapters": {"adapters"}}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _offending(package: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in _imports(path)
        if name.split(".")[0] in OURS - LAYERS[package]
    ]


def test_signing_imports_nothing_from_idp() -> None:
    assert len(list((ROOT / "signing").rglob("*.py"))) > 20  # the walk covers the package, web/ and cli/ too
    assert (ROOT / "signing" / "web" / "api.py").exists() and (ROOT / "signing" / "cli" / "seal.py").exists()
    assert _offending("signing") == []


@pytest.mark.parametrize("package", ["keys", "adapters"])
def test_keys_and_adapters_import_nothing_of_ours(package: str) -> None:
    assert _offending(package) == []


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from idp.db import utcnow\n    import idp.audit\n")
    assert [name for _, name in _imports(module)] == ["idp.db", "idp.audit"]
