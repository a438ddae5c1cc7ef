"""`signing.asn1.der` must encode exactly what asn1crypto would, only without its pathological slowness."""

from __future__ import annotations

from asn1crypto import algos, cms, core, tsp

from signing.asn1 import der, settle
from signing.context import SigningContext


def _tree(payload_len: int) -> cms.ContentInfo:
    """A CMS built from dicts (every node "mutated"), with one octet string of the given length deep inside."""
    attr = cms.CMSAttribute({"type": "message_digest", "values": [core.OctetString(b"\x01" * payload_len)]})
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier({"subject_key_identifier": b"\x02" * 20}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": cms.CMSAttributes([attr, cms.CMSAttribute({"type": "content_type", "values": ["data"]})]),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": b"\x03" * 71,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data"},
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed})


def test_der_matches_asn1crypto_for_built_trees() -> None:
    # 128 and 384 give headers ending in 0x80, which asn1crypto mistakes for indefinite lengths.
    for length in (1, 127, 128, 200, 384, 1000):
        assert der(_tree(length)) == _tree(length).dump(), length
        assert settle(_tree(length)).dump() == _tree(length).dump()


def test_der_matches_for_our_time_stamp_tokens(ctx: SigningContext) -> None:
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x00" * 32},
            "cert_req": True,
            "nonce": 12345,
        }
    )
    token = ctx.tsa.stamp(request).token
    assert der(token) == token.dump()
    assert cms.ContentInfo.load(der(token))["content"]["encap_content_info"]["content"].parsed["nonce"].native == 12345
