"""Certification packages and the offline verifier (not built yet: issue 5)."""
