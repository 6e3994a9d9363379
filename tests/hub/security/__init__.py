"""Tests of hub.security."""
