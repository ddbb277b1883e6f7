"""Hybrid care: appointments, treatments, follow-ups, archive queries, exports, GDPR.

Pure rules live in `booking`, `followup`, `matching`, `fhir`, `pdf`; storage and access checks in
`service.CareService` (wired onto the Clinic as `clinic.care`).
"""
