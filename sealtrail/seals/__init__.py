"""Seal administration: the seal registry (``registry``), seal-use policies and approvals
(``approvals``), multi-party envelopes (``envelopes``), the event outbox that records every
change in the ledger (``outbox``), their storage (``store`` protocols; ``sqlite_store``,
``mongo_store``) and copying between backends (``transfer``). Signing itself (PAdES, PKI) is
:mod:`sealtrail.signing`.
"""
