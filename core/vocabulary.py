"""The portal's shared words, defined once: photo views and sources, case statuses, assessment
flag codes, consent kinds and versions.

Every area (intake, quality gate, assessment, care, pages) imports these instead of spelling the
strings itself, so a view or status cannot mean one thing in one place and another elsewhere.
The values are what the database stores; labels people read live with the pages.
"""

from __future__ import annotations

from typing import Final, Literal, cast, get_args

# --- photo views ----------------------------------------------------------------------------
# "left_oblique"/"left_profile" = the patient's LEFT side faces the camera.
View = Literal["front", "left_oblique", "right_oblique", "left_profile", "right_profile", "close_up"]
VIEWS: Final[tuple[View, ...]] = get_args(View)
REQUIRED_VIEWS: Final[tuple[View, ...]] = ("front", "left_oblique", "right_oblique")
# What a patient is offered for a new consultation: the required views plus an optional close-up.
CONSULTATION_VIEWS: Final[tuple[View, ...]] = (*REQUIRED_VIEWS, "close_up")
FOLLOW_UP_VIEWS: Final[tuple[View, ...]] = REQUIRED_VIEWS
VIEW_NAMES: Final[dict[View, str]] = {
    "front": "Front",
    "left_oblique": "Left side",
    "right_oblique": "Right side",
    "left_profile": "Left profile",
    "right_profile": "Right profile",
    "close_up": "Close-up",
}
_VIEW_ALIASES: Final[dict[str, View]] = {"closeup": "close_up", "frontal": "front"}


def normalise_view(view: str) -> View:
    """'left-oblique', 'Left Oblique', 'close-up' -> the stored name; ValueError on unknown views.

    The one place that reads a view name from outside (CLI, forms, stored rows)."""
    name = view.strip().lower().replace("-", "_").replace(" ", "_")
    name = _VIEW_ALIASES.get(name, name)
    if name not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    return cast(View, name)


# --- the photo quality gate's verdict (and each check's status) ------------------------------
Verdict = Literal["pass", "warn", "fail"]
VERDICTS: Final[tuple[Verdict, ...]] = get_args(Verdict)

# --- where a photo came from (decided by the server, never by the client) -------------------
PhotoSource = Literal["upload", "webcam", "video_snapshot", "simulation", "followup"]
PHOTO_SOURCES: Final[tuple[PhotoSource, ...]] = get_args(PhotoSource)

# --- case workflow --------------------------------------------------------------------------
SUBMITTED: Final = "submitted"
IN_REVIEW: Final = "in_review"
REPORT_SENT: Final = "report_sent"
IN_PERSON_REQUESTED: Final = "in_person_requested"
CLOSED: Final = "closed"
CaseStatus = Literal["submitted", "in_review", "report_sent", "in_person_requested", "closed"]
CASE_STATUSES: Final[tuple[CaseStatus, ...]] = get_args(CaseStatus)
# Cases that still need the physician (the queue). A sent report is answered, not open.
OPEN_STATUSES: Final[tuple[CaseStatus, ...]] = (SUBMITTED, IN_REVIEW, IN_PERSON_REQUESTED)

# --- pre-assessment flags (recommendations, never diagnoses) --------------------------------
FLAG_DERMOSCOPY: Final = "dermoscopy"  # a spot to look at in person under dermoscopy
FLAG_INFLAMMATION: Final = "inflammation"  # active inflammation: see before treating
FLAG_RETAKE: Final = "retake"  # a photo could not be measured
FlagCode = Literal["dermoscopy", "inflammation", "retake"]
FLAG_CODES: Final[tuple[FlagCode, ...]] = get_args(FlagCode)

# --- consent --------------------------------------------------------------------------------
CONSENT_TELEMEDICINE: Final = "telemedicine"
CONSENT_PHOTO_STORAGE: Final = "photo_storage"
CONSENT_ANONYMISED_USE: Final = "anonymised_use"
ConsentKind = Literal["telemedicine", "photo_storage", "anonymised_use"]
CONSENT_KINDS: Final[tuple[ConsentKind, ...]] = get_args(ConsentKind)
# The texts and their versions live per language in core/consent_texts/ (core/consent.py); this
# is the version of the English texts accepted before that (consent rows without a language).
CONSENT_VERSION: Final = "2026-01"

# --- intake drafts (core/consult/drafts.py): one kept, half-filled form per patient and kind --
DRAFT_NEW_CONSULTATION: Final = "new_consultation"
DRAFT_CHECKIN: Final = "checkin"  # a follow-up check-in's photos so far (the check-in is its subject)
DraftKind = Literal["new_consultation", "checkin"]
DRAFT_KINDS: Final[tuple[DraftKind, ...]] = get_args(DraftKind)
