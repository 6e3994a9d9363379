"""Tests of hub.extensions."""
