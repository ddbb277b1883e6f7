"""E-mail commands: `send-reminders` (appointment reminders for the next 24 hours)."""

from __future__ import annotations

import argparse

from core.commands import CommandError, open_clinic


def register(subparsers: argparse._SubParsersAction) -> None:
    reminders = subparsers.add_parser(
        "send-reminders",
        help="e-mail patients a reminder of their appointments in the next 24 hours (once each)",
    )
    reminders.set_defaults(handler=_send_reminders)


def _send_reminders(args: argparse.Namespace) -> int:
    clinic = open_clinic()
    try:
        if not clinic.notifications.configured:
            raise CommandError(
                "e-mail is not configured: set CLINIC_SMTP_HOST (and the other CLINIC_SMTP_* variables)"
            )
        run = clinic.notifications.run_reminders()
        print(f"sent {run.sent} reminder(s), {run.failed} failed")
        if run.failed:
            # Failed ones are audit-logged and tried again at the next run; a non-zero exit tells cron.
            raise CommandError(f"{run.failed} reminder(s) could not be sent (see the log and the audit log)")
        return 0
    finally:
        clinic.close()
