"""Patient photo intake: accept JPEG/PNG/HEIC, apply orientation, strip every piece of metadata.

Uploaded files are decoded and re-encoded from pixels only, so EXIF (GPS, camera serials),
XMP, ICC-embedded comments and anything appended to the file never reach storage. Limits on
bytes, pixels and minimum size protect the server (decompression bombs) and the physician
(useless thumbnails). Every refusal is an `UploadRejected` with a sentence a patient understands.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF support (iPhones); registered once at import.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is pinned in requirements.txt
    HEIC_SUPPORTED = False

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
MIN_SIDE = 200
JPEG_QUALITY = 95
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "HEIF": "image/heic", "HEIC": "image/heic"}


class UploadRejected(ValueError):
    """The file cannot be used; the message is written for the patient."""


@dataclass(frozen=True)
class CleanPhoto:
    image_bytes: bytes  # re-encoded JPEG (or PNG when the source had transparency), no metadata
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class PhotoInput:
    """A photo to store with a case. `image_bytes` should come from `normalise_upload`."""

    view: str
    image_bytes: bytes
    source: str = "upload"
    quality_verdict: str | None = None  # "pass" | "warn" | "fail" from the quality gate
    quality_json: str | None = None


def normalise_upload(data: bytes, filename: str | None = None) -> CleanPhoto:
    """Validate an uploaded image and return it re-encoded without metadata, upright."""
    if not data:
        raise UploadRejected("The file is empty. Please choose a photo.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"The photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Please send a smaller one."
        )
    with warnings.catch_warnings():
        # Pillow warns between MAX_IMAGE_PIXELS and 2x; we want a hard error at our own limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous_limit = Image.MAX_IMAGE_PIXELS
        try:
            image = Image.open(io.BytesIO(data))
            fmt = (image.format or "").upper()
            if fmt not in ACCEPTED_FORMATS:
                raise UploadRejected(
                    "This file type is not supported. Please send a JPEG, PNG or HEIC photo."
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UploadRejected(
                    "The photo has too many pixels. Please send a photo of at most 50 megapixels."
                )
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            image.load()
            image = ImageOps.exif_transpose(image)
        except UploadRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise UploadRejected("The photo is too large to process. Please send a smaller photo.") from error
        except UnidentifiedImageError as error:
            raise UploadRejected(
                "This file is not a photo we can read. Please send a JPEG, PNG or HEIC photo."
            ) from error
        except (OSError, ValueError, SyntaxError) as error:
            raise UploadRejected(
                "The photo seems to be damaged or incomplete. Please try another one."
            ) from error
        finally:
            Image.MAX_IMAGE_PIXELS = previous_limit
    if min(image.size) < MIN_SIDE:
        raise UploadRejected(
            f"The photo is too small. Please send one at least {MIN_SIDE} pixels wide and high."
        )
    return _reencode(image)


def _reencode(image: Image.Image) -> CleanPhoto:
    """Copy pixels into a fresh image (no info dict, no EXIF/XMP/ICC) and encode it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit/float greyscale: Pillow's convert("RGB") would clip everything above 255 to white.
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0
        image = Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8), "L")
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    pixels = image.convert(mode)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    if has_alpha:
        clean.save(out, format="PNG", optimize=False)
        mime = "image/png"
    else:
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=False)
        mime = "image/jpeg"
    return CleanPhoto(out.getvalue(), mime, clean.width, clean.height)


def encode_rgb(rgb: np.ndarray, fmt: str = "JPEG") -> bytes:
    """Encode an RGB uint8 array as a metadata-free JPEG (or PNG) for storing as a photo."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(
        out, format=fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {})
    )
    return out.getvalue()


def image_size(image_bytes: bytes) -> tuple[int, int, str]:
    """(width, height, mime) of an already-clean image; raises UploadRejected if unreadable."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            fmt = (image.format or "").upper()
            if fmt not in ACCEPTED_FORMATS:
                raise UploadRejected(
                    "This file type is not supported. Please send a JPEG, PNG or HEIC photo."
                )
            return image.width, image.height, ACCEPTED_FORMATS[fmt]
    except (UnidentifiedImageError, OSError) as error:
        raise UploadRejected("This file is not a photo we can read.") from error


def decode_to_bgr(image_bytes: bytes) -> np.ndarray:
    """Decode stored image bytes to an OpenCV-style BGR uint8 array (H, W, 3)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise UploadRejected("This file is not a photo we can read.") from error
    return np.ascontiguousarray(rgb[:, :, ::-1])
