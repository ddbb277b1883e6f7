"""Quality gate for standardised clinical face photos (front, obliques, profiles, close-ups).

`check_photo(image_bgr, view)` runs every check and returns a `QualityResult` with verdict
"pass" | "warn" | "fail": a photo with any failing check cannot be submitted, a warned one can
(its warnings travel to the physician). Each failing/warned check carries one plain-language
instruction for the patient. ALL thresholds live in `QualityOptions` with the reason for each.

Views and sides: "left_oblique"/"left_profile" = the patient's LEFT side faces the camera (head
turned to the patient's right; in an unmirrored photo the nose points to the image's LEFT, yaw > 0
in `core.vision.landmarks`). A left view taken as a right view fails the pose check. Images must
be unmirrored (un-flip a selfie preview first).

Checks, in the order they are reported (the main problem is the failing check furthest past its
fail line, `QualityCheck.severity`; `QualityResult.failing` lists it first):
one_face, pose (yaw, pitch, roll), resolution (image size, distance, face size), exposure, backlight, lighting, colour,
dynamic_range, sharpness, compression, occlusion (sunglasses, cheek_occlusion, hair_or_hand), expression, eyes_open. `ISO_COMPONENTS` maps each
to its ISO/IEC 29794-5 component; docs/PHOTO_QUALITY.md says what warn and fail mean per check.
Exposure and colour are judged tone-fairly: the face's bright end against the scene, the skin's
own hue and chroma (see `QualityOptions`). `close_up` never runs face checks: exposure from the
skin's bright end, the skin's own hue, compression, focus relative to the skin's own texture and, when the eyes are in the photo,
the scale in pixels per mm (`_close_up`).

Modules: `options` (every threshold, with the measurements it was set from), `result` (what the
gate returns), `measures` (the face's pixel data, taken once), one module per group of checks
(`framing`, `lighting`, `colour`, `sharpness`, `compression`, `occlusion`, `expression`,
`close_up`), `verdict` (the main problem) and `gate` (`check_photo`).

Speed: everything runs on a working copy halved until its long side is at most `work_side` pixels
(sharpness reads the original pixels of the face crop); YuNet runs on a copy just large enough for
the smallest face that would count as a second person (`_detector_side`). For live frames pass the VIDEO-mode landmarks and `QualityOptions.live()`
(YuNet at low resolution, or skipped by passing `faces=[]` plus landmarks).
"""

from core.vision.quality.gate import check_photo
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import ISO_COMPONENTS, QualityCheck, QualityResult, Status

__all__ = ["ISO_COMPONENTS", "QualityCheck", "QualityOptions", "QualityResult", "Status", "check_photo"]
