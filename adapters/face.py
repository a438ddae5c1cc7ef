"""Face matching on face_recognition (dlib HOG detector, 68/5-point landmarks, ResNet 128-d encodings).

Pipeline (the one the threshold was measured with): decode with Pillow, apply the EXIF orientation, convert to
RGB, scale down so the longer side is at most `max_side` (1024) px; detect with HOG, upsampling once (twice for
images under 320 px, e.g. a 102×126 ID-card chip photo); count only detections scoring at least
`min_detection_score` (0.5); exactly one face is required (UnusableImage otherwise); encode with the 5-point
aligner, one jitter; compare by Euclidean distance.

Threshold 0.5 — measured with this pipeline (`uv run python bench/face_bench.py --pairs`) on
../shared/testdata/faces (Biden ×2, Obama ×3; two_faces.jpg is refused: several faces) plus matplotlib's
grace_hopper.jpg and scikit-image's astronaut.png:
  same person (4 pairs):        0.129 0.367 0.378 0.392   (max 0.392)
  different people (17 pairs):  min 0.698 (Hopper / Collins), then 0.802 ... 0.854, median 0.835
  at 0.50: false accepts 0/17, false rejects 0/4; also 0/17 and 0/4 at every threshold from 0.40 to 0.60.
Any threshold in 0.40-0.69 separates this data, so the choice is by cost: a false accept (someone else passes
as you) is worse than a false reject (which falls back to another method), hence 0.50 rather than the library's
0.6 — 0.11 above the worst genuine pair, 0.20 below the closest impostor. Four genuine pairs are far too few to
estimate a real false-reject rate (and dlib's model is known to be looser on some populations): re-measure on a
consented, representative set before relying on face alone; the threshold is a setting (YIWANG_FACE_THRESHOLD).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from adapters.base import FaceEncoding, FaceLandmarks, FaceMatch
from adapters.config import FaceConfig
from adapters.errors import UnusableImage

__all__ = ["FACE_THRESHOLD", "MAX_FRAME_PIXELS", "DlibFaceMatcher", "load_rgb", "image_size", "check_frames"]

FACE_THRESHOLD = 0.5
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
# A live camera frame: the face page captures 640×480; allow up to Full HD. A 6000×6000 PNG of a few hundred
# kilobytes decodes to 108 MB and costs seconds of CPU per frame: refused from its header, before decoding.
MAX_FRAME_PIXELS = 1920 * 1080

_lock = threading.Lock()  # dlib's detector and predictors are not documented as thread-safe
_fr: Any = None


def _face_recognition() -> Any:
    """Import face_recognition on first use: it loads ~100 MB of models and imports pkg_resources."""
    global _fr
    if _fr is None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import face_recognition  # type: ignore[import-untyped]

        # face_recognition turns on PIL's LOAD_TRUNCATED_IMAGES for the whole process; a truncated upload must
        # be refused as unreadable, not decoded half grey: put Pillow's default back.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        _fr = face_recognition
    return _fr


def image_size(image: bytes) -> tuple[int, int]:
    """(width, height) from the image header alone: Pillow's `open` is lazy and decodes no pixel."""
    try:
        with Image.open(io.BytesIO(image)) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise UnusableImage("unreadable", "not a readable image") from exc


def check_frames(frames: Sequence[bytes], max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Refuse the whole set if any frame is unreadable or larger than `max_pixels`, before decoding any."""
    for frame in frames:
        width, height = image_size(frame)
        if width * height > max_pixels:
            raise UnusableImage("too_large", f"a frame of {width}×{height} pixels is over {max_pixels} pixels")


def load_rgb(image: bytes, max_side: int, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, float]:
    """Decode `image` to an RGB array no larger than `max_side`; returns the array and the scale applied."""
    _face_recognition()  # first, so that its global PIL setting is already undone
    try:
        with Image.open(io.BytesIO(image)) as im:
            if im.width * im.height > max_pixels:
                raise UnusableImage("too_large", "image too large")
            original = max(im.size)
            # JPEG decodes straight to a smaller scale (1/2 to 1/8) when that still covers `max_side`.
            im.draft("RGB", (max_side, max_side))
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    except UnusableImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise UnusableImage("unreadable", "not a readable image") from exc
    if max(rgb.size) > max_side:
        shrink = max_side / max(rgb.size)
        rgb = rgb.resize(
            (max(1, round(rgb.width * shrink)), max(1, round(rgb.height * shrink))), Image.Resampling.LANCZOS
        )
    # Against the original size, so that landmarks map back to the original image's pixels after a draft.
    return np.asarray(rgb), max(rgb.size) / original


class DlibFaceMatcher:
    """FaceMatcher on face_recognition. CPU-bound and synchronous: call through a worker thread from async code."""

    def __init__(self, config: FaceConfig | None = None) -> None:
        self.config = config or FaceConfig()
        self.threshold = self.config.threshold

    def locate(self, rgb: np.ndarray) -> tuple[int, int, int, int]:
        """(top, right, bottom, left) of the one face; UnusableImage for none or several."""
        fr = _face_recognition()
        upsample = 1 if max(rgb.shape[:2]) >= 320 else 2
        rects, scores, _ = fr.api.face_detector.run(rgb, upsample, 0.0)
        faces = [r for r, s in zip(rects, scores, strict=True) if s >= self.config.min_detection_score]
        if not faces:
            raise UnusableImage("no_face", "no face found")
        if len(faces) > 1:
            raise UnusableImage("several_faces", f"{len(faces)} faces found; exactly one is needed")
        r = faces[0]
        h, w = rgb.shape[:2]
        return max(r.top(), 0), min(r.right(), w), min(r.bottom(), h), max(r.left(), 0)

    def encode(self, image: bytes) -> FaceEncoding:
        rgb, _ = load_rgb(image, self.config.max_side)
        with _lock:
            box = self.locate(rgb)
            vectors = _face_recognition().face_encodings(rgb, [box], num_jitters=1, model="small")
        return FaceEncoding(tuple(float(x) for x in vectors[0]))

    def distance(self, a: FaceEncoding, b: FaceEncoding) -> float:
        if len(a.values) != len(b.values):
            raise ValueError("encodings of different lengths")
        return float(np.linalg.norm(np.asarray(a.values) - np.asarray(b.values)))

    def compare(self, probe: bytes, reference: FaceEncoding | bytes) -> FaceMatch:
        """`probe` is an image; `reference` a stored encoding or another image."""
        ref = reference if isinstance(reference, FaceEncoding) else self.encode(reference)
        return FaceMatch(self.distance(self.encode(probe), ref), self.threshold)

    def landmarks(self, image: bytes) -> FaceLandmarks:
        """The 68 landmarks of the one face, in the original image's pixel coordinates."""
        rgb, scale = load_rgb(image, self.config.max_side)
        with _lock:
            box = self.locate(rgb)
            groups = _face_recognition().face_landmarks(rgb, [box], model="large")[0]
        return {name: [(x / scale, y / scale) for x, y in points] for name, points in groups.items()}

    def landmarks_all(self, frames: Sequence[bytes]) -> list[FaceLandmarks | None]:
        """Landmarks per frame; None where a frame has no usable single face (liveness tolerates a few)."""
        out: list[FaceLandmarks | None] = []
        for frame in frames:
            try:
                out.append(self.landmarks(frame))
            except UnusableImage:
                out.append(None)
        return out
