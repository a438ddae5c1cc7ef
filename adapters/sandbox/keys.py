"""Key material for the emulators, generated at first start and never committed.

Both sides of every provider live here, as if we had registered with each: HMAC secrets for the SMS providers
and the registry, UnionPay's root → middle → signing chain and its encryption certificate plus our merchant
certificate, Alipay's platform key and our app key. With a state directory they are kept in
`<dir>/sandbox-keys.json` (mode 0600), so every worker and the CLI agree; without one they live in memory.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["SandboxKeys", "load_or_create", "UNIONPAY_SIGNER_CN"]

UNIONPAY_SIGNER_CN = "041@Zsandbox@中国银联股份有限公司@00000001"
FILE_NAME = "sandbox-keys.json"


@dataclass(frozen=True)
class SandboxKeys:
    outbox_token: str
    aliyun_access_key_id: str
    aliyun_access_key_secret: str
    tencent_secret_id: str
    tencent_secret_key: str
    registry_key_id: str
    registry_secret: str
    emulator_secret: str  # signs the emulators' own page tokens
    unionpay_mer_id: str
    unionpay_root_cert: str
    unionpay_middle_cert: str
    unionpay_sign_key: str
    unionpay_sign_cert: str
    unionpay_encrypt_key: str
    unionpay_encrypt_cert: str
    merchant_key: str
    merchant_cert: str
    alipay_app_id: str
    alipay_platform_key: str
    alipay_platform_public_key: str
    alipay_app_key: str
    alipay_app_public_key: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _cert(
    cn: str, key: rsa.RSAPrivateKey, issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None, ca: bool
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yiwang sandbox (emulated, not real)"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def generate() -> SandboxKeys:
    root_key, middle_key, sign_key, enc_key, mer_key = _key(), _key(), _key(), _key(), _key()
    root = _cert("Sandbox UnionPay Root CA", root_key, None, ca=True)
    middle = _cert("Sandbox UnionPay Middle CA", middle_key, (root.subject, root_key), ca=True)
    sign_cert = _cert(UNIONPAY_SIGNER_CN, sign_key, (middle.subject, middle_key), ca=False)
    enc_cert = _cert("041@Zsandbox@00040000:ENC@00000002", enc_key, (middle.subject, middle_key), ca=False)
    mer_cert = _cert("Sandbox merchant 777290058100001", mer_key, None, ca=False)
    platform_key, app_key = _key(), _key()
    return SandboxKeys(
        outbox_token=secrets.token_urlsafe(24),
        aliyun_access_key_id="LTAI" + secrets.token_hex(10),
        aliyun_access_key_secret=secrets.token_urlsafe(24),
        tencent_secret_id="AKID" + secrets.token_hex(16),
        tencent_secret_key=secrets.token_urlsafe(24),
        registry_key_id="yiwang-sandbox",
        registry_secret=secrets.token_urlsafe(32),
        emulator_secret=secrets.token_urlsafe(32),
        unionpay_mer_id="777290058100001",
        unionpay_root_cert=_pem_cert(root),
        unionpay_middle_cert=_pem_cert(middle),
        unionpay_sign_key=_pem_key(sign_key),
        unionpay_sign_cert=_pem_cert(sign_cert),
        unionpay_encrypt_key=_pem_key(enc_key),
        unionpay_encrypt_cert=_pem_cert(enc_cert),
        merchant_key=_pem_key(mer_key),
        merchant_cert=_pem_cert(mer_cert),
        alipay_app_id="2021000000000001",
        alipay_platform_key=_pem_key(platform_key),
        alipay_platform_public_key=_pem_public(platform_key),
        alipay_app_key=_pem_key(app_key),
        alipay_app_public_key=_pem_public(app_key),
    )


def load_or_create(state_dir: Path | None) -> SandboxKeys:
    """Keys from `state_dir` (created there on first use, race-free between workers), or fresh in memory."""
    if state_dir is None:
        return generate()
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    if not path.exists():
        keys = generate()
        tmp = state_dir / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(keys), f)
        try:
            os.link(tmp, path)  # atomic, fails if another process won the race: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    data = json.loads(path.read_text(encoding="utf-8"))
    return SandboxKeys(**data)
