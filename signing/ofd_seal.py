"""Putting an electronic seal into an OFD package (GB/T 33190-2016 §18, signatures; GB/T 38540 §8 for OFD).

For seal N the package gains `Doc_0/Signs/Sign_N/Signature.xml` and `Sign_N/SignedValue.dat`, and
`Signs/Signatures.xml` lists it. Signature.xml's `SignedInfo` names the provider, the method (SM3withSM2), the
time, a `References` list (CheckMethod SM3) with one `Reference FileRef` + base64 `CheckValue` for every file
of the package except `Signatures.xml` — earlier seals' files included, so a countersignature protects them —
and the `StampAnnot` that places the seal's picture on a page. `SignedValue.dat` is the DER `SES_Signature`
whose dataHash is the SM3 digest of Signature.xml.

`Signatures.xml` is the only file that sealing changes, and no seal protects it: that is what keeps earlier
seals valid when another is added. A file added later outside `Signs/` is reported by verification.
"""

from __future__ import annotations

import base64
import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from signing import ofd, sm2
from signing.errors import InvalidInput, UnprocessableOfd
from signing.ofd import Q

PROVIDER = "Yiwang"
MAX_MM = 2000  # far beyond any page (A0 is 1189 mm); only to keep numbers sane
MAX_SEAL_MM = 200


@dataclass(frozen=True)
class StampPlacement:
    """Where the seal's picture goes: page (1 first, -1 last) and box in millimetres from the top-left."""

    page: int = 1
    x: float = 130.0
    y: float = 220.0
    width: float = 42.0
    height: float = 42.0

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.width, self.height)
        if not all(math.isfinite(v) for v in values):
            raise InvalidInput("the seal's position and size must be finite numbers")
        if not (0 <= self.x <= MAX_MM and 0 <= self.y <= MAX_MM and min(self.width, self.height) >= 5):
            raise InvalidInput(f"the seal's position must be 0 to {MAX_MM} mm and its size at least 5 mm")
        if max(self.width, self.height) > MAX_SEAL_MM:
            raise InvalidInput(f"the seal may be at most {MAX_SEAL_MM} mm wide and high")


# (SM3 digest of Signature.xml, propertyInfo = the Signature.xml path) -> DER SES_Signature
SignFunction = Callable[[bytes, str], bytes]


@dataclass(frozen=True)
class Sealed:
    data: bytes  # the new package
    signature_path: str
    ses_signature: bytes
    document_sm3: str  # hex SM3 of the package as received


def _next_index(files: ofd.Package, signs_dir: str) -> int:
    taken = [
        int(m.group(1))
        for name in files
        if (m := re.fullmatch(re.escape(signs_dir) + r"/Sign_(\d+)/.*", name)) is not None
    ]
    return max(taken, default=-1) + 1


def _page_id(layout: ofd.Layout, page: int) -> str:
    count = len(layout.pages)
    index = page - 1 if page > 0 else count + page
    if not 0 <= index < count:
        raise UnprocessableOfd(f"the document has {count} page(s): there is no page {page}")
    return layout.pages[index].id


def signature_xml(
    files: ofd.Package, *, page_id: str, placement: StampPlacement, when: datetime, seal_loc: str | None = None
) -> bytes:
    root = ET.Element(f"{Q}Signature")
    info = ET.SubElement(root, f"{Q}SignedInfo")
    ET.SubElement(info, f"{Q}Provider", {"ProviderName": PROVIDER, "Version": "1.0", "Company": PROVIDER})
    ET.SubElement(info, f"{Q}SignatureMethod").text = sm2.SM2_SM3_OID
    ET.SubElement(info, f"{Q}SignatureDateTime").text = when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
    refs = ET.SubElement(info, f"{Q}References", {"CheckMethod": sm2.SM3_OID})
    for name in sorted(files):
        if name.endswith("/Signatures.xml") and "/Signs/" in f"/{name}":
            continue
        ref = ET.SubElement(refs, f"{Q}Reference", {"FileRef": "/" + name})
        ET.SubElement(ref, f"{Q}CheckValue").text = base64.b64encode(sm2.sm3(files[name])).decode("ascii")
    box = f"{placement.x:g} {placement.y:g} {placement.width:g} {placement.height:g}"
    ET.SubElement(info, f"{Q}StampAnnot", {"ID": "1", "PageRef": page_id, "Boundary": box})
    if seal_loc is not None:
        ET.SubElement(ET.SubElement(info, f"{Q}Seal"), f"{Q}BaseLoc").text = seal_loc
    ET.SubElement(root, f"{Q}SignedValue").text = "SignedValue.dat"
    return ofd.xml_bytes(root)


def _add_to_list(files: ofd.Package, list_path: str, sign_path: str) -> None:
    if list_path in files:
        root = ofd.parse_xml(files, list_path)
    else:
        root = ET.Element(f"{Q}Signatures")
        ET.SubElement(root, f"{Q}MaxSignId").text = "0"
    max_el = root.find(f"{Q}MaxSignId")
    if max_el is None:
        max_el = ET.Element(f"{Q}MaxSignId")
        max_el.text = "0"
        root.insert(0, max_el)
    try:
        next_id = int((max_el.text or "0").strip()) + 1
    except ValueError:
        raise UnprocessableOfd("Signatures.xml has a MaxSignId that is not a number") from None
    max_el.text = str(next_id)
    ET.SubElement(root, f"{Q}Signature", {"ID": str(next_id), "Type": "Seal", "BaseLoc": "/" + sign_path})
    files[list_path] = ofd.xml_bytes(root)


def seal_package(data: bytes, sign: SignFunction, placement: StampPlacement, when: datetime | None = None) -> Sealed:
    """Add one seal to the OFD `data`; earlier seals stay as they were."""
    files = ofd.read_package(data)
    document_sm3 = sm2.sm3(data).hex()
    layout = ofd.layout(files)
    page_id = _page_id(layout, placement.page)
    list_path = ofd.ensure_signatures_entry(files, layout.doc_root)
    signs_dir = posixpath.dirname(list_path)
    sign_dir = f"{signs_dir}/Sign_{_next_index(files, signs_dir)}"
    sign_path = f"{sign_dir}/Signature.xml"
    when = when or datetime.now(UTC)
    xml = signature_xml(files, page_id=page_id, placement=placement, when=when)
    ses = sign(sm2.sm3(xml), "/" + sign_path)
    files[sign_path] = xml
    files[f"{sign_dir}/SignedValue.dat"] = ses
    _add_to_list(files, list_path, sign_path)
    return Sealed(ofd.write_package(files), sign_path, ses, document_sm3)
