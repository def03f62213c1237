"""Key generation, checks and fingerprints (compute_core.keypairs)."""
import base64
import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from compute_core import keypairs


def test_generated_pairs_match_and_fingerprint_the_key_blob():
    private, public, fingerprint = keypairs.generate("k", "u")
    key = serialization.load_pem_private_key(private.encode(), None)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    assert public.startswith(line + " ")
    blob = base64.b64decode(line.split()[1])
    assert fingerprint == ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    assert keypairs.fingerprint(public) == fingerprint
    assert keypairs.generate("k", "u")[2] != fingerprint  # a new key each time


@pytest.mark.parametrize("bad", ["", "ssh-rsa", "ssh-rsa not*base64", "ssh-rsa QUJD",
                                 "garbage garbage garbage", "ssh-rsa \u00e9\u00e9"])
def test_bad_ssh_keys_are_invalid(bad):
    with pytest.raises(keypairs.InvalidKey, match="Keypair data is invalid"):
        keypairs.fingerprint(bad, "ssh")


def test_x509_fingerprint_is_sha1_of_der():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    der = cert.public_bytes(serialization.Encoding.DER)
    assert keypairs.fingerprint(pem, "x509") == ":".join(
        f"{b:02x}" for b in hashlib.sha1(der).digest())
    with pytest.raises(keypairs.InvalidKey):
        keypairs.fingerprint("-----BEGIN CERTIFICATE-----\nnope\n", "x509")
