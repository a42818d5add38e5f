"""Certification packages (docs/FORMAT.md §8) and their offline verifier.

Verifier (pure core + pyHanko; no database, no network but the optional RPC): ``verify``
(``verify_package`` and the checks over the log), ``external_checks`` (timestamps, anchors,
documents, the report's seal), ``checkrun`` (what the steps share), ``results``, ``layout``
(the ZIP, read with hard caps), ``rpc`` (anchors over plain JSON-RPC). Builder (reads a
ledger): ``evidence`` (what a package holds), ``package`` (files, manifest, the export event),
``handcheck`` (VERIFY.md), ``report_pdf`` (reportlab), ``service_seal`` (the service's own
seal, PAdES B-T, and ``make_package``).
"""
