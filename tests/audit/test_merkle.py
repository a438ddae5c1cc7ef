"""RFC 6962 Merkle math: known vectors, and every proof verifies while any flipped byte fails."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from idp.audit import merkle

# RFC 6962 reference test vectors (certificate-transparency-go merkle tests): leaves and roots of the
# trees of size 1..8.
LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

hashes = st.binary(min_size=32, max_size=32)


def _leaves(data: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(d) for d in data]


def test_reference_roots() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    for n in range(1, 9):
        assert merkle.root(_leaves(LEAVES[:n])).hex() == ROOTS[n - 1]


def test_reference_consistency_proof() -> None:
    """RFC 6962 §2.1.3's example: the proof between trees of 3 and 7 leaves is [c, d, g, l]."""
    leaves = _leaves(LEAVES[:7])
    proof = merkle.consistency_proof(3, leaves)
    c, d = leaves[2], leaves[3]
    g = merkle.node_hash(leaves[0], leaves[1])
    ll = merkle.node_hash(merkle.node_hash(leaves[4], leaves[5]), leaves[6])
    assert proof == [c, d, g, ll]


@given(st.lists(hashes, min_size=1, max_size=70), st.data())
def test_every_inclusion_proof_verifies_and_a_flipped_byte_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    top = merkle.root(leaves)
    proof = merkle.inclusion_proof(index, leaves)
    assert merkle.verify_inclusion(index, len(leaves), leaves[index], proof, top)
    flip = data.draw(st.integers(0, 31))
    bad_leaf = bytes([leaves[index][0] ^ 1]) + leaves[index][1:]
    assert not merkle.verify_inclusion(index, len(leaves), bad_leaf, proof, top)
    bad_root = top[:flip] + bytes([top[flip] ^ 0x80]) + top[flip + 1 :]
    assert not merkle.verify_inclusion(index, len(leaves), leaves[index], proof, bad_root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bad[i][:flip] + bytes([bad[i][flip] ^ 1]) + bad[i][flip + 1 :]
        assert not merkle.verify_inclusion(index, len(leaves), leaves[index], bad, top)
        assert not merkle.verify_inclusion(index, len(leaves), leaves[index], proof[:-1], top)
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        if leaves[other] != leaves[index]:
            assert not merkle.verify_inclusion(other, len(leaves), leaves[index], proof, top)


@given(st.lists(hashes, min_size=1, max_size=70), st.data())
def test_every_consistency_proof_verifies_and_a_flipped_byte_fails(leaves: list[bytes], data: st.DataObject) -> None:
    first = data.draw(st.integers(1, len(leaves)))
    old, new = merkle.root(leaves[:first]), merkle.root(leaves)
    proof = merkle.consistency_proof(first, leaves)
    assert merkle.verify_consistency(first, len(leaves), old, new, proof)
    flip = data.draw(st.integers(0, 31))
    bad_old = old[:flip] + bytes([old[flip] ^ 1]) + old[flip + 1 :]
    bad_new = new[:flip] + bytes([new[flip] ^ 1]) + new[flip + 1 :]
    assert not merkle.verify_consistency(first, len(leaves), bad_old, new, proof)
    assert not merkle.verify_consistency(first, len(leaves), old, bad_new, proof)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bad[i][:flip] + bytes([bad[i][flip] ^ 1]) + bad[i][flip + 1 :]
        assert not merkle.verify_consistency(first, len(leaves), old, new, bad)


@given(st.lists(hashes, min_size=2, max_size=40), st.data())
def test_a_rewritten_prefix_is_inconsistent(leaves: list[bytes], data: st.DataObject) -> None:
    first = data.draw(st.integers(1, len(leaves) - 1))
    changed = data.draw(st.integers(0, first - 1))
    forged = list(leaves)
    forged[changed] = bytes([forged[changed][0] ^ 1]) + forged[changed][1:]
    proof = merkle.consistency_proof(first, forged)
    assert not merkle.verify_consistency(first, len(leaves), merkle.root(leaves[:first]), merkle.root(forged), proof)


@given(st.lists(hashes, max_size=70), st.data())
def test_frontier_resumes_where_it_stopped(leaves: list[bytes], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(leaves)))
    first = merkle.Frontier()
    for leaf in leaves[:cut]:
        first.push(leaf)
    resumed = merkle.Frontier(first.size, first.hashes)
    for leaf in leaves[cut:]:
        resumed.push(leaf)
    assert resumed.root() == merkle.root(leaves) == merkle._mth(leaves, 0, len(leaves))
