"""Signing imports nothing from `idp` (DESIGN: `signing` may import `keys` and `adapters` only).

Read from the source (every `import` and `from ... import` of every module under signing/, at any depth,
including imports inside functions), so a lazy import cannot hide the dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import signing

ROOT = Path(signing.__file__).parent
ALLOWED = {"signing", "keys", "adapters"}
OURS = {"idp", "signing", "keys", "adapters"}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_signing_imports_nothing_from_idp() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 20  # the walk really covers the package, web/ and cli/ included
    offending = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if name.split(".")[0] in OURS and name.split(".")[0] not in ALLOWED
    ]
    assert offending == []


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from idp.db import utcnow\n    import idp.audit\n")
    assert [name for _, name in _imports(module)] == ["idp.db", "idp.audit"]
