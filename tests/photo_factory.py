"""Checked photos for tests that need a stored case but not the quality gate's opinion.

`checked_photo(view, jpeg)` wraps already-clean image bytes (e.g. a generated JPEG) in the
`CheckedPhoto` the intake would return, with the verdict the test states. Tests about the gate
itself use `core.consult.photos.intake_photo` on real pixels instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.consult.photos import CheckedPhoto, verify_clean
from core.vision.quality import QualityCheck, QualityResult
from core.vocabulary import PhotoSource, Verdict, normalise_view

INSTRUCTION = "Move a little closer so your face fills the frame."


def checked_photo(
    view: str,
    image_bytes: bytes,
    *,
    verdict: Verdict = "pass",
    source: PhotoSource = "upload",
    checks: Sequence[QualityCheck] | None = None,
) -> CheckedPhoto:
    """A CheckedPhoto for `image_bytes`; a warn/fail verdict carries one distance check unless
    `checks` says which."""
    if checks is None:
        checks = [] if verdict == "pass" else [QualityCheck("distance", verdict, 0.1, 0.2, INSTRUCTION)]
    quality = QualityResult(verdict, normalise_view(view), list(checks), None, [], None)
    width, height, mime = verify_clean(image_bytes)
    return CheckedPhoto(normalise_view(view), source, image_bytes, mime, width, height, quality)
