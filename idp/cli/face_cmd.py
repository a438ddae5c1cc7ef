"""`yiwang face compare IMG1 IMG2`: are these the same person? Exit 0 same, 1 different, 2 unusable."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from idp.cli.common import JsonOpt, console, fail, load_settings

app = typer.Typer(help="Face matching (face_recognition): compare two photos.", no_args_is_help=True)

UNUSABLE = 2


def _unusable(image: Path, reason: str, message: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"result": "unusable", "image": str(image), "reason": reason}) + "\n")
        raise typer.Exit(UNUSABLE)
    fail(f"{image}: {message}", code=UNUSABLE)


@app.command("compare")
def compare(
    image1: Annotated[Path, typer.Argument(help="First photo (JPEG, PNG, ...).")],
    image2: Annotated[Path, typer.Argument(help="Second photo.")],
    threshold: Annotated[
        float | None, typer.Option(help="Same person at or below this distance (default: YIWANG_FACE_THRESHOLD).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the distance and the threshold. Exit 0 same person, 1 different people, 2 unusable image
    (unreadable, no face, or more than one face)."""
    from adapters.config import FaceConfig
    from adapters.errors import UnusableImage
    from adapters.face import DlibFaceMatcher

    limit = threshold if threshold is not None else load_settings().providers.face_threshold
    matcher = DlibFaceMatcher(FaceConfig(threshold=limit))
    encodings = []
    for image in (image1, image2):
        try:
            data = image.read_bytes()
        except OSError as exc:
            _unusable(image, "unreadable", f"cannot read the file ({exc.strerror or exc})", as_json)
        try:
            encodings.append(matcher.encode(data))
        except UnusableImage as exc:
            _unusable(image, exc.reason, exc.message, as_json)
    distance = matcher.distance(encodings[0], encodings[1])
    same = distance <= limit
    result = "same person" if same else "different people"
    if as_json:
        out = {"result": "same" if same else "different", "distance": round(distance, 4), "threshold": limit}
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        console.print(f"distance: {distance:.4f}\nthreshold: {limit:g}\nresult: {result}", highlight=False)
    raise typer.Exit(0 if same else 1)
