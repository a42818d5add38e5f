"""RFC 3161 timestamping and chain anchoring of checkpoints (not built yet: issue 4)."""
