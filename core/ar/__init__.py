"""AR treatment preview: effects on a face, landmark smoothing and the live per-stream processor."""
