"""Prepare a local Azurite blob server for tests (used by scripts/test-servers.sh).

    azurite_setup.py --config .test-servers/azurite.json

The JSON file (written by test-servers.sh) holds endpoint, account, key and container. This creates
the container with the right Shared Key, then proves that Azurite really checks the key: a wrong key
must be refused with 403 AuthorizationFailure, the right one must list the container. And that it
checks SAS tokens (the Azure SDK's own, signed with the key): a container SAS lists, the same
token with a forged signature is refused, and a read-and-list SAS cannot write. Exits non-zero
otherwise.
"""

import argparse
import base64
import datetime
import json
import os
import sys

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContainerSasPermissions, generate_container_sas


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

    check_sas(endpoint, account, key, container, report)

    if failed:
        sys.exit("azurite checks failed")


def check_sas(endpoint, account, key, container, report):
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)

    def sas(permission):
        return generate_container_sas(account, container, account_key=key, permission=permission, expiry=expiry)

    def client(token):
        return ContainerClient(endpoint, container, credential=token, retry_total=0)

    token = sas(ContainerSasPermissions(read=True, list=True))
    try:
        list(client(token).list_blobs())
        report("a container SAS lists", True, "listed")
    except HttpResponseError as e:
        report("a container SAS lists", False, f"got {e.status_code} {e.error_code}")

    pairs = dict(p.split("=", 1) for p in token.split("&"))
    pairs["sig"] = base64.b64encode(os.urandom(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    forged = "&".join(f"{k}={v}" for k, v in pairs.items())
    try:
        list(client(forged).list_blobs())
        report("a forged SAS is refused", False, "expected 403, got success")
    except HttpResponseError as e:
        report("a forged SAS is refused", e.status_code == 403, f"got {e.status_code} {e.error_code}")

    try:
        client(token).upload_blob("azurite-setup-probe", b"x", overwrite=True)
        report("a read-and-list SAS cannot write", False, "expected 403, got success")
    except HttpResponseError as e:
        ok = e.status_code == 403 and e.error_code == "AuthorizationPermissionMismatch"
        report("a read-and-list SAS cannot write", ok, f"got {e.status_code} {e.error_code}")


if __name__ == "__main__":
    main()
