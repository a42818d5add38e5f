"""PAdES and PKI with pyHanko: seal appearances (``appearance``), certificates and the
per-tenant internal CA (``pki``), keys encrypted at rest (``keystore``, ``masterkey``), untrusted
PDF input (``pdfinput``), sealing (``sign``) and validation (``validate``).

``validate`` (with ``formats``, ``pdfinput`` and ``errors``) is the part the stand-alone
verifier uses: it imports neither Pillow nor ``sign``, so it runs in the base install. Seal
administration (registry, approvals, envelopes) lives in :mod:`sealtrail.seals`.
"""
