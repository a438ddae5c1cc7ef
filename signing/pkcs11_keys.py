"""Seal keys held in an HSM through PKCS#11 (OASIS PKCS#11 v2.40): generated on the token, never exported.

Only a label (`yiwang-seal-<seal id>`) is stored in the database; the token does the signing. Tested against
SoftHSM2 (Debian `softhsm2`, module `/usr/lib/softhsm/libsofthsm2.so`).

Configuration is given by the app (`signing.ports.Pkcs11Config`, from its settings `pkcs11_module`,
`pkcs11_token`, `pkcs11_pin`); nothing here reads the environment.
"""

from __future__ import annotations

import threading
from typing import Any

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from signing.errors import InvalidInput, NotReady
from signing.pades import TemplateSigner, max_signature_bytes, signature_algorithm_for
from signing.ports import Pkcs11Config
from signing.seals import PKCS11, KeyMaterial

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# A PKCS#11 library is initialised once per process (C_Initialize), and a token's login state belongs to the
# process, not to a session (a second C_Login fails with CKR_USER_ALREADY_LOGGED_IN): so one logged-in session
# per token and process, shared under a lock (sessions are not meant for concurrent operations).
_libraries: dict[str, Any] = {}  # pkcs11.lib instances (a function in the stubs, a class at run time)
_sessions: dict[tuple[str, str], tuple[pkcs11.Session, threading.Lock]] = {}
_registry_lock = threading.Lock()


def configured(config: Pkcs11Config | None) -> Pkcs11Config:
    """The configuration, or NotReady saying which settings are missing."""
    if config is None or not config.token or not config.pin:
        raise NotReady("PKCS#11 is not configured: set YIWANG_PKCS11_MODULE, YIWANG_PKCS11_TOKEN and YIWANG_PKCS11_PIN")
    return config


def _session(config: Pkcs11Config) -> tuple[pkcs11.Session, threading.Lock]:
    key = (config.module, config.token)
    with _registry_lock:
        if key in _sessions:
            return _sessions[key]
        lib = _libraries.get(config.module)
        if lib is None:
            try:
                lib = _libraries[config.module] = pkcs11.lib(config.module)
            except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
                raise NotReady(f"cannot load the PKCS#11 module {config.module}: {exc}") from None
        try:
            session = lib.get_token(token_label=config.token).open(user_pin=config.pin, rw=True)
        except pkcs11.NoSuchToken:
            raise NotReady(f"no PKCS#11 token labelled {config.token}") from None
        except pkcs11.PKCS11Error as exc:
            raise NotReady(f"cannot open the PKCS#11 token: {type(exc).__name__}") from None
        _sessions[key] = (session, threading.Lock())
        return _sessions[key]


def label_for(seal_id: str) -> str:
    return f"yiwang-seal-{seal_id}"


def generate(config: Pkcs11Config, seal_id: str, key_alg: str) -> KeyMaterial:
    """Generate the seal's key pair on the token: private half sensitive and not extractable."""
    label = label_for(seal_id)
    private = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
    session, lock = _session(config)
    with lock:
        if key_alg == "ec-p256":
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
            )
            public, _ = params.generate_keypair(store=True, label=label, id=seal_id.encode(), private_template=private)
            point = public[Attribute.EC_POINT]
            # CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 §2.3.3).
            raw = point[2:] if point[:1] == b"\x04" and len(point) == point[1] + 2 else point
            key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), raw
            )
        elif key_alg == "rsa-2048":
            public, _ = session.generate_keypair(
                KeyType.RSA, 2048, store=True, label=label, id=seal_id.encode(), private_template=private
            )
            key = rsa.RSAPublicNumbers(
                int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(public[Attribute.MODULUS], "big"),
            ).public_key()
        else:
            raise InvalidInput("key algorithm must be ec-p256 or rsa-2048")
    return KeyMaterial(public_key=key, backend=PKCS11, pkcs11_label=label)


class Pkcs11Signer(TemplateSigner):
    """Signs through the token, on the process's shared session for it (see `_session`)."""

    def __init__(
        self, config: Pkcs11Config, label: str, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate]
    ) -> None:
        from cryptography import x509

        public = x509.load_der_x509_certificate(cert.dump()).public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise InvalidInput("unsupported key type in the seal certificate")
        super().__init__(cert, chain, signature_algorithm_for(public))
        self.max_signature_bytes = max_signature_bytes(public)
        self._ec = isinstance(public, ec.EllipticCurvePublicKey)
        session, self._lock = _session(config)
        try:
            with self._lock:
                self._key: Any = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        except pkcs11.NoSuchKey:
            raise NotReady(f"the PKCS#11 token has no key {label}") from None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.max_signature_bytes)
        if digest_algorithm != "sha256":
            raise InvalidInput("only SHA-256 is supported for HSM seals")
        return self.sign_data(data)

    def sign_data(self, data: bytes) -> bytes:
        with self._lock:
            if self._ec:
                digest = hashes.Hash(hashes.SHA256())
                digest.update(data)
                raw = self._key.sign(digest.finalize(), mechanism=Mechanism.ECDSA)
                half = len(raw) // 2  # CKM_ECDSA returns r || s; CMS wants DER (RFC 5753 §2.1.1)
                return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
            return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed SHA-256 digest (CSC signHash); ECDSA only, as for the software keys."""
        with self._lock:
            raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def signer(
    config: Pkcs11Config, label: str, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate]
) -> Pkcs11Signer:
    return Pkcs11Signer(config, label, cert, chain)
