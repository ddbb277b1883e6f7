"""AI pre-assessment: measures skin features in consultation photos (it does not diagnose).

- `filterbank` — the ONNX filter bank built from code (scripts/build_filterbank.py, `make setup`).
- `canonical` — pose/scale normalisation (similarity warp to 512x512) and illumination handling.
- `metrics` — metric maths on maps + masks; `engine` — the pipeline: assess_photo / assess_case.
- `report` — the result types and report JSON; `findings` — flags, suggestions, summary;
  `overlays` — redness / spots / lines pictures.
- `registry` — further ONNX models registered by JSON manifest; `service` — `clinic.assessments`.
"""
