"""Real organisation names are long: a seal for `福建省福州市鼓楼区某某科技发展有限责任公司` (21 characters, 63 bytes
in UTF-8) once crashed with "<= 64, but it was 69". X.509's bound of 64 counts characters; a name longer than
that keeps its first 64 in the certificate and is whole everywhere else. Both seal formats, through the CLI.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from PIL import Image
from typer.testing import CliRunner, Result

from idp.cli.main import app as cli_app
from idp.identity.uscc import org_code_check_char, uscc_check_char
from idp.records import organisations
from idp.runtime import Runtime
from signing import names, seal_image
from signing.ofd_sample import one_page_ofd
from signing.sample import one_page_pdf

EXACT = "福建省福州市鼓楼区某某科技发展有限责任公司"
N64 = EXACT + "第" * 43  # 64 characters
N65 = EXACT + "第" * 44  # 65 characters
NAMES = {"exact": EXACT, "n64": N64, "n65": N65}


def cli(*args: object) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def _uscc(n: int) -> str:
    org_code = f"MA2{n:05d}"
    base = f"91350102{org_code}{org_code_check_char(org_code)}"
    return base + uscc_check_char(base)


@pytest.fixture(scope="module")
def orgs(module_rt: Runtime) -> dict[str, str]:
    """key -> USCC of an organisation with that name."""
    made = {}
    with module_rt.transaction() as session:
        for i, (key, name) in enumerate(NAMES.items()):
            code = _uscc(i)
            organisations.add(
                session, module_rt.protector, module_rt.uscc_rules, uscc=code, name=name, kind="enterprise"
            )
            made[key] = code
    return made


def _subject(cert_pem: str) -> dict[str, tuple[str, str]]:
    """Subject attribute -> (value, ASN.1 string type), read with asn1crypto."""
    der = asn1_x509.Certificate.load(_pem_der(cert_pem))
    out = {}
    for rdn in der.subject.chosen:
        for attr in rdn:
            out[attr["type"].native] = (attr["value"].native, attr["value"].name)
    return out


def _pem_der(pem: str) -> bytes:
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def test_names_are_bounded_in_characters_not_bytes() -> None:
    assert len(EXACT) == 21 and len(EXACT.encode()) == 63
    assert len(N64) == 64 and len(N65) == 65
    assert names.bounded(N64) == N64 and names.bounded(N65) == N65[:64]
    assert names.seal_common_name(EXACT, "合同专用章") == EXACT + "合同专用章"
    cn = names.seal_common_name(N64, "公章")
    assert len(cn) == 64 and cn.endswith("公章") and cn.startswith(N64[:62])


@pytest.mark.parametrize("fmt", ["pades", "gb38540"])
@pytest.mark.parametrize("key", list(NAMES))
def test_long_names_make_seals_that_sign_and_verify(orgs: dict[str, str], workdir: Path, key: str, fmt: str) -> None:
    name = NAMES[key]
    extra = ["--format", "gb38540"] if fmt == "gb38540" else []
    made = json.loads(ok(cli("seal", "create", "--org", orgs[key], "--type", "contract", "--json", *extra)).stdout)
    assert made["name"] == name + "合同专用章" and made["org"]["name"] == name  # the record: whole
    subject = _subject(made["certificate"])
    organisation, organisation_type = subject["organization_name"]
    common, common_type = subject["common_name"]
    assert organisation_type == common_type == "utf8_string"
    assert organisation == (name if len(name) <= 64 else name[:64])
    assert common == names.seal_common_name(name, "合同专用章") and len(common) <= 64
    # `seal show` prints the whole name.
    assert name in ok(cli("seal", "show", made["id"])).stdout

    suffix = "ofd" if fmt == "gb38540" else "pdf"
    source = workdir / f"{key}-{fmt}.{suffix}"
    source.write_bytes(one_page_ofd() if fmt == "gb38540" else one_page_pdf())
    out = workdir / f"{key}-{fmt}-sealed.{suffix}"
    ok(cli("seal", "sign", made["id"], source, out))
    report = json.loads(ok(cli("verify", out, "--json")).stdout)
    assert report["valid"]
    if fmt == "pades":
        assert report["signatures"][0]["organisation"] == organisation
        assert report["signatures"][0]["signer"] == common
    else:
        assert report["signatures"][0]["seal_name"] == name + "合同专用章"  # the SESeal's name: whole


def test_the_ring_fits_long_names(tmp_path: Path) -> None:
    for name in NAMES.values():
        layout = seal_image.ring_layout(len(name))
        assert layout.pitch >= layout.glyph_width  # neighbours do not overlap
        assert layout.height >= 24  # still legible at 480 px
        outer = layout.text_radius + layout.height * 0.6
        assert outer < seal_image.SIZE / 2 - seal_image.RING  # inside the ring
        png = seal_image.draw_seal(name, "合同专用章")
        path = tmp_path / "seal.png"
        path.write_bytes(png)
        with Image.open(path) as img:
            rgba = img.convert("RGBA")
        centre = seal_image.SIZE / 2
        for x in range(0, seal_image.SIZE, 4):
            for y in range(0, seal_image.SIZE, 4):
                if (x - centre) ** 2 + (y - centre) ** 2 > (seal_image.SIZE / 2) ** 2:
                    assert rgba.getpixel((x, y))[3] == 0  # nothing drawn outside the circle
