"""UnionPay ACP 5.1.0 rules: signatures both ways, the response format, customerInfo, the signer certificate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from adapters import acp
from adapters.sandbox.keys import SandboxKeys, generate


@pytest.fixture(scope="module")
def keys() -> SandboxKeys:
    return generate()


def _key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


FIELDS = {"version": "5.1.0", "encoding": "UTF-8", "txnType": "72", "merId": "777290058100001",
          "orderId": "YW0001", "txnTime": "20250101120000", "reqReserved": ""}  # fmt: skip


def test_link_string_sorts_and_leaves_out_the_signature() -> None:
    assert acp.link_string({"b": "2", "a": "1", "signature": "x"}) == "a=1&b=2"


def test_signed_fields_verify_and_a_changed_field_is_refused(keys: SandboxKeys) -> None:
    key = _key(keys.merchant_key)
    signed = acp.sign_fields(FIELDS, key, "12345")
    assert signed["certId"] == "12345"
    assert "reqReserved" not in signed  # empty values are dropped before signing
    public = key.public_key()
    assert acp.verify_fields(signed, public)
    assert not acp.verify_fields({**signed, "orderId": "YW0002"}, public)
    assert not acp.verify_fields({**signed, "certId": "54321"}, public)
    assert not acp.verify_fields({**signed, "signature": "not base64!"}, public)
    assert not acp.verify_fields(signed, _key(keys.unionpay_sign_key).public_key())


def test_signature_is_over_the_hex_digest(keys: SandboxKeys) -> None:
    """SHA256withRSA over the lower-case hex SHA-256 of the link string, as the ACP SDK computes it."""
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _key(keys.merchant_key)
    signed = acp.sign_fields(FIELDS, key, "1")
    digest_hex = hashlib.sha256(acp.link_string(signed).encode()).hexdigest().encode()
    key.public_key().verify(base64.b64decode(signed["signature"]), digest_hex, padding.PKCS1v15(), hashes.SHA256())


def test_customer_info_round_trip_hides_the_phone(keys: SandboxKeys) -> None:
    value = acp.customer_info("110105198503120012", "张伟", "13800138001", _cert(keys.unionpay_encrypt_cert))
    plain = base64.b64decode(value).decode()
    assert plain.startswith("{certifTp=01&certifId=110105198503120012&customerNm=张伟&encryptedInfo=")
    assert "13800138001" not in plain
    opened = acp.parse_customer_info(value, _key(keys.unionpay_encrypt_key))
    assert opened == {"certifTp": "01", "certifId": "110105198503120012", "customerNm": "张伟",
                      "phoneNo": "13800138001"}  # fmt: skip


def test_parse_kv_keeps_braced_values_whole() -> None:
    text = "a=1&customerInfo={x=1&y=2}&list=[p&q]&sig=ab+/c==&empty="
    assert acp.parse_kv(text) == {"a": "1", "customerInfo": "{x=1&y=2}", "list": "[p&q]", "sig": "ab+/c==",
                                  "empty": ""}  # fmt: skip
    with pytest.raises(ValueError):
        acp.parse_kv("novalue&a=1")


_plain = st.text(alphabet=st.characters(blacklist_characters="&{}[]", blacklist_categories=("Cs",)), max_size=20)
_braced = st.builds(lambda s: "{" + s + "}", st.text(alphabet=st.characters(blacklist_characters="}",
                                                                            blacklist_categories=("Cs",))))  # fmt: skip


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True), _plain | _braced, max_size=8))
def test_format_then_parse_is_identity(fields: dict[str, str]) -> None:
    assert acp.parse_kv(acp.format_kv(fields)) == fields


def test_sign_cert_accepted_when_it_chains_and_names_unionpay(keys: SandboxKeys) -> None:
    root, middle = _cert(keys.unionpay_root_cert), _cert(keys.unionpay_middle_cert)
    public = acp.verify_sign_cert(keys.unionpay_sign_cert, root, middle)
    assert public.public_numbers() == _key(keys.unionpay_sign_key).public_key().public_numbers()


def test_sign_cert_refused_from_another_root(keys: SandboxKeys) -> None:
    other = generate()
    with pytest.raises(acp.CertificateRejected, match="chain"):
        acp.verify_sign_cert(other.unionpay_sign_cert, _cert(keys.unionpay_root_cert), _cert(keys.unionpay_middle_cert))


def test_sign_cert_refused_when_not_unionpays(keys: SandboxKeys) -> None:
    # The encryption certificate chains to the same root but its CN does not name UnionPay's signer.
    root, middle = _cert(keys.unionpay_root_cert), _cert(keys.unionpay_middle_cert)
    with pytest.raises(acp.CertificateRejected, match="UnionPay"):
        acp.verify_sign_cert(keys.unionpay_encrypt_cert, root, middle, strict_cn=False)


def test_sign_cert_refused_outside_validity(keys: SandboxKeys) -> None:
    root, middle = _cert(keys.unionpay_root_cert), _cert(keys.unionpay_middle_cert)
    later = datetime.now(UTC) + timedelta(days=20 * 365)
    with pytest.raises(acp.CertificateRejected, match="validity"):
        acp.verify_sign_cert(keys.unionpay_sign_cert, root, middle, now=later)
    with pytest.raises(acp.CertificateRejected, match="PEM"):
        acp.verify_sign_cert("garbage", root, middle)
