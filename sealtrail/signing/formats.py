"""What sealing writes and validation reads, with no image or drawing library behind it.

``sign`` needs Pillow (the seal's appearance); ``validate`` must not, because the stand-alone
verifier (base install) validates the package report's seal without Pillow installed. So the
vocabulary the two share lives here: the remarks entry of the signature's build properties
(``/Prop_Build /App /SealtrailRemarks``, next to ``/Name /Sealtrail``) and the conversions of
certificates and CRLs from cryptography's objects to asn1crypto's (what pyHanko takes).
"""

from __future__ import annotations

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

#: The /Prop_Build /App key that holds a seal's remarks.
REMARKS_KEY = "/SealtrailRemarks"
#: The /Prop_Build /App /Name of every Sealtrail signature.
APP_NAME = "Sealtrail"


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    """A cryptography certificate as asn1crypto's (what pyHanko takes)."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def asn1_crl_of(crl: x509.CertificateRevocationList) -> asn1_crl.CertificateList:
    """A cryptography CRL as asn1crypto's."""
    return asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
