"""Checks a license file offline, as the licensed software would (docs/license-files.md).

    python -m devices.verify FILE [--jwks FILE_OR_URL] [--fingerprint FINGERPRINT]

FILE holds the compact JWS (`license_file` of POST /api/v1/device/checkout), or `-` for stdin.
--jwks: the public keys, a JSON file or the URL of GET /api/v1/device/signing-keys (default: the
development gateway's). --fingerprint: the file must be for this device.
Exit status 0 and the claims as JSON when the file checks out; 1 and the reason when it does not.
"""

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from devices.domain.license_files import InvalidLicenseFile, public_keys_from_jwks, verify

DEFAULT_JWKS = "http://127.0.0.1:8000/api/v1/device/signing-keys"


def load_jwks(source: str) -> dict:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as answer:  # noqa: S310 (an operator's URL)
            return json.load(answer)
    return json.loads(Path(source).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="the license file (compact JWS), or - for stdin")
    parser.add_argument("--jwks", default=DEFAULT_JWKS, help="the public keys: a JWKS file or URL")
    parser.add_argument("--fingerprint", help="the device the file must be for")
    arguments = parser.parse_args(argv)
    token = (sys.stdin.read() if arguments.file == "-" else Path(arguments.file).read_text()).strip()
    try:
        claims = verify(token, public_keys_from_jwks(load_jwks(arguments.jwks)), fingerprint=arguments.fingerprint)
    except InvalidLicenseFile as error:
        print(f"invalid license file: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
