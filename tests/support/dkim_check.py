"""Independent DKIM check for the tests (dkimpy), never used by Herald itself.

  dkim_check.py keygen          -> prints "<private seed b64> <public key b64>"
  dkim_check.py verify FILE PUB -> verifies FILE's DKIM-Signature against PUB;
                                   prints the signed header list, exits 1 on failure
"""
import base64
import sys

import dkim
import nacl.signing


def keygen():
    key = nacl.signing.SigningKey.generate()
    print(base64.b64encode(bytes(key)).decode(), base64.b64encode(bytes(key.verify_key)).decode())


def verify(path, public_key):
    with open(path, "rb") as f:
        message = f.read()
    record = b"v=DKIM1; k=ed25519; p=" + public_key.encode()

    def dnsfunc(name, timeout=5):
        return record

    ok = dkim.verify(message, dnsfunc=dnsfunc)
    signature = dkim.DKIM(message)
    header = [v for k, v in signature.headers if k.lower() == b"dkim-signature"]
    tags = dkim.util.parse_tag_value(header[0].replace(b"\r\n", b"")) if header else {}
    print("signed:", tags.get(b"h", b"").decode().lower())
    print("verified" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen()
    else:
        verify(sys.argv[2], sys.argv[3])
