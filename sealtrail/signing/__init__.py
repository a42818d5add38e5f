"""Electronic seals and PAdES signing (not built yet: issue 6)."""
