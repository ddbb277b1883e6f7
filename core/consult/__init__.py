"""The consultation domain: cases and their workflow, photo intake, the physician's report."""
