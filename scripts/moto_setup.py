"""Prepare a local moto S3 server for tests that check credentials for real.

Used by scripts/test-servers.sh in two steps around switching moto's auth on:

    moto_setup.py setup  --endpoint http://127.0.0.1:PORT --out .test-servers/moto-auth.json
    curl -X POST -H 'Content-Type: text/plain' --data 0 http://127.0.0.1:PORT/moto-api/reset-auth
    moto_setup.py verify --auth .test-servers/moto-auth.json

`setup` (auth still off) creates the bucket, an IAM user allowed s3:*, one with no policy and one
allowed iam:* (the tests create users with the least-privilege policy Devpilot shows through it),
each with an access key, and writes them to the JSON file. `verify` (auth on) proves that the keys
behave as the tests expect and exits non-zero if they do not.
"""

import argparse
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
BUCKET = "devpilot-test"
WRITER = "backup-writer"
NO_PERMS = "no-perms"
IAM_ADMIN = "iam-admin"
ALLOW_IAM = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
}
ALLOW_ALL_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def client(service, endpoint, key_id, secret):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def create_user(iam, name, policy=None):
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def setup(endpoint, out):
    # Auth is off at this point: any key pair is accepted.
    s3 = client("s3", endpoint, "bootstrap", "bootstrap")
    s3.create_bucket(Bucket=BUCKET)
    iam = client("iam", endpoint, "bootstrap", "bootstrap")
    writer_id, writer_secret = create_user(iam, WRITER, ALLOW_ALL_S3)
    noperm_id, noperm_secret = create_user(iam, NO_PERMS)
    iam_id, iam_secret = create_user(iam, IAM_ADMIN, ALLOW_IAM)
    auth = {
        "endpoint": endpoint,
        "region": REGION,
        "bucket": BUCKET,
        "access_key_id": writer_id,
        "secret_access_key": writer_secret,
        "noperm_access_key_id": noperm_id,
        "noperm_secret_access_key": noperm_secret,
        "iam_access_key_id": iam_id,
        "iam_secret_access_key": iam_secret,
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(auth, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response.get("Error", {}).get("Code")
    return None


def verify(auth_path):
    with open(auth_path) as f:
        a = json.load(f)
    endpoint, bucket = a["endpoint"], a["bucket"]

    def list_with(key_id, secret):
        s3 = client("s3", endpoint, key_id, secret)
        return lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1)

    checks = [
        ("backup-writer can list the bucket", list_with(a["access_key_id"], a["secret_access_key"]), None),
        ("no-perms is denied", list_with(a["noperm_access_key_id"], a["noperm_secret_access_key"]), "AccessDenied"),
        ("a wrong secret is rejected", list_with(a["access_key_id"], "wrong-secret"), "SignatureDoesNotMatch"),
    ]
    failed = False
    for label, call, expected in checks:
        got = error_code(call)
        ok = got == expected
        failed |= not ok
        print(f"moto auth check: {label}: {'ok' if ok else 'FAILED'} (expected {expected or 'success'}, got {got or 'success'})")
    if failed:
        sys.exit("moto auth checks failed: is auth really switched on?")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--out", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--auth", required=True)
    args = p.parse_args()
    if args.cmd == "setup":
        setup(args.endpoint, args.out)
    else:
        verify(args.auth)


if __name__ == "__main__":
    main()
