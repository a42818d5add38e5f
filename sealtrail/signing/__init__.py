"""Electronic seals and PAdES signing (issue 6): appearances (``appearance``), certificates and
the per-tenant internal CA (``pki``), keys encrypted at rest (``keystore``), untrusted PDF input
(``pdfinput``), sealing (``sign``) and validation (``validate``). Only this package imports
pyHanko."""
