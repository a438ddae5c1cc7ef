"""A small, ordinary one-page PDF (A4, a few lines of text): for demos, tests and the signing benchmark."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

A4 = (0, 0, 595, 842)


def one_page_pdf(lines: tuple[str, ...] = ("Yiwang sample document", "Seal below.")) -> bytes:
    writer = PdfFileWriter(stream_xrefs=False)
    text = " ".join(f"({line.replace('(', '').replace(')', '')}) Tj 0 -20 Td" for line in lines)
    stream = generic.StreamObject(stream_data=f"BT /F1 14 Tf 72 760 Td {text} ET".encode("latin-1"))
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): writer.add_object(font)})}
    )
    writer.insert_page(PageObject(contents=writer.add_object(stream), media_box=A4, resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
