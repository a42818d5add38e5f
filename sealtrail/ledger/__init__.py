"""The ledger: events, canonical encoding, the Merkle log, checkpoints, storage, sequencing.

The pure core — ``errors``, ``merkle``, ``canonical``, ``strictjson``, ``event``, ``note`` — does
no I/O and is all a stand-alone verifier needs.
"""
