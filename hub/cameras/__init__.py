"""Cameras: source interfaces, the manager, run-time additions, discovery, onboarding."""
