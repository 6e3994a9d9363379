"""Tests of hub.detection."""
