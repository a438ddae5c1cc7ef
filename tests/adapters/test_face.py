"""Face matching on real photos: PyPI-shipped photos always, ../shared/testdata/faces when present."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from adapters.base import FaceEncoding
from adapters.errors import UnusableImage
from adapters.face import FACE_THRESHOLD, DlibFaceMatcher


@pytest.fixture(scope="module")
def matcher() -> DlibFaceMatcher:
    return DlibFaceMatcher()


@pytest.fixture(scope="module")
def grace_encoding(matcher: DlibFaceMatcher, grace_hopper: bytes) -> FaceEncoding:
    return matcher.encode(grace_hopper)


def _png(image: Image.Image, fmt: str = "PNG", **options: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_encoding_is_128_floats_and_round_trips(grace_encoding: FaceEncoding) -> None:
    assert len(grace_encoding.values) == 128
    assert FaceEncoding.from_bytes(grace_encoding.to_bytes()) == grace_encoding
    with pytest.raises(ValueError):
        FaceEncoding.from_bytes(b"123")


def test_different_people_are_far_apart(
    matcher: DlibFaceMatcher, grace_encoding: FaceEncoding, astronaut: bytes
) -> None:
    distance = matcher.distance(grace_encoding, matcher.encode(astronaut))
    assert distance > FACE_THRESHOLD + 0.1, distance
    assert not matcher.compare(astronaut, grace_encoding).same_person


def _variants(photo: bytes) -> dict[str, bytes]:
    """The same photo, re-encoded and geometrically changed: same person, but NOT independent photos."""
    im = _open(photo)
    w, h = im.size
    return {
        "mirrored": _png(ImageOps.mirror(im)),
        "half size": _png(im.resize((w // 2, h // 2))),
        "jpeg q40": _png(im, "JPEG", quality=40),
        "cropped": _png(im.crop((w // 8, h // 10, w - w // 8, h - h // 20))),
        "rotated 8°": _png(im.rotate(8, expand=True, fillcolor=(128, 128, 128))),
        "grey": _png(ImageOps.grayscale(im)),
    }


def test_same_photo_transformed_stays_the_same_person(
    matcher: DlibFaceMatcher, grace_hopper: bytes, grace_encoding: FaceEncoding
) -> None:
    distances = {
        name: matcher.distance(grace_encoding, matcher.encode(v)) for name, v in _variants(grace_hopper).items()
    }
    assert all(d < FACE_THRESHOLD for d in distances.values()), distances


def test_id_card_chip_sized_photo_is_usable(
    matcher: DlibFaceMatcher, grace_hopper: bytes, grace_encoding: FaceEncoding
) -> None:
    """A 102×126 portrait, the size of the chip photo on a resident ID card, around the face."""
    chip = _open(grace_hopper).crop((120, 60, 420, 430)).resize((102, 126))
    assert matcher.compare(_png(chip), grace_encoding).same_person


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda g, a: b"not an image at all", "unreadable"),
        (lambda g, a: g[: len(g) // 3], "unreadable"),
        (lambda g, a: _png(Image.new("RGB", (300, 300), (200, 180, 160))), "no_face"),
        (lambda g, a: _png(_side_by_side(g, a)), "several_faces"),
    ],
    ids=["garbage", "truncated", "blank", "two people"],
)
def test_unusable_images(matcher: DlibFaceMatcher, grace_hopper: bytes, astronaut: bytes, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnusableImage) as unusable:
        matcher.encode(make(grace_hopper, astronaut))
    assert unusable.value.reason == reason


def _side_by_side(a: bytes, b: bytes) -> Image.Image:
    left, right = _open(a), _open(b).resize((512, 512))
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), (0, 0, 0))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return canvas


def test_landmarks_all_marks_frames_without_a_face(matcher: DlibFaceMatcher, grace_hopper: bytes) -> None:
    blank = _png(Image.new("RGB", (200, 200)))
    frames = matcher.landmarks_all([grace_hopper, blank])
    assert frames[0] is not None and frames[1] is None
    assert {"left_eye", "right_eye", "nose_bridge", "chin"} <= set(frames[0])


def test_exif_orientation_is_applied(
    matcher: DlibFaceMatcher, grace_hopper: bytes, grace_encoding: FaceEncoding
) -> None:
    """A photo stored sideways with an EXIF 'rotate' tag is read upright."""
    sideways = _open(grace_hopper).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    data = _png(sideways, "JPEG", quality=95, exif=exif.tobytes())  # type: ignore[arg-type]
    assert matcher.compare(data, grace_encoding).same_person


# -- ../shared/testdata/faces ---------------------------------------------------------------------------------


def _person(name: str) -> str:
    return name.split("_")[0]


def test_shared_photos_classified_at_the_threshold(matcher: DlibFaceMatcher, shared_faces: Path) -> None:
    encodings = {p.name: matcher.encode(p.read_bytes()) for p in sorted(shared_faces.glob("*.jpg"))
                 if p.name != "two_faces.jpg"}  # fmt: skip
    false_accepts, false_rejects = [], []
    for a, b in itertools.combinations(encodings, 2):
        d = matcher.distance(encodings[a], encodings[b])
        same = _person(a) == _person(b)
        if same and d > FACE_THRESHOLD:
            false_rejects.append((a, b, round(d, 3)))
        if not same and d <= FACE_THRESHOLD:
            false_accepts.append((a, b, round(d, 3)))
    assert not false_accepts and not false_rejects, (false_accepts, false_rejects)


def test_shared_group_photo_is_unusable(matcher: DlibFaceMatcher, shared_faces: Path) -> None:
    with pytest.raises(UnusableImage) as unusable:
        matcher.encode((shared_faces / "two_faces.jpg").read_bytes())
    assert unusable.value.reason == "several_faces"


def _huge_png() -> bytes:
    """6000×6000 pixels in a few kilobytes (1-bit, blank): 108 MB once decoded to RGB."""
    return _png(Image.new("1", (6000, 6000), 1))


def test_a_huge_frame_under_the_byte_limit_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    from adapters.face import MAX_FRAME_PIXELS, check_frames, image_size

    huge = _huge_png()
    assert len(huge) < 400_000 and image_size(huge) == (6000, 6000)

    def no_decoding(self: object) -> None:
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(UnusableImage) as refused:
        check_frames([huge])
    assert refused.value.reason == "too_large" and str(MAX_FRAME_PIXELS) in refused.value.message
    check_frames([_png(Image.new("1", (1920, 1080), 1))])  # a Full HD frame is fine


def test_large_jpeg_is_drafted_down_before_decoding(matcher: DlibFaceMatcher, grace_hopper: bytes) -> None:
    """A 4× upscaled photo decodes at a reduced DCT scale, yet is the same face."""
    from adapters.face import load_rgb

    big = _open(grace_hopper).resize((2048, 2400))
    data = _png(big, "JPEG", quality=90)
    rgb, scale = load_rgb(data, 1024)
    assert max(rgb.shape[:2]) == 1024 and scale == 1024 / 2400
    assert matcher.compare(data, grace_hopper).same_person
    # Landmarks still come back in the original image's pixels.
    small, large = matcher.landmarks(grace_hopper), matcher.landmarks(data)
    nose_small, nose_large = small["nose_tip"][2], large["nose_tip"][2]
    assert abs(nose_large[0] - 4 * nose_small[0]) < 12 and abs(nose_large[1] - 4 * nose_small[1]) < 12
