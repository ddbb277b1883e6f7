"""Upload intake: formats, orientation, metadata stripping and every kind of refused file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image

from core.consult.photos import MAX_UPLOAD_BYTES, UploadRejected, decode_to_bgr, normalise_upload

from .conftest import make_jpeg


def _gps_exif() -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 1.0)
    exif[ExifTags.Base.Make] = "SpyCamMaker"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-12345"
    return exif.tobytes()


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def test_gps_and_all_exif_are_stripped() -> None:
    original = make_jpeg(exif=_gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it was there
    clean = normalise_upload(original, "holiday.jpg")
    reopened = Image.open(io.BytesIO(clean.image_bytes))
    assert clean.mime == "image/jpeg" and reopened.format == "JPEG"
    assert len(reopened.getexif()) == 0
    assert not reopened.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"SpyCamMaker" not in clean.image_bytes and b"SERIAL-12345" not in clean.image_bytes
    assert (
        b"Exif" not in clean.image_bytes
        and "exif" not in reopened.info
        and "icc_profile" not in reopened.info
    )


def test_exif_orientation_is_applied() -> None:
    stored = np.zeros((300, 400, 3), np.uint8)
    stored[:, :200] = (255, 0, 0)  # left half red
    stored[:, 200:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # display rotated 90 degrees clockwise
    clean = normalise_upload(_encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95))
    assert (clean.width, clean.height) == (300, 400)
    upright = np.asarray(Image.open(io.BytesIO(clean.image_bytes)))
    assert upright[50, 150, 0] > 200 and upright[50, 150, 2] < 60  # top is the former left (red)
    assert upright[350, 150, 2] > 200  # bottom is blue
    assert Image.open(io.BytesIO(clean.image_bytes)).getexif().get(ExifTags.Base.Orientation) is None


def test_png_and_heic_are_accepted() -> None:
    rgb = np.asarray(Image.open(io.BytesIO(make_jpeg())))
    png = normalise_upload(_encode(Image.fromarray(rgb), "PNG"), "a.png")
    assert png.mime == "image/jpeg" and (png.width, png.height) == (320, 400)
    rgba = Image.fromarray(rgb).convert("RGBA")
    assert normalise_upload(_encode(rgba, "PNG")).mime == "image/png"  # transparency kept losslessly
    heic = _encode(Image.fromarray(rgb), "HEIF", quality=90)
    clean = normalise_upload(heic, "IMG_0001.HEIC")
    assert clean.mime == "image/jpeg" and (clean.width, clean.height) == (320, 400)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, I am not a photo at all" * 10, "not a photo"),
        (make_jpeg()[:3000], "damaged"),
        (_encode(Image.new("RGB", (300, 300)), "GIF"), "not supported"),
        (_encode(Image.new("RGB", (100, 120)), "JPEG"), "too small"),
        (b"\xff\xd8\xff" + bytes(MAX_UPLOAD_BYTES), "larger than"),
    ],
    ids=["empty", "not-an-image", "truncated", "gif", "tiny", "too-many-bytes"],
)
def test_unusable_files_are_refused_with_a_plain_message(data: bytes, message: str) -> None:
    with pytest.raises(UploadRejected, match=message):
        normalise_upload(data, "upload.jpg")


def test_decompression_bomb_is_refused() -> None:
    bomb = _encode(Image.new("1", (9000, 7000)), "PNG")  # 63 MP in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(UploadRejected, match="too many pixels"):
        normalise_upload(bomb, "bomb.png")
    huge = _encode(Image.new("1", (20000, 20000)), "PNG")  # past Pillow's own bomb limit too
    with pytest.raises(UploadRejected):
        normalise_upload(huge, "bomb.png")


def test_decode_to_bgr_gives_opencv_channel_order() -> None:
    image = Image.new("RGB", (240, 240), (255, 0, 0))
    bgr = decode_to_bgr(_encode(image, "PNG"))
    assert bgr.shape == (240, 240, 3) and bgr.dtype == np.uint8
    assert tuple(bgr[0, 0]) == (0, 0, 255)


@pytest.mark.shared
def test_every_real_test_photo_is_normalised_without_metadata(shared_testdata) -> None:
    paths = sorted(
        p for p in (shared_testdata / "faces").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    assert paths
    for path in paths:
        original = Image.open(path)
        expected = _upright_size(original)
        clean = normalise_upload(path.read_bytes(), path.name)
        reopened = Image.open(io.BytesIO(clean.image_bytes))
        assert (clean.width, clean.height) == expected, path.name
        assert len(reopened.getexif()) == 0 and b"Exif" not in clean.image_bytes[:64], path.name


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """The upright size after EXIF orientation (5-8 swap width and height)."""
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return (image.height, image.width) if orientation in (5, 6, 7, 8) else image.size


def test_sixteen_bit_greyscale_keeps_its_tones() -> None:
    ramp = np.linspace(0, 65535, 300 * 300).reshape(300, 300).astype(np.uint16)
    clean = normalise_upload(_encode(Image.fromarray(ramp), "PNG"))
    pixels = np.asarray(Image.open(io.BytesIO(clean.image_bytes)).convert("L")).astype(int)
    assert pixels[0, 0] < 10 and 110 < pixels[150, 150] < 145 and pixels[-1, -1] > 245


def test_a_truncated_photo_is_refused_even_after_weasyprint_loosened_pillow() -> None:
    """Importing WeasyPrint (the report letter) sets Pillow's process-wide LOAD_TRUNCATED_IMAGES;
    the upload check must still refuse a cut-off photo instead of storing it partly grey."""
    from PIL import ImageFile

    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as `import weasyprint` leaves it
    try:
        with pytest.raises(UploadRejected, match="damaged"):
            normalise_upload(make_jpeg()[:3000], "upload.jpg")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
