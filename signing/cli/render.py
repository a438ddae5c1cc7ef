"""`yiwang render FILE.ofd OUT.png`: a picture of a sealed OFD page with its seals, to look at rather than trust."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signing import ofd, ofd_render, seal_image
from signing.cli.host import fail, refusals


def render_command(
    file: Annotated[Path, typer.Argument(help="The OFD document.")],
    out: Annotated[Path, typer.Argument(help="Where to write the PNG.")],
    page: Annotated[int, typer.Option("--page", help="Page to draw (1 is the first).", min=1)] = 1,
    dpi: Annotated[int, typer.Option("--dpi", help="Resolution.", min=24, max=600)] = 96,
) -> None:
    """Render an OFD page (the first by default) with every seal placed on it, to PNG."""
    try:
        if file.stat().st_size > ofd.MAX_OFD_BYTES:
            fail(f"{file} is larger than {ofd.MAX_OFD_BYTES} bytes")
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    with refusals():
        font_path, font_index = seal_image.find_cjk_font()
        png = ofd_render.render_page(data, font_path, font_index, page=page, dpi=dpi)
    try:
        out.write_bytes(png)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
