"""Test kits: generated inputs that exercise real code paths (no mocks of our own code)."""
