"""AI pre-assessment: measures skin features in consultation photos (it does not diagnose).

- `filterbank` — the ONNX filter bank built from code (scripts/build_filterbank.py, `make setup`).
- `canonical` — pose/scale normalisation (similarity warp to 512x512) and illumination handling.
- `face` — landmarks and region masks in canonical coordinates (core.vision, template fallback).
- `metrics` — metric maths on maps + masks; `engine` — assess_photo / assess_case, flags, overlays.
- `registry` — further ONNX models registered by JSON manifest; `service` — `clinic.assessments`.
"""
