"""OFD packages (GB/T 33190-2016): a ZIP of XML files. Reading with limits, writing, and finding the parts
that sealing and verification need: the document root (`OFD.xml` → `DocBody/DocRoot`), its pages
(`Document.xml` → `Pages/Page`), the page area, and the signature list (`DocBody/Signatures`, §18.1).

A package is held as an ordered mapping path → bytes (paths without a leading slash, as ZIP entries are).
"""

from __future__ import annotations

import io
import posixpath
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass

from signing.errors import UnprocessableOfd

NS = "http://www.ofdspec.org/2016"
Q = f"{{{NS}}}"
MAX_OFD_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 2000
MAX_UNPACKED = 100 * 1024 * 1024  # a ZIP bomb stops here, however well it compresses
Package = dict[str, bytes]
_STORED = (".dat", ".png", ".jpg", ".jpeg")

ET.register_namespace("ofd", NS)


def read_package(data: bytes) -> Package:
    """The files of an OFD package; UnprocessableOfd when it is not a ZIP holding an OFD.xml."""
    if len(data) > MAX_OFD_BYTES:
        raise UnprocessableOfd(f"the OFD file is larger than {MAX_OFD_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UnprocessableOfd("the OFD package has too many entries")
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise UnprocessableOfd("the OFD package unpacks to too much data")
        files: Package = {}
        for info in infos:
            if info.is_dir():
                continue
            name = normalise(info.filename)
            if name in files:
                raise UnprocessableOfd(f"the OFD package holds {name} twice")
            files[name] = archive.read(info)
    # zlib.error: a corrupt deflate stream; RuntimeError: an encrypted entry.
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        ValueError,
        RuntimeError,
    ):
        # zipfile's own message names internals (offsets, compression methods): say it in our words.
        raise UnprocessableOfd(
            "not an OFD package: the ZIP archive is broken or uses features we do not read"
        ) from None
    if "OFD.xml" not in files:
        raise UnprocessableOfd("not an OFD package: OFD.xml is missing")
    return files


def normalise(path: str) -> str:
    """A package path without leading slash; refuses anything that climbs out of the package."""
    clean = posixpath.normpath(path.replace("\\", "/").lstrip("/"))
    if clean.startswith("../") or clean in ("..", ".", "") or "\x00" in clean:
        raise UnprocessableOfd(f"bad path in the OFD package: {path[:80]!r}")
    return clean


def resolve(base_file: str, loc: str) -> str:
    """An OFD location (§7.5 ST_Loc): absolute from the package root when it starts with '/', else relative to
    the directory of the file that names it."""
    loc = loc.strip()
    if loc.startswith("/"):
        return normalise(loc)
    return normalise(posixpath.join(posixpath.dirname(base_file), loc))


def write_package(files: Package) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # stable bytes for the same content
            # Signed values carry the seal's PNG, which deflate cannot shrink: storing them saves a third of a seal.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(_STORED) else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def parse_xml(files: Package, path: str) -> ET.Element:
    data = files.get(path)
    if data is None:
        raise UnprocessableOfd(f"the OFD package has no {path}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # OFD has no DTDs: refuse entity tricks outright
        raise UnprocessableOfd(f"{path} declares a DTD or entities")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise UnprocessableOfd(f"{path} is not well-formed XML (line {line}, column {column})") from None


def xml_bytes(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body


def _text(element: ET.Element | None, what: str) -> str:
    if element is None or not (element.text or "").strip():
        raise UnprocessableOfd(f"the OFD package has no {what}")
    return (element.text or "").strip()


@dataclass(frozen=True)
class Page:
    id: str
    path: str


@dataclass(frozen=True)
class Layout:
    doc_root: str  # e.g. Doc_0/Document.xml
    pages: list[Page]
    width_mm: float
    height_mm: float
    signatures: str | None  # path of Signatures.xml, if the document has any


def layout(files: Package) -> Layout:
    ofd_root = parse_xml(files, "OFD.xml")
    body = ofd_root.find(f"{Q}DocBody")
    if body is None:
        raise UnprocessableOfd("OFD.xml has no DocBody")
    doc_root = resolve("OFD.xml", _text(body.find(f"{Q}DocRoot"), "DocRoot"))
    sig_el = body.find(f"{Q}Signatures")
    signatures = resolve("OFD.xml", _text(sig_el, "Signatures")) if sig_el is not None else None
    document = parse_xml(files, doc_root)
    pages = [
        Page(id=p.get("ID", ""), path=resolve(doc_root, p.get("BaseLoc", "")))
        for p in document.iterfind(f"{Q}Pages/{Q}Page")
    ]
    if not pages:
        raise UnprocessableOfd("the OFD document has no pages")
    box = document.findtext(f"{Q}CommonData/{Q}PageArea/{Q}PhysicalBox") or "0 0 210 297"
    try:
        _x, _y, width, height = (float(v) for v in box.split())
    except ValueError:
        raise UnprocessableOfd("the OFD page area is not four numbers") from None
    return Layout(doc_root=doc_root, pages=pages, width_mm=width, height_mm=height, signatures=signatures)


def ensure_signatures_entry(files: Package, doc_root: str) -> str:
    """Point OFD.xml's DocBody at a Signatures.xml (added before the first seal, so that seal protects it)."""
    current = layout(files).signatures
    if current is not None:
        return current
    path = posixpath.join(posixpath.dirname(doc_root), "Signs", "Signatures.xml")
    ofd_root = parse_xml(files, "OFD.xml")
    body = ofd_root.find(f"{Q}DocBody")
    assert body is not None
    element = ET.SubElement(body, f"{Q}Signatures")
    element.text = "/" + path
    files["OFD.xml"] = xml_bytes(ofd_root)
    return path
