"""A small, ordinary one-page OFD document (A4, a few lines of text): for tests, demos and the benchmark.

Written from GB/T 33190-2016 directly: OFD.xml (§7.4) → Doc_0/Document.xml (§7.5) with one page and a
public resource file declaring the font; the page's content is one layer of text objects (§11).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from signing import ofd

_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_NS = f'xmlns:ofd="{ofd.NS}"'


def one_page_ofd(
    lines: tuple[str, ...] = ("一网通办 Yiwang sample document", "Seal below. 此处盖章。"), doc_id: str = "0" * 32
) -> bytes:
    texts = "".join(
        f'<ofd:TextObject ID="{10 + i}" Boundary="20 {30 + 12 * i} 170 10" Font="3" Size="5">'
        f'<ofd:FillColor Value="0 0 0"/><ofd:TextCode X="0" Y="5">{escape(line)}</ofd:TextCode></ofd:TextObject>'
        for i, line in enumerate(lines)
    )
    files = {
        "OFD.xml": (
            f'{_HEAD}<ofd:OFD {_NS} DocType="OFD" Version="1.0"><ofd:DocBody><ofd:DocInfo>'
            f"<ofd:DocID>{escape(doc_id)}</ofd:DocID><ofd:Creator>Yiwang</ofd:Creator>"
            "<ofd:CreationDate>2026-01-01</ofd:CreationDate></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        ),
        "Doc_0/Document.xml": (
            f"{_HEAD}<ofd:Document {_NS}><ofd:CommonData><ofd:MaxUnitID>{10 + len(lines)}</ofd:MaxUnitID>"
            "<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
            "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
            '<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>'
        ),
        "Doc_0/PublicRes.xml": (
            f'{_HEAD}<ofd:Res {_NS} BaseLoc="Res"><ofd:Fonts>'
            '<ofd:Font ID="3" FontName="SimSun" FamilyName="SimSun"/></ofd:Fonts></ofd:Res>'
        ),
        "Doc_0/Pages/Page_0/Content.xml": (
            f'{_HEAD}<ofd:Page {_NS}><ofd:Content><ofd:Layer ID="2">{texts}</ofd:Layer></ofd:Content></ofd:Page>'
        ),
    }
    return ofd.write_package({name: text.encode("utf-8") for name, text in files.items()})
