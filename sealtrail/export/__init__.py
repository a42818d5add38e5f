"""Building certification packages (docs/FORMAT.md §8) from a ledger.

``evidence`` (what a package holds, read from the ledger), ``package`` (its files and manifest,
and the ``export`` event recording it), ``handcheck`` (VERIFY.md), ``report_pdf`` (the report,
drawn with reportlab), ``service_seal`` (the service's own seal, PAdES B-T, and
``make_package``, the one pipeline), ``errors``. Verifying is :mod:`sealtrail.verifier`.
"""
