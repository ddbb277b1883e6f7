"""Face-vision core: landmarks, head pose, clinical regions, face detection and the photo quality gate."""
