"""Prepare a local Azurite blob server for tests (used by scripts/test-servers.sh).

    azurite_setup.py --config .test-servers/azurite.json

The JSON file (written by test-servers.sh) holds endpoint, account, key and container. This creates
the container with the right Shared Key, then proves that Azurite really checks the key: a wrong key
must be refused with 403 AuthorizationFailure, the right one must list the container. Exits non-zero
otherwise.
"""

import argparse
import base64
import json
import os
import sys

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient


def service(endpoint, account, key):
    return BlobServiceClient(
        account_url=endpoint,
        credential={"account_name": account, "account_key": key},
        retry_total=0,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    args = p.parse_args()
    with open(args.config) as f:
        c = json.load(f)
    endpoint, account, key, container = c["endpoint"], c["account"], c["key"], c["container"]

    right = service(endpoint, account, key)
    try:
        right.create_container(container)
    except ResourceExistsError:
        pass

    failed = False

    def report(label, ok, detail):
        nonlocal failed
        failed |= not ok
        print(f"azurite check: {label}: {'ok' if ok else 'FAILED'} ({detail})")

    wrong_key = base64.b64encode(os.urandom(32)).decode()
    try:
        list(service(endpoint, account, wrong_key).get_container_client(container).list_blobs())
        report("a wrong key is refused", False, "expected 403 AuthorizationFailure, got success")
    except HttpResponseError as e:
        ok = e.status_code == 403 and e.error_code == "AuthorizationFailure"
        report("a wrong key is refused", ok, f"expected 403 AuthorizationFailure, got {e.status_code} {e.error_code}")

    try:
        names = [x.name for x in right.list_containers()]
        list(right.get_container_client(container).list_blobs())
        report("the right key lists the container", container in names, f"containers: {names}")
    except HttpResponseError as e:
        report("the right key lists the container", False, f"got {e.status_code} {e.error_code}")

    if failed:
        sys.exit("azurite checks failed")


if __name__ == "__main__":
    main()
