"""What a process keeps loaded for signing: the PKI identities, the TSA, and each seal's key once opened.

Built once per process (CLI command or app, lazily on first use) from the runtime. Keys are unsealed once;
anything that can change — a seal's status and policy, certificate status — is read from the database on
every operation, so every node sees a revocation at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from idp.errors import NotReady
from idp.runtime import Runtime
from signing import pki
from signing.tsa import TimeStampAuthority


@dataclass
class SigningContext:
    runtime: Runtime
    authority: pki.Authority
    tsa: TimeStampAuthority
    # seal id -> loaded signer material (see signing.seals.loaded_signer); keys never change for a seal id.
    signers: dict[str, Any] = field(default_factory=dict)
    # Short-lived DER blobs (OCSP responses, the root CRL) reused across signatures: key -> (expiry, bytes).
    blobs: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def open_context(runtime: Runtime) -> SigningContext:
    with runtime.transaction() as session:
        try:
            authority = pki.load(session, runtime.master, runtime.settings.issuer)
        except LookupError as exc:
            raise NotReady(str(exc)) from None
    return SigningContext(runtime=runtime, authority=authority, tsa=TimeStampAuthority.of(authority))
