"""Safe DER encoding of asn1crypto trees that were built rather than parsed (see `der`)."""

from __future__ import annotations

from typing import Any, TypeVar

from asn1crypto import core
from asn1crypto.parser import _dump_header

T = TypeVar("T", bound=core.Asn1Value)


def _wrap(node: core.Asn1Value, contents: bytes) -> bytes:
    """Header (with the node's own tag and any explicit tags) + contents, as `Asn1Value.dump` lays them out."""
    header = _dump_header(node.class_, node.method, node.tag, contents)
    for class_, tag in node.explicit or ():
        header = _dump_header(class_, 1, tag, header + contents) + header
    return header + contents  # type: ignore[no-any-return]


def _lazy(child: tuple[Any, ...]) -> bytes:
    return child[3] + child[4] + child[5]  # type: ignore[no-any-return]  # a child asn1crypto has not parsed


def der(node: core.Asn1Value) -> bytes:
    """DER of an asn1crypto tree, encoding every node exactly once.

    asn1crypto's own `dump` never clears a constructed value's "mutated" flag and reads `contents` three times
    per call, re-encoding the children each time; a header ending in 0x80 (a length of 128, 384, ...) is also
    taken for an indefinite length and forces re-encoding. Dumping a freshly built CMS can thus cost ~3^depth:
    one seal in four took 20-100 s instead of a millisecond, depending on random lengths (wbond/asn1crypto#256).
    Leaves and untouched parsed values still come from asn1crypto; only the walk over constructed ones is ours.
    """
    if isinstance(node, core.Void):
        return b""
    if isinstance(node, core.Choice):
        if node._choice is None:
            return node.dump()  # type: ignore[no-any-return]
        contents = der(node.chosen)
        for class_, tag in node.explicit or ():
            contents = _dump_header(class_, 1, tag, contents) + contents
        return contents
    if isinstance(node, core.Any):
        return der(node.parsed) if node._parsed is not None else node.dump()  # type: ignore[no-any-return]
    if isinstance(node, core.ParsableOctetString) and node._parsed is not None:
        return _wrap(node, der(node._parsed[0]))
    children = getattr(node, "children", None)
    if isinstance(node, core.Sequence) and children is not None:
        parts = []
        for index, (_name, spec, params) in enumerate(node._fields):
            child = children[index] if index < len(children) else None
            encoded = b"" if child is None else _lazy(child) if isinstance(child, tuple) else der(child)
            if params and "default" in params and encoded == spec(**params).dump():
                continue  # DER omits a value equal to the default (X.690 §11.5)
            parts.append(encoded)
        return _wrap(node, b"".join(parts))
    if isinstance(node, core.SequenceOf) and children is not None:
        encoded_children = [_lazy(c) if isinstance(c, tuple) else der(c) for c in children]
        if isinstance(node, core.SetOf):
            encoded_children.sort()  # X.690 §11.6: SET OF components in ascending order of their encodings
        return _wrap(node, b"".join(encoded_children))
    return node.dump()  # type: ignore[no-any-return]


def settle(value: T) -> T:
    """The same value, re-parsed from DER we encoded (`der`): any later `dump` of it is then a lookup."""
    return type(value).load(der(value))  # type: ignore[no-any-return]
