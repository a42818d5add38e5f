"""Trust lists for imported seal certificates (issue 15, item 1): an import chains to a CA the
operator configured for the tenant, or is refused — whatever names it copies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealtrail.core.errors import ConfigError
from sealtrail.seals import trust
from sealtrail.seals.errors import SealCertificateUntrustedError
from sealtrail.seals.trust import TrustList, check_import, load_trust_list

from .pkis import DAY, issue, name, pem, seal_from, self_signed_copy

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def root() -> tuple:
    return issue(name("Example Root CA"), ca=True, now=NOW)


@pytest.fixture(scope="module")
def tenant_root() -> tuple:
    return issue(name("Acme own CA", "Acme Ltd"), ca=True, now=NOW)


def test_chaining_to_a_configured_ca_is_trusted(root: tuple) -> None:
    bundle = seal_from(root, "Acme contract seal", NOW)
    assert check_import(bundle, "acme", TrustList(common=(root[0],)), NOW) == trust.CONFIGURED


def test_self_signed_is_refused_naming_why(root: tuple) -> None:
    genuine = seal_from(root, "Acme contract seal", NOW)
    forged = self_signed_copy(genuine.certificate, NOW)
    with pytest.raises(SealCertificateUntrustedError, match="is self-signed and chains to no CA"):
        check_import(forged, "mallory", TrustList(common=(root[0],)), NOW)


def test_self_signed_is_self_declared_only_where_allowed(root: tuple) -> None:
    forged = self_signed_copy(seal_from(root, "Acme contract seal", NOW).certificate, NOW)
    allowed = TrustList(common=(root[0],), self_declared=frozenset({"mallory"}))
    assert check_import(forged, "mallory", allowed, NOW) == trust.SELF_DECLARED
    with pytest.raises(SealCertificateUntrustedError):
        check_import(forged, "acme", allowed, NOW)


def test_right_name_another_key_is_refused(root: tuple) -> None:
    """A certificate naming the configured CA as issuer but signed by another key."""
    impostor_ca = issue(root[0].subject, ca=True, now=NOW)  # same name, other key
    bundle = seal_from(impostor_ca, "Acme contract seal", NOW)
    with pytest.raises(SealCertificateUntrustedError, match=r"signature .* could not be verified"):
        check_import(bundle, "acme", TrustList(common=(root[0],)), NOW)
    # not even as a self-declared seal: it claims an issuer it does not have
    allowed = TrustList(common=(root[0],), self_declared=frozenset({"acme"}))
    with pytest.raises(SealCertificateUntrustedError):
        check_import(bundle, "acme", allowed, NOW)


def test_intermediate_not_in_the_trust_list_is_refused(root: tuple) -> None:
    other_root = issue(name("Unlisted Root CA"), ca=True, now=NOW)
    inter = issue(name("Unlisted Issuing CA"), issuer=(other_root[0].subject, other_root[1]),
                  ca=True, now=NOW)  # fmt: skip
    bundle = seal_from(inter, "Acme contract seal", NOW, chain=(inter[0], other_root[0]))
    with pytest.raises(SealCertificateUntrustedError, match="Unlisted Issuing CA"):
        check_import(bundle, "acme", TrustList(common=(root[0],)), NOW)


def test_intermediate_under_a_configured_root_is_trusted(root: tuple) -> None:
    inter = issue(name("Example Issuing CA"), issuer=(root[0].subject, root[1]), ca=True, now=NOW)
    bundle = seal_from(inter, "Acme contract seal", NOW, chain=(inter[0],))
    assert check_import(bundle, "acme", TrustList(common=(root[0],)), NOW) == trust.CONFIGURED
    # without the intermediate in the bundle there is no path
    bare = seal_from(inter, "Acme contract seal", NOW)
    with pytest.raises(SealCertificateUntrustedError):
        check_import(bare, "acme", TrustList(common=(root[0],)), NOW)


def test_expired_trusted_ca_is_refused() -> None:
    old = issue(name("Expired Root CA"), ca=True, now=NOW, not_before=NOW - 400 * DAY,
                not_after=NOW - DAY)  # fmt: skip
    bundle = seal_from(old, "Acme contract seal", NOW)
    with pytest.raises(SealCertificateUntrustedError, match=r"Expired Root CA.* is not valid at"):
        check_import(bundle, "acme", TrustList(common=(old[0],)), NOW)


def test_a_tenants_own_ca_vouches_for_that_tenant_only(tenant_root: tuple) -> None:
    bundle = seal_from(tenant_root, "Acme contract seal", NOW)
    tl = TrustList(per_tenant={"acme": (tenant_root[0],)})
    assert check_import(bundle, "acme", tl, NOW) == trust.TENANT_CA
    with pytest.raises(SealCertificateUntrustedError, match="tenant 'mallory'"):
        check_import(bundle, "mallory", tl, NOW)


def test_no_trust_list_refuses_every_import(root: tuple) -> None:
    with pytest.raises(SealCertificateUntrustedError):
        check_import(seal_from(root, "x", NOW), "acme", TrustList(), NOW)


def test_load_trust_list_from_files_and_directories(
    tmp_path: Path, root: tuple, tenant_root: tuple
) -> None:
    (tmp_path / "a.pem").write_bytes(pem(root[0]))
    cas = tmp_path / "cas"
    cas.mkdir()
    inter = issue(name("Example Issuing CA"), issuer=(root[0].subject, root[1]), ca=True, now=NOW)
    (cas / "inter.crt").write_bytes(pem(inter[0], root[0]))  # duplicates are dropped
    (cas / "notes.txt").write_text("ignored")
    per = tmp_path / "tenants" / "acme"
    per.mkdir(parents=True)
    (per / "own.pem").write_bytes(pem(tenant_root[0]))
    tl = load_trust_list([tmp_path / "a.pem"], cas, tmp_path / "tenants", ["mallory"])
    assert [c.subject for c in tl.common] == [root[0].subject, inter[0].subject]
    assert tl.per_tenant == {"acme": (tenant_root[0],)}
    assert tl.import_roots("acme") == (root[0], inter[0], tenant_root[0])
    assert tl.import_roots("beta") == (root[0], inter[0])
    assert tl.self_declared == {"mallory"}


def test_load_trust_list_refuses_a_seal_certificate_as_root(tmp_path: Path, root: tuple) -> None:
    leaf = seal_from(root, "Acme contract seal", NOW).certificate
    (tmp_path / "leaf.pem").write_bytes(pem(leaf))
    with pytest.raises(ConfigError, match="is not a CA certificate"):
        load_trust_list([tmp_path / "leaf.pem"], None, None, [])
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="want PEM"):
        load_trust_list([tmp_path / "junk.pem"], None, None, [])
    with pytest.raises(ConfigError, match="does not exist"):
        load_trust_list([], tmp_path / "nowhere", None, [])
