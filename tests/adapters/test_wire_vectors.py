"""Fixed vectors for the emulators' own signature code (adapters/sandbox/wire/), and the adapters agree.

Aliyun RPC v1 and Tencent TC3 are checked against the examples the providers publish. UnionPay ACP, Alipay RSA2
and our registry protocol have no published example with a usable key: their vectors were computed once with
`openssl dgst` (a third, independent implementation; the commands are in each test's docstring) over the
signing text spelled out here by hand, with a throw-away 1024-bit RSA key kept only in this file
(PKCS#1 v1.5 signatures are deterministic, so a fixed key gives a fixed signature).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters import acp, alipay_sign, registry_protocol, rpc_v1, tc3
from adapters.sandbox.wire import alipay_rsa2, aliyun_rpc, registry, unionpay_acp
from adapters.sandbox.wire import tc3 as wire_tc3

# --- Aliyun RPC signature v1: the worked example of Aliyun's "request signatures" page (ECS DescribeRegions,
# AccessKeySecret "testsecret"; https://www.alibabacloud.com/help/doc-detail/28139.htm).
ALIYUN_PARAMS = {
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
ALIYUN_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
ALIYUN_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_rpc_v1_published_example() -> None:
    assert aliyun_rpc.string_to_sign("GET", ALIYUN_PARAMS) == ALIYUN_STRING_TO_SIGN
    assert aliyun_rpc.expected("GET", ALIYUN_PARAMS, "testsecret") == ALIYUN_SIGNATURE
    assert aliyun_rpc.verified("GET", {**ALIYUN_PARAMS, "Signature": ALIYUN_SIGNATURE}, "testsecret")
    assert not aliyun_rpc.verified("POST", {**ALIYUN_PARAMS, "Signature": ALIYUN_SIGNATURE}, "testsecret")
    assert not aliyun_rpc.verified("GET", {**ALIYUN_PARAMS, "Signature": ALIYUN_SIGNATURE}, "testsecreT")
    # The adapter signs exactly what the emulator expects.
    assert rpc_v1.sign_params(ALIYUN_PARAMS, "testsecret")["Signature"] == ALIYUN_SIGNATURE


def test_aliyun_percent_encoding_edge_cases() -> None:
    """Space is %20 (not +), `*` is %2A, `~` stays, UTF-8 bytes are upper-case %XX (the published rules)."""
    assert aliyun_rpc.encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"
    assert aliyun_rpc.encode("签名") == "%E7%AD%BE%E5%90%8D"
    for text in ("a b*c~d/é", "签名", "+=&%"):
        assert aliyun_rpc.encode(text) == rpc_v1.percent_encode(text)


# --- Tencent TC3-HMAC-SHA256: the worked example of Tencent Cloud's "Signature v3" page (CVM DescribeInstances,
# timestamp 1551113065, SecretKey "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"; https://tencentcloud.com/document/product/1026/31038).
TC3_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
TC3_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"}
TC3_CANONICAL_SHA256 = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
TC3_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
TC3_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
    f"SignedHeaders=content-type;host, Signature={TC3_SIGNATURE}"
)


def test_tencent_tc3_published_example() -> None:
    assert hashlib.sha256(TC3_PAYLOAD).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    cred = wire_tc3.credential(TC3_AUTHORIZATION)
    assert cred is not None and cred.secret_id == "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    assert (cred.date, cred.service, cred.signed_headers) == ("2019-02-25", "cvm", ("content-type", "host"))
    assert wire_tc3.date_of(1551113065) == "2019-02-25"
    canonical = wire_tc3.canonical_request("POST", "/", "", TC3_HEADERS, cred.signed_headers, TC3_PAYLOAD)
    assert hashlib.sha256(canonical.encode()).hexdigest() == TC3_CANONICAL_SHA256
    assert wire_tc3.expected("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", canonical) == TC3_SIGNATURE
    # The adapter builds the same Authorization header.
    adapter_canonical = tc3.canonical_request("POST", "/", "", TC3_HEADERS, ["content-type", "host"], TC3_PAYLOAD)
    assert adapter_canonical == canonical
    header = tc3.authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", canonical
    )
    assert header == TC3_AUTHORIZATION


def test_tencent_tc3_refuses_what_is_not_a_tc3_header() -> None:
    assert wire_tc3.credential(TC3_AUTHORIZATION.replace("TC3-HMAC-SHA256 ", "HMAC-SHA256 ")) is None
    assert wire_tc3.credential(TC3_AUTHORIZATION[:-1]) is None  # 63 hex digits


# --- The RSA vectors were signed once, with openssl, by a throw-away key that was then destroyed; only its public
# half is kept (no private key lives in the repository). Signing code is checked with a key made per test: RSA
# PKCS#1 v1.5 is deterministic, so the adapter's and the emulator's signatures must be the same bytes.
VECTOR_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC8pNaFgqKlLYMsnA8QBeuxGzxx
XhbAY93UAtyR1vkFWlHWbdUP4M985kF3R7RqcnE0s9LmqCmHakEg3EGqlSuuvRd5
zGZFRiaPjgZnTWmVgvpH7iaSjSqL8fNt+5M1wspWlfz5dYORO1OVT9z9xFoYn9EG
19v3MZuR5YMrEc+vcwIDAQAB
-----END PUBLIC KEY-----
"""


def _vector_public_key() -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(VECTOR_PUBLIC_KEY_PEM.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _fresh_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# UnionPay ACP 5.1.0 (signMethod 01). The link string, by hand: non-empty fields but `signature`, sorted by name.
ACP_FIELDS = {
    "txnType": "72",
    "merId": "777290058110048",
    "bizType": "000401",
    "orderId": "ORDER0001",
    "txnTime": "20261130120000",
    "accessType": "0",
    "reqReserved": "",
}
ACP_LINK = "accessType=0&bizType=000401&merId=777290058110048&orderId=ORDER0001&txnTime=20261130120000&txnType=72"
ACP_DIGEST_HEX = "149a1113d5569c99690cd49c2bf3e13d3870385153322ad48801361cbd1047a0"
ACP_SIGNATURE = "FP6B44X/1QZzA4apYg9Ayis4u4mkuDHuhiTcK3cDPt46e3bwzzx3CLyd6AgkyOB5zeTNBWTwLNOMFNywxKFszsRcn0ebEuV625CbVkgnI6DqNhic7y0MDjTOUQEMhtDu51r4BDOCukTHgXzkotApdj9ktFe7JE14rQVbXpeAr1o="


def test_unionpay_acp_fixed_vector() -> None:
    """printf '%s' "$ACP_LINK" | openssl dgst -sha256 -r   → ACP_DIGEST_HEX;
    printf '%s' "$ACP_DIGEST_HEX" | openssl dgst -sha256 -sign key.pem | base64 -w0   → ACP_SIGNATURE."""
    assert hashlib.sha256(ACP_LINK.encode()).hexdigest() == ACP_DIGEST_HEX
    assert unionpay_acp.signed_bytes(ACP_FIELDS) == ACP_DIGEST_HEX.encode()
    vector = {**{k: v for k, v in ACP_FIELDS.items() if v}, "signature": ACP_SIGNATURE}
    public = _vector_public_key()
    # The emulator's and the adapter's verifiers both accept the openssl vector, and nothing altered.
    assert unionpay_acp.verified(vector, public) and acp.verify_fields(vector, public)
    assert not unionpay_acp.verified({**vector, "orderId": "ORDER0002"}, public)
    assert not acp.verify_fields({**vector, "orderId": "ORDER0002"}, public)
    assert not unionpay_acp.verified({**vector, "signature": "not base64!"}, public)
    # Signing: the adapter's signature and the emulator's are the same bytes, and each side accepts the other's.
    key = _fresh_key()
    signed = unionpay_acp.sign(ACP_FIELDS, key)
    assert "reqReserved" not in signed
    assert acp.sign_fields(ACP_FIELDS, key, None)["signature"] == signed["signature"]
    assert acp.verify_fields(signed, key.public_key()) and unionpay_acp.verified(signed, key.public_key())


# Alipay RSA2. The signing text, by hand: non-empty parameters but `sign`, sorted, not URL-encoded.
ALIPAY_PARAMS = {
    "method": "alipay.user.certify.open.query",
    "app_id": "2021000000000001",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2026-11-30 12:00:00",
    "version": "1.0",
    "biz_content": '{"cert_verify_id":"abc"}',
    "notify_url": "",
}
ALIPAY_CONTENT = (
    'app_id=2021000000000001&biz_content={"cert_verify_id":"abc"}&charset=utf-8'
    "&method=alipay.user.certify.open.query&sign_type=RSA2&timestamp=2026-11-30 12:00:00&version=1.0"
)
ALIPAY_SIGNATURE = "VjTGjz8vQza/R1NiGY5keYaJwNSq0LxQxP4aK9kDEn5j5HIlnFijctvT4dwsgdePhJ63sD9S4LVLgyJWztRXZaHZDWWVSIqby5hkL8AIGsPlIsMFWRV+sU0mSBqp0ip1UOeTpfI/EO2JiiaYUsbqs08h2SPo+ESCzhEpDCl1gIw="


def test_alipay_rsa2_fixed_vector() -> None:
    """printf '%s' "$ALIPAY_CONTENT" | openssl dgst -sha256 -sign key.pem | base64 -w0   → ALIPAY_SIGNATURE."""
    assert alipay_rsa2.content(ALIPAY_PARAMS) == ALIPAY_CONTENT.encode()
    public = _vector_public_key()
    assert alipay_rsa2.verified({**ALIPAY_PARAMS, "sign": ALIPAY_SIGNATURE}, public)
    assert alipay_sign.verify(ALIPAY_CONTENT, ALIPAY_SIGNATURE, public)
    assert not alipay_rsa2.verified({**ALIPAY_PARAMS, "version": "1.1", "sign": ALIPAY_SIGNATURE}, public)
    assert not alipay_sign.verify(ALIPAY_CONTENT.replace("1.0", "1.1"), ALIPAY_SIGNATURE, public)
    # Signing: the adapter's signature and the emulator's are the same bytes.
    key = _fresh_key()
    signature = alipay_sign.sign(ALIPAY_PARAMS, key)
    assert alipay_rsa2.sign_text(ALIPAY_CONTENT, key) == signature
    assert alipay_rsa2.verified({**ALIPAY_PARAMS, "sign": signature}, key.public_key())


# Our registry protocol (adapters/population-registry.md): HMAC-SHA256 over the spelled-out lines.
REGISTRY_SECRET = b"registry-test-secret"
REGISTRY_NONCE = "0123456789abcdef0123456789abcdef"
REGISTRY_SIGNATURE = "8f3dcb1ba54b0243f8f8baeb7ab208ba59c3b4c23b87da9dd5b7219ac45ad852"


def test_registry_fixed_vector() -> None:
    """printf 'YW1-HMAC-SHA256\\nPOST\\n/v1/verify\\n1764504000\\n<nonce>\\n<sha256 of body>' |
    openssl dgst -sha256 -hmac registry-test-secret   → REGISTRY_SIGNATURE."""
    body = b'{"id":"x"}'
    header = f"YW1-HMAC-SHA256 KeyId=k1, Timestamp=1764504000, Nonce={REGISTRY_NONCE}, Signature={REGISTRY_SIGNATURE}"
    auth = registry.signed(header)
    assert auth is not None and auth.key_id == "k1"
    assert registry.verified(REGISTRY_SECRET, "POST", "/v1/verify", auth, body)
    assert not registry.verified(REGISTRY_SECRET, "POST", "/v1/verify", auth, body + b" ")
    ours = registry_protocol.authorization_header(
        "k1", REGISTRY_SECRET, "POST", "/v1/verify", 1764504000, REGISTRY_NONCE, body
    )
    assert ours == header
    answer = registry.answer_header(REGISTRY_SECRET, REGISTRY_NONCE, 200, 1764504001, body)
    assert answer == registry_protocol.response_header(REGISTRY_SECRET, REGISTRY_NONCE, 200, 1764504001, body)
