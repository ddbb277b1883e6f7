"""Live video consult: call signalling, call tokens and the AR media server."""
