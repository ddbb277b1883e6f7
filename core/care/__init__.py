"""Hybrid care: appointments, treatments, follow-up check-ins, tasks, archive queries, exports, GDPR.

Pure rules live in `booking`, `followup`, `matching`, `fhir`, `pdf`; typed records in `records`.
Storage and access checks: `workflows.Care` (`clinic.care`: `appointments`, `treatments`,
`checkins`, `tasks`), `archive.ArchiveQueries` (`clinic.archive`) and `exports.CareExports`
(`clinic.exports`), all on one `context.CareContext`.
"""
