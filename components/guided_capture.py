"""Guided photo capture: one standardised photo per view, checked by the quality gate at once.

`guided_capture(views, key, baseline=None) -> dict[str, CheckedPhoto]` renders, for each view, a
pose diagram (drawn with OpenCV, no image files), three ways to capture (upload, camera snapshot,
live guide that shoots by itself), and immediate feedback: the photo annotated with the face box,
a head-turn arrow and the failing checks in plain words. Every photo goes through core's one
intake (`core.consult.photos.intake_photo`/`intake_frame`): the bytes it returns are the bytes
stored, with the verdict computed on them. A FAILED view is not returned (core would refuse it
too); a WARNED one is, and its warnings travel with it for the physician.
With `baseline` (follow-ups: {view: image bytes}) the earlier photo is shown next to the capture
and as a ghost overlay over the new one so the patient can match the framing.
A photo that seems to show someone else (than the earlier photos, or than the front photo taken
here) is refused at once with a sentence naming the view, and not returned: the same rule
(`core.vision.identity.refusals`) refuses it in storage, so no "send anyway" gets past it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import streamlit as st

from components.i18n import N_, _, ngettext, tr
from components.live_guide import live_guide
from core.assessment.findings import VIEW_WORDS
from core.consult.photos import CheckedPhoto, UploadRejected, decode_to_bgr, intake_frame, intake_photo
from core.vision.identity import FaceEmbedding, IdentityRefusal, face_embedding, refusals
from core.vocabulary import REQUIRED_VIEWS, PhotoSource, View

# Message ids (English); shown with _() in the reader's language.
VIEW_LABELS: dict[str, str] = {
    "front": N_("Front (look straight into the camera)"),
    "left_oblique": N_("Left side, turned about 45°"),
    "right_oblique": N_("Right side, turned about 45°"),
    "left_profile": N_("Left profile (side view)"),
    "right_profile": N_("Right profile (side view)"),
    "close_up": N_("Close-up of the area of concern (optional)"),
}
# Short names, in lists ("Missing photos: front, left side"): the card's words for the views.
VIEW_NAMES: dict[str, str] = VIEW_WORDS
VIEW_INSTRUCTIONS: dict[str, str] = {
    "front": N_("Face the camera, chin level, neutral face, eyes open. Hair away from the face."),
    "left_oblique": N_("Turn your head about 45° to your RIGHT so your LEFT cheek faces the camera."),
    "right_oblique": N_("Turn your head about 45° to your LEFT so your RIGHT cheek faces the camera."),
    "left_profile": N_("Turn fully to your RIGHT so only your LEFT side faces the camera."),
    "right_profile": N_("Turn fully to your LEFT so only your RIGHT side faces the camera."),
    "close_up": N_("Hold the camera about 15 cm from the area, in good light, and keep it still."),
}
# What the pose diagram shows, for people who cannot see it (its alt text).
DIAGRAM_ALT: dict[str, str] = {
    "front": N_("Diagram seen from above: your head faces the camera straight on."),
    "left_oblique": N_(
        "Diagram seen from above: your head turned about 45° to your right, left cheek to the camera."
    ),
    "right_oblique": N_(
        "Diagram seen from above: your head turned about 45° to your left, right cheek to the camera."
    ),
    "left_profile": N_(
        "Diagram seen from above: your head turned fully to your right, left side to the camera."
    ),
    "right_profile": N_(
        "Diagram seen from above: your head turned fully to your left, right side to the camera."
    ),
    "close_up": N_("Diagram: the camera held close to the area of concern."),
}
VERDICT_WORDS: dict[str, str] = {
    "pass": N_("Meets the standard"),
    "warn": N_("Usable, with hints"),
    "fail": N_("Needs a retake"),
}
DIAGRAM_CAPTION = N_("Your head seen from above; the camera is at the bottom.")
UPLOAD_TYPES = ["jpg", "jpeg", "png", "heic"]
CAPTURE_METHODS = ("Upload a photo", "Take a photo", "Live guide (takes the photo for you)")
CAPTURE_METHOD_LABELS: dict[str, str] = {
    "Upload a photo": N_("Upload a photo"),
    "Take a photo": N_("Take a photo"),
    "Live guide (takes the photo for you)": N_("Live guide (takes the photo for you)"),
}


def view_label(view: str) -> str:
    return _(VIEW_LABELS[view]) if view in VIEW_LABELS else view


def view_instruction(view: str) -> str:
    return _(VIEW_INSTRUCTIONS[view]) if view in VIEW_INSTRUCTIONS else ""


def view_names(views: list[str] | tuple[str, ...]) -> str:
    """Short view names in the reader's language, joined: 'front, left side'."""
    return tr().join([_(VIEW_NAMES[view]) if view in VIEW_NAMES else view for view in views])


def photo_alt(view: str, verdict: str) -> str:
    """Alt text of the checked photo (the checks themselves are listed as text below it)."""
    return _(
        "Your photo ({view}) with the face marked: {verdict}.",
        view=_(VIEW_NAMES.get(view, view)),
        verdict=_(VERDICT_WORDS.get(verdict, verdict)),
    )


def decode_bgr(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


# --------------------------------------------------------------------------------------------
# drawings (pure functions: tested without Streamlit)


def _view_yaw_degrees(view: str) -> float:
    """Direction the nose should point in the diagram, seen from above (+ = patient's right)."""
    return {
        "front": 0,
        "left_oblique": 45,
        "right_oblique": -45,
        "left_profile": 90,
        "right_profile": -90,
    }.get(view, 0)


def draw_pose_diagram(view: str, size: int = 220) -> np.ndarray:
    """A simple top-down diagram: camera at the bottom, head seen from above, nose arrow.

    Seen from above with the camera below, the patient's right is on the diagram's LEFT
    (as in a photo of them), so a "left oblique" head turns its nose to the diagram's left.
    """
    image = np.full((size, size, 3), 250, np.uint8)
    centre = (size // 2, int(size * 0.42))
    radius = int(size * 0.2)
    # camera
    cam_w, cam_h = int(size * 0.2), int(size * 0.1)
    cam_top = int(size * 0.82)
    cv2.rectangle(
        image, (size // 2 - cam_w // 2, cam_top), (size // 2 + cam_w // 2, cam_top + cam_h), (90, 90, 90), -1
    )
    cv2.circle(image, (size // 2, cam_top + cam_h // 2), cam_h // 3, (230, 230, 230), -1)
    # No words in the drawing: OpenCV draws only small ASCII letters, unreadable on a phone and
    # English in every language. The caption under it says what it shows (DIAGRAM_CAPTION).
    if view == "close_up":
        cv2.circle(image, centre, radius, (180, 200, 230), -1)
        cv2.circle(image, centre, radius // 3, (40, 90, 200), 2)
        cv2.arrowedLine(
            image, (size // 2, cam_top - 4), (centre[0], centre[1] + radius // 3), (40, 140, 40), 2
        )
        return image
    yaw = np.radians(_view_yaw_degrees(view))
    # Facing the camera = pointing down in the diagram; patient's right = diagram left.
    direction = np.array([-np.sin(yaw), np.cos(yaw)])
    cv2.circle(image, centre, radius, (180, 200, 230), -1)
    cv2.circle(image, centre, radius, (90, 110, 140), 2)
    # ears
    ear = np.array([direction[1], -direction[0]]) * radius
    for sign in (-1, 1):
        point = (int(centre[0] + sign * ear[0]), int(centre[1] + sign * ear[1]))
        cv2.circle(image, point, max(3, radius // 6), (150, 170, 200), -1)
    nose = (int(centre[0] + direction[0] * radius * 1.15), int(centre[1] + direction[1] * radius * 1.15))
    tip = (int(centre[0] + direction[0] * radius * 1.9), int(centre[1] + direction[1] * radius * 1.9))
    cv2.circle(image, nose, max(3, radius // 5), (120, 140, 190), -1)
    cv2.arrowedLine(image, nose, tip, (40, 140, 40), 3, tipLength=0.35)
    return image


def annotate_result(image_bgr: np.ndarray, result: Any, words: bool = True) -> np.ndarray:
    """The photo with the face box, a head-turn arrow and (with `words`) the failing/warned
    checks in English words. The patient's pages pass words=False and list the checks as text
    in their language beside the photo (OpenCV's font draws only ASCII)."""
    h, w = image_bgr.shape[:2]
    scale = 720 / max(h, w)
    out = cv2.resize(image_bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    colour = {"pass": (60, 180, 60), "warn": (0, 190, 255), "fail": (40, 40, 220)}[result.verdict]
    if result.face_box:
        x, y, bw, bh = (int(v * scale) for v in result.face_box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), colour, 2)
        if result.pose is not None:
            # Arrow along the nose direction: yaw > 0 points to the image's left, pitch > 0 up.
            cx, cy = x + bw // 2, y + bh // 2
            length = 0.5 * bw
            dx = -np.sin(np.radians(result.pose.yaw)) * length
            dy = -np.sin(np.radians(result.pose.pitch)) * length
            cv2.arrowedLine(out, (cx, cy), (int(cx + dx), int(cy + dy)), colour, 2, tipLength=0.25)
    lines = [
        f"{c.name.replace('_', ' ')}: {c.instruction}"
        for c in result.failing + result.warnings
        if c.instruction
    ]
    if words:
        draw_text_lines(out, [result.verdict.upper(), *lines][:8])
    return out


def draw_text_lines(
    image: np.ndarray, lines: list[str], origin: tuple[int, int] = (6, 6), scale: float = 0.5
) -> None:
    """White text on a darkened panel (readable on any photo), wrapped to the image width."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    max_chars = max(20, int(image.shape[1] / (scale * 20)))
    wrapped: list[str] = []
    for line in lines:
        while len(line) > max_chars:
            cut = line.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            wrapped.append(line[:cut])
            line = "  " + line[cut:].lstrip()
        wrapped.append(line)
    if not wrapped:
        return
    step = int(28 * scale + 8)
    width = max(cv2.getTextSize(line, font, scale, 1)[0][0] for line in wrapped) + 12
    x, y = origin
    bottom = min(image.shape[0], y + step * len(wrapped) + 8)
    right = min(image.shape[1], x + width)
    panel = image[y:bottom, x:right]
    panel[:] = (panel * 0.35).astype(np.uint8)
    for index, line in enumerate(wrapped):
        cv2.putText(
            image, line, (x + 6, y + step * (index + 1)), font, scale, (255, 255, 255), 1, cv2.LINE_AA
        )


def ghost_overlay(image_bgr: np.ndarray, baseline_bgr: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """The new photo with the baseline photo blended over it (same size), to compare framing."""
    ghost = cv2.resize(baseline_bgr, (image_bgr.shape[1], image_bgr.shape[0]), interpolation=cv2.INTER_AREA)
    return cv2.addWeighted(ghost, alpha, image_bgr, 1 - alpha, 0)


def _png(image_bgr: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image_bgr)
    return encoded.tobytes() if ok else b""


# --------------------------------------------------------------------------------------------
# checking (cached by content so Streamlit reruns do not re-run the models)


def check_upload(
    raw: bytes, filename: str | None, view: str, source: PhotoSource, cache: dict[str, Any]
) -> tuple[CheckedPhoto | None, str | None]:
    """(checked photo, None) or (None, why it cannot be used) for uploaded or snapped bytes."""
    key = f"{view}:{source}:{hashlib.sha256(raw).hexdigest()}"
    return _checked_once(cache, key, lambda: intake_photo(raw, view, source=source, filename=filename))


def check_frame(
    frame_bgr: np.ndarray, view: str, cache: dict[str, Any]
) -> tuple[CheckedPhoto | None, str | None]:
    """The live guide's captured frame through the same intake (encoded once, checked once)."""
    key = f"{view}:live:{hashlib.sha256(np.ascontiguousarray(frame_bgr).tobytes()).hexdigest()}"
    return _checked_once(cache, key, lambda: intake_frame(frame_bgr, view, source="webcam"))


def _checked_once(
    cache: dict[str, Any], key: str, intake: Callable[[], CheckedPhoto]
) -> tuple[CheckedPhoto | None, str | None]:
    """Cached by content, so Streamlit's reruns do not run the gate again on the same photo."""
    if key not in cache:
        try:
            with st.spinner(_("Checking your photo…")):
                cache[key] = (intake(), None)
        except UploadRejected as error:
            cache[key] = (None, str(error))  # English, the catalog's id: translated when shown
    return cache[key]


def _show_feedback(photo: CheckedPhoto, baseline: bytes | None) -> None:
    image = decode_bgr(photo.image_bytes)
    if image is None:
        return
    result = photo.quality
    st.image(
        _png(annotate_result(image, result, words=False)),
        width="stretch",
        alt=photo_alt(photo.view, result.verdict),
    )
    if baseline:
        base = decode_bgr(baseline)
        if base is not None:
            st.image(
                _png(ghost_overlay(image, base)),
                caption=_("Your earlier photo as a ghost over the new one"),
                alt=_("Your earlier photo blended over the new one, to compare the framing."),
            )
    # The gate's instructions are stored in English (its message ids): translated here.
    hints = "\n".join(f"- {_(text)}" for text in result.instructions()[:3])
    if result.verdict == "fail":
        st.error(_("This photo cannot be used yet. Please fix this and take it again:\n{hints}", hints=hints))
    elif result.verdict == "warn":
        st.warning(_("This photo is usable, but it can be better:\n{hints}", hints=hints))
    else:
        st.success(_("Great, this photo meets the standard."))


def _forget(kept: dict[str, CheckedPhoto], view: str) -> None:
    kept.pop(view, None)


# --------------------------------------------------------------------------------------------
# the same person in every photo (the rule storage applies, shown where the photo is taken)


def embedding_of(photo: CheckedPhoto, cache: dict[str, Any]) -> FaceEmbedding | None:
    """The photo's face embedding: the intake's, else computed once per content (a draft's kept
    photos come back without one)."""
    if photo.identity is not None:
        return photo.identity.embedding
    digest = f"face:{hashlib.sha256(photo.image_bytes).hexdigest()}"
    if digest not in cache:
        cache[digest] = photo.face_embedding()
    return cache[digest]


def baseline_embeddings(baseline: Mapping[str, bytes] | None, cache: dict[str, Any]) -> list[FaceEmbedding]:
    """Embeddings of the earlier photos a follow-up must match (computed once per content)."""
    found: list[FaceEmbedding] = []
    for data in (baseline or {}).values():
        digest = f"face:{hashlib.sha256(data).hexdigest()}"
        if digest not in cache:
            cache[digest] = face_embedding(decode_to_bgr(data))
        if cache[digest] is not None:
            found.append(cache[digest])
    return found


def identity_refusal(
    photo: CheckedPhoto,
    captured: Mapping[str, CheckedPhoto],
    baseline: Sequence[FaceEmbedding],
    cache: dict[str, Any],
) -> IdentityRefusal | None:
    """Whether `photo` seems to show someone else than the earlier photos (`baseline`), or, for a
    new consultation, than the photos already taken here (the front one first): the rule
    `CaseService` applies when the photos are sent."""
    embedding = embedding_of(photo, cache)
    if embedding is None:
        return None
    photos: list[tuple[View, FaceEmbedding | None]] = [
        (other.view, embedding_of(other, cache)) for view, other in captured.items() if view != photo.view
    ]
    photos.append((photo.view, embedding))
    return next((r for r in refusals(photos, baseline) if r.view == photo.view), None)


def guided_capture(
    views: list[str] | tuple[str, ...],
    key: str,
    baseline: dict[str, bytes] | None = None,
    kept: dict[str, CheckedPhoto] | None = None,
) -> dict[str, CheckedPhoto]:
    """Capture one checked photo per view; returns the views that did not fail (see module doc).

    `kept` (a saved draft's photos, components/intake_draft.py) stands in for a view until the
    patient takes a new photo of it or removes it (both change the dict)."""
    cache: dict[str, Any] = st.session_state.setdefault(f"{key}__assessed", {})
    captured: dict[str, CheckedPhoto] = {}
    earlier = baseline_embeddings(baseline, cache)
    required = [view for view in views if view in REQUIRED_VIEWS] or list(views)
    progress = st.empty()
    for view in views:
        with st.container(border=True):
            st.markdown(f"**{view_label(view)}**")
            guide, capture = st.columns([1, 2])
            with guide:
                st.image(
                    _png(draw_pose_diagram(view)),
                    width=180,
                    caption=_(DIAGRAM_CAPTION) if view != "close_up" else None,
                    alt=_(DIAGRAM_ALT.get(view, VIEW_LABELS["front"])),
                )
                st.markdown(view_instruction(view))  # the instruction as text, full contrast
                if baseline and baseline.get(view):
                    st.image(
                        baseline[view],
                        caption=_("Earlier photo: match this framing"),
                        width=180,
                        alt=_("Your earlier photo of this view."),
                    )
            with capture:
                method = st.radio(
                    _("How do you want to take this photo?"),
                    CAPTURE_METHODS,
                    format_func=lambda value: _(CAPTURE_METHOD_LABELS[value]),
                    key=f"{key}_{view}_method",
                    horizontal=True,
                )
                photo: CheckedPhoto | None = None
                error: str | None = None
                if method == CAPTURE_METHODS[2]:
                    live_frame = live_guide(view, key=f"{key}_{view}")
                    if live_frame is not None:
                        photo, error = check_frame(live_frame, view, cache)
                else:
                    if method == CAPTURE_METHODS[1]:
                        upload = st.camera_input(_("Take the photo"), key=f"{key}_{view}_camera")
                        source = "webcam"
                    else:
                        upload = st.file_uploader(
                            _("Photo: {view}", view=_(VIEW_NAMES.get(view, view))),
                            type=UPLOAD_TYPES,
                            key=f"{key}_{view}_upload",
                        )
                        source = "upload"
                    if upload is not None:
                        photo, error = check_upload(upload.getvalue(), upload.name, view, source, cache)
                if kept is not None and (photo is not None or error):
                    kept.pop(view, None)  # a new photo replaces the kept one
                elif kept and view in kept:
                    photo = kept[view]
                    st.caption(_("Kept from your saved answers."))
                    st.button(
                        _("Remove this photo"),
                        key=f"{key}_{view}_remove_kept",
                        on_click=_forget,
                        args=(kept, view),
                    )
                if error:
                    st.error(_("This photo cannot be used: {reason}", reason=_(error)))
                if photo is not None:
                    _show_feedback(photo, (baseline or {}).get(view))
                    refused = identity_refusal(photo, captured, earlier, cache) if photo.usable else None
                    if refused is not None:  # not returned: storage would refuse it too
                        st.error(_(refused.message), icon=":material/person_off:")
                    elif photo.usable:
                        captured[view] = photo
    done = sum(1 for view in required if view in captured)
    progress.progress(
        done / max(len(required), 1),
        text=ngettext(
            "{done} of {total} view done",
            "{done} of {total} views done",
            len(required),
            done=done,
            total=len(required),
        ),
    )
    return captured
