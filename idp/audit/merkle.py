"""Merkle tree hashing and proofs as in RFC 6962 §2.1 (verification as written out in RFC 9162 §2.1.3-2.1.4).

Pure functions over leaf hashes (bytes); no database, no framework. Leaves are hashed with a 0x00 prefix and
interior nodes with 0x01, so a leaf can never pass for a node (second-preimage resistance, RFC 6962 §2.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

EMPTY_ROOT = hashlib.sha256(b"").digest()


class Leaves(Protocol):
    """Leaf hashes by index: a list, or a view that loads them from storage on demand."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> bytes: ...


# The hash of the perfect subtree over leaves [lo, hi) when it is stored (a tile), else None.
Known = Callable[[int, int], bytes | None]


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Leaves, lo: int, hi: int, known: Known | None = None) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    if known is not None:
        stored = known(lo, hi)
        if stored is not None:
            return stored
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k, known), _mth(leaves, lo + k, hi, known))


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.push(leaf)
    return frontier.root()


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest (leftmost) first.

    Enough to append leaves and compute the root without the leaves themselves, so the sequencer does work
    proportional to what it appends, not to the size of the log.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} perfect subtrees, not {len(hashes)}")
        self.size = size
        self._sizes = [1 << b for b in reversed(range(size.bit_length())) if size >> b & 1]
        self.hashes = list(hashes)

    def push(self, leaf: bytes) -> None:
        self._sizes.append(1)
        self.hashes.append(leaf)
        self.size += 1
        while len(self._sizes) > 1 and self._sizes[-1] == self._sizes[-2]:
            right, left = self.hashes.pop(), self.hashes.pop()
            self._sizes[-2] *= 2
            self._sizes.pop()
            self.hashes.append(node_hash(left, right))

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            acc = node_hash(left, acc)
        return acc


def inclusion_proof(index: int, leaves: Leaves, known: Known | None = None) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1 for leaf `index` in the tree of all `leaves`.

    `known` supplies stored subtree hashes, so that whole subtrees need not be rehashed from their leaves.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return path(m, lo, lo + k) + [_mth(leaves, lo + k, hi, known)]
        return path(m - k, lo + k, hi) + [_mth(leaves, lo, lo + k, known)]

    return path(index, 0, len(leaves))


def consistency_proof(first: int, leaves: Leaves, known: Known | None = None) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2: the tree of the first `first` leaves is a prefix of all `leaves`."""
    second = len(leaves)
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    if first in (0, second):
        return []

    def subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [_mth(leaves, lo, hi, known)]
        k = _split(n)
        if m <= k:
            return subproof(m, lo, lo + k, whole) + [_mth(leaves, lo + k, hi, known)]
        return subproof(m - k, lo + k, hi, False) + [_mth(leaves, lo, lo + k, known)]

    return subproof(first, 0, second, True)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2; an empty tree is a prefix of every tree, and a tree is consistent with itself."""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
