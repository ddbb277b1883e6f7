"""Patient photo intake: one call turns what a camera or a file gave us into a checked photo.

`intake_photo(raw_bytes, view, source=...)` (files, camera snapshots) and `intake_frame(pixels,
view, source=...)` (live-guide captures, video snapshots, AR stills) return a `CheckedPhoto`: the
cleaned image bytes exactly as they will be stored, plus the quality gate's typed result computed
on those very bytes. Submission stores these bytes as they are (no second re-encode) and refuses a
photo the gate failed.

Cleaning: uploaded files are decoded and re-encoded from pixels only, so EXIF (GPS, camera
serials), XMP, ICC-embedded comments and anything appended to the file never reach storage.
Limits on bytes, pixels and minimum size protect the server (decompression bombs) and the
physician (useless thumbnails). Every refusal is an `UploadRejected` with a sentence a patient
understands.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.vocabulary import PhotoSource, View, normalise_view

if TYPE_CHECKING:
    from core.vision.identity import FaceEmbedding
    from core.vision.quality import QualityOptions, QualityResult

try:  # HEIC/HEIF support (iPhones); registered once at import.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is pinned in requirements.txt
    HEIC_SUPPORTED = False

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
# Larger photos are decoded reduced (JPEG: the decoder's DCT scaling via `draft`, so the full
# image is never in memory; PNG/HEIC: `reduce` right after decoding): a 49 MP upload costs about
# a quarter of the memory and is stored at ~12 MP, more than a consultation needs.
MAX_DECODED_PIXELS = 24_000_000
MIN_SIDE = 200
JPEG_QUALITY = 95
# Metadata Pillow exposes in `info` that a cleaned image never carries.
_METADATA_KEYS = ("exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp", "photoshop")
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "HEIF": "image/heic", "HEIC": "image/heic"}
# What uploads may be: the above, and multi-picture JPEG (MPO: phones store portrait/depth shots
# so); its first picture is the photo, re-encoded as a plain JPEG like every upload.
UPLOAD_FORMATS = {**ACCEPTED_FORMATS, "MPO": "image/jpeg"}


class UploadRejected(ValueError):
    """The file cannot be used; the message is written for the patient."""


@dataclass(frozen=True)
class CleanPhoto:
    image_bytes: bytes  # re-encoded JPEG (or PNG when the source had transparency), no metadata
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class PhotoIdentity:
    """The same-person check's view of a photo: SFace's embedding, or None when no face gives a
    trustworthy one (a skin close-up): such a photo is never refused as someone else."""

    embedding: FaceEmbedding | None


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo ready to store: cleaned bytes and the gate's verdict on exactly those bytes.

    Built by `intake_photo`/`intake_frame`; `source` is decided by the server code that took the
    photo, never by what a client says. `identity` is computed by the intake on the same pixels;
    None means "not computed" and storage computes it from the bytes (`face_embedding()`), so
    no photo reaches a case unchecked. Nothing biometric is ever stored.
    """

    view: View
    source: PhotoSource
    image_bytes: bytes
    mime: str
    width: int
    height: int
    quality: QualityResult
    identity: PhotoIdentity | None = None

    def face_embedding(self) -> FaceEmbedding | None:
        """The photo's face embedding (the intake's, or computed now from the bytes)."""
        if self.identity is not None:
            return self.identity.embedding
        from core.vision.identity import face_embedding

        return face_embedding(decode_to_bgr(self.image_bytes))

    @property
    def verdict(self) -> str:
        return self.quality.verdict

    @property
    def usable(self) -> bool:
        """False when the gate failed it: such a photo cannot be sent in by a patient."""
        return self.quality.verdict != "fail"


def intake_photo(
    data: bytes,
    view: str,
    options: QualityOptions | None = None,
    *,
    source: PhotoSource = "upload",
    filename: str | None = None,
) -> CheckedPhoto:
    """Clean an uploaded or snapped file and run the quality gate on the cleaned image.

    Raises `UploadRejected` (a sentence for the patient) when the file cannot be used at all.
    """
    clean = normalise_upload(data, filename)
    return _checked(clean, normalise_view(view), source, options)


def intake_frame(
    image_bgr: np.ndarray,
    view: str,
    options: QualityOptions | None = None,
    *,
    source: PhotoSource,
    lossless: bool = False,
) -> CheckedPhoto:
    """Encode a captured frame (BGR uint8) once, then check what will be stored.

    `lossless` stores PNG (AR stills: keeps the simulation mark crisp); otherwise JPEG."""
    image = np.asarray(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise UploadRejected("The picture could not be taken. Please try again.")
    if min(image.shape[:2]) < MIN_SIDE:
        raise UploadRejected(
            f"The picture is too small. It needs to be at least {MIN_SIDE} pixels wide and high."
        )
    fmt, mime = ("PNG", "image/png") if lossless else ("JPEG", "image/jpeg")
    encoded = encode_rgb(np.ascontiguousarray(image[:, :, ::-1]), fmt)
    clean = CleanPhoto(encoded, mime, int(image.shape[1]), int(image.shape[0]))
    return _checked(clean, normalise_view(view), source, options)


def _checked(
    clean: CleanPhoto, view: View, source: PhotoSource, options: QualityOptions | None
) -> CheckedPhoto:
    from core.vision.identity import face_embedding  # the models load on first use
    from core.vision.quality import check_photo

    # Checked on the decoded stored bytes, so the verdict is about what the physician will see.
    pixels = decode_to_bgr(clean.image_bytes)
    quality = check_photo(pixels, view, options)
    identity = PhotoIdentity(face_embedding(pixels))
    return CheckedPhoto(
        view, source, clean.image_bytes, clean.mime, clean.width, clean.height, quality, identity
    )


def normalise_upload(data: bytes, filename: str | None = None) -> CleanPhoto:
    """Validate an uploaded image and return it re-encoded without metadata, upright."""
    if not data:
        raise UploadRejected("The file is empty. Please choose a photo.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"The photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Please send a smaller one."
        )
    # A library may loosen Pillow process-wide (importing WeasyPrint sets LOAD_TRUNCATED_IMAGES):
    # a cut-off upload must be refused, not stored partly grey.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        # Pillow warns between MAX_IMAGE_PIXELS and 2x; we want a hard error at our own limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous_limit = Image.MAX_IMAGE_PIXELS
        try:
            image = Image.open(io.BytesIO(data))
            fmt = (image.format or "").upper()
            if fmt not in UPLOAD_FORMATS:
                raise UploadRejected(
                    "This file type is not supported. Please send a JPEG, PNG or HEIC photo."
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UploadRejected(
                    "The photo has too many pixels. Please send a photo of at most 50 megapixels."
                )
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            image = _decode_bounded(image, fmt, width, height)
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


def _reduction(width: int, height: int) -> int:
    """The smallest integer factor that brings width x height within MAX_DECODED_PIXELS."""
    factor = 1
    while (width // factor) * (height // factor) > MAX_DECODED_PIXELS:
        factor += 1
    return factor


def _decode_bounded(image: Image.Image, fmt: str, width: int, height: int) -> Image.Image:
    """Decode `image`, reduced when it has more than MAX_DECODED_PIXELS pixels."""
    factor = _reduction(width, height)
    if factor > 1 and fmt in ("JPEG", "MPO"):
        # DCT scaling (1/2, 1/4, 1/8) while decoding: at least the requested size, never the full.
        image.draft(image.mode, (-(-width // factor), -(-height // factor)))
    image.load()
    factor = _reduction(*image.size)
    if factor > 1:
        image = image.reduce(factor)
    return image


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


def verify_clean(image_bytes: bytes) -> tuple[int, int, str]:
    """(width, height, mime) of an image the intake cleaned; UploadRejected if it is not one.

    Reads the header only (no decode), so storing a checked photo costs no second re-encode, yet
    nothing that still carries metadata or is not an accepted image reaches storage.
    """
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            fmt = (image.format or "").upper()
            if fmt not in ("JPEG", "PNG"):
                raise UploadRejected("This photo was not prepared by the portal. Please add it again.")
            if image.getexif() or any(key in image.info for key in _METADATA_KEYS):
                raise UploadRejected("This photo still carries hidden details. Please add it again.")
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
