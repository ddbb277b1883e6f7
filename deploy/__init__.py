"""The production profile: templates, rendering, the backup job (docs/DEPLOY.md)."""
