"""Sealtrail: a tamper-evident evidence ledger for electronic signing."""

__version__ = "0.1.0"
