"""Sealtrail: a tamper-evident evidence ledger for electronic signing.

Public surfaces: :mod:`sealtrail.core` (formats, hashing, proofs, checkpoint notes),
:mod:`sealtrail.verifier` (offline verification of certification packages) and
:mod:`sealtrail.sdk` (the Python client). Everything else is the service's own and private by
convention.
"""

import warnings

__version__ = "0.1.0"

# pyHanko 0.38 imports cryptography's DSA key classes for type checks; cryptography 51 marks
# DSA deprecated and warns at that import. Sealtrail never uses DSA keys (Ed25519, RSA and
# ECDSA only), so the warning says nothing to our users: silence exactly that one, from
# pyHanko's modules only, before anything imports pyHanko.
warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"pyhanko(\.|$)")
