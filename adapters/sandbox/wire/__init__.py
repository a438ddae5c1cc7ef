"""The providers' side of each request signature, written again from the published algorithms.

The emulators verify (and, where the provider signs its answers, sign) with this code only, never with the
adapters' `rpc_v1`, `tc3`, `acp` or `alipay_sign`: a canonicalisation bug shared by adapter and emulator would
pass every test, so the two sides are written apart, on plain `hmac`, `hashlib` and `cryptography`, and
each is pinned by fixed vectors (tests/adapters/test_wire_vectors.py), published ones where they exist.
"""
