"""Core's messages for people, as the catalog's message ids.

`core/` raises and returns English messages (stored results, logs and the CLI keep them); the
pages translate them where they are shown, with `_(message)`. This list marks them for the
catalog (`make i18n-extract`); a message not listed here is simply shown in English.
tests/ui/test_i18n_catalogs.py checks that every message here is still written in core.
"""

from __future__ import annotations

from core.i18n import N_

CORE_MESSAGES: tuple[str, ...] = (
    # core/auth.py
    N_(
        "Email or password is not correct. After several failed attempts log-in is locked for a while:"
        " please check both, or wait 15 minutes before trying again."
    ),
    N_(
        "We could not create an account with these details. If you have registered before, please log"
        " in instead."
    ),
    N_(
        "This password is too easy to guess. Please choose a longer one made of three or four unrelated"
        " words (for example a short sentence only you would think of), without your name, your email,"
        " dates or common passwords."
    ),
    N_("The password needs at least 10 characters."),
    N_("The password is too long."),
    N_("Please enter a valid email address."),
    N_("Please enter your name."),
    N_("Please enter a valid date of birth."),
    N_("The date of birth must be in the past."),
    N_("Please check the year of birth."),
    N_("Please choose a language."),
    N_("Please choose a time zone from the list."),
    N_("You need to accept the telemedicine consent to register."),
    N_("The consent text has changed. Please read it again and accept it."),
    # core/consult/cases.py (IntakeForm.validate and the photo checks)
    N_("Please choose at least one concern."),
    N_("Please describe your other concern."),
    N_("Please choose at least one face area."),
    N_("Please choose the face areas from the list."),
    N_("Please say how long you have had this concern."),
    N_("Please choose a skin type I–VI or 'unsure'."),
    N_("Please answer yes or no."),
    N_("We need your consent to store your photos to review your case."),
    N_("Each view can be sent only once."),
    # core/consult/photos.py (UploadRejected)
    N_("The picture could not be taken. Please try again."),
    N_("The file is empty. Please choose a photo."),
    N_("This file type is not supported. Please send a JPEG, PNG or HEIC photo."),
    N_("The photo has too many pixels. Please send a photo of at most 50 megapixels."),
    N_("The photo is too large to process. Please send a smaller photo."),
    N_("This file is not a photo we can read. Please send a JPEG, PNG or HEIC photo."),
    N_("The photo seems to be damaged or incomplete. Please try another one."),
    N_("This file is not a photo we can read."),
    N_("This photo was not prepared by the portal. Please add it again."),
    N_("This photo still carries hidden details. Please add it again."),
    # core/assessment/report.py (the disclaimer every stored pre-assessment carries)
    N_(
        "Automated photo measurements to support the physician's review. They describe what the photos"
        " show (colour, lines, spots, texture) under the photo's own lighting and are not a diagnosis."
        " Scores are relative measures, not clinically validated grades; the physician decides."
    ),
    # core/consult/reports.py (the report editor)
    N_("Please describe your findings before sending."),
    N_("Please write an assessment before sending."),
    N_("Please give the reason for the in-person visit."),
    N_("This report has been sent and can no longer be edited."),
    N_("Please write and save the report first."),
    N_("This report has already been sent."),
    # core/care (booking, check-ins: the care panel shows them)
    N_("the window is shorter than one slot"),
    N_("say why the visit is needed"),
    N_("the visit must be in the future"),
    N_("this slot is no longer available; choose another"),
    N_("choose one of the published free slots"),
    N_(
        "An in-person visit can be booked once your physician advises one in the report or approves it."
        " Please wait for your report."
    ),
    N_("a check-in needs at least one view"),
    N_("only open check-ins can be changed"),
    N_("only open check-ins can be dropped"),
    N_("this check-in was already sent"),
    N_("only submitted check-ins can be reviewed"),
)
