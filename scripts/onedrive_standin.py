#!/usr/bin/env python3
"""A stand-in for Microsoft's identity platform and Microsoft Graph's OneDrive API, for the tests,
on loopback. It follows Microsoft's documented protocol and refuses what they refuse:

Identity (/{tenant}/oauth2/v2.0/authorize and /token):
  - the authorization code flow with PKCE: S256 only; the code exchange checks the verifier
    (AADSTS501481), the redirect URI (AADSTS50148) and the client secret (AADSTS7000215); a code
    is single-use (AADSTS54005); `offline_access` and a Files scope are required to get a refresh
    token;
  - refresh tokens rotate: every refresh answers a new one, and the one used is refused from then
    on (invalid_grant, AADSTS70000); a revoked one too (AADSTS50173);
  - access tokens live `--token-lifetime` seconds; Graph answers 401 with
    `WWW-Authenticate: Bearer … error="invalid_token", error_description="expired_token"` after.

Graph (/v1.0): /me/drive, /drives/{id}, items by id and by path (`root:/a/b:`), children (paged
with @odata.nextLink), folder creation, simple upload (`:/name:/content`, at most 4 MB: 413
above), upload sessions (createUploadSession; fragments are multiples of 320 KiB except the last,
at most 60 MiB, contiguous: 400 for a bad size, 416 for an overlap or a gap; 202 with
nextExpectedRanges until the last, which answers 201 with the item; GET tells the ranges still
expected; DELETE cancels; the first fragment PUT of each session answers 429 with Retry-After: 1),
content download (302 to a pre-authenticated URL), delete (to the recycle bin: `quota.deleted`
grows and `quota.used` keeps counting it). A fragment that would overfill the drive answers 507
quotaLimitReached, as Graph does.

Upload and download URLs are on another host (`--upload-host`, a name that resolves to this
machine): a request there carrying an Authorization header is refused with 401, as Graph's
documentation warns.

Controls for the tests (POST, JSON answers):
  /_control/clients     {"client_id", "client_secret", "redirect_uri"} registers an app
  /_control/grant       {"client_id", "scope"} → {"refresh_token"} without the browser
  /_control/expire      every access token expires now
  /_control/revoke      {"refresh_token"} revokes it
  /_control/quota       {"total"} sets the drive's size in bytes
  /_control/lose_answer {"count"} the next fragments are stored but their answers lost (the
                        connection closes), as when a network drops: the client must ask the
                        session where to go on
  /_control/state       (GET) counts: uploads started, 429s sent, sessions cancelled, requests
                        that wrongly carried Authorization to the upload host, items, recycle bin

Files are kept under --folder (never whole in memory). Runs until SIGTERM or SIGINT."""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FRAGMENT_UNIT = 320 * 1024
MAX_FRAGMENT = 60 * 1024 * 1024
MAX_SIMPLE = 4 * 1024 * 1024
PAGE = 200
CHUNK = 1024 * 1024


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Store:
    """Tokens, items and upload sessions, behind one lock."""

    def __init__(self, folder, token_lifetime, upload_base):
        self.lock = threading.Lock()
        self.folder = folder
        self.token_lifetime = token_lifetime
        self.upload_base = upload_base
        self.clients = {}  # client_id -> {"secret", "redirect_uris": set}
        self.codes = {}  # code -> {client_id, redirect_uri, challenge, scope, used}
        self.refresh = {}  # refresh token -> {"client_id", "scope", "state": live|used|revoked}
        self.access = {}  # access token -> expiry (epoch seconds)
        self.drive_id = "b!" + secrets.token_hex(8)
        self.items = {}  # id -> item dict (name, parent, folder bool, size, path on disk, mtime)
        self.recycle = {}
        self.sessions = {}  # session id -> {parent, name, total, next, file, throttled}
        self.counts = {"uploads": 0, "throttled": 0, "cancelled": 0, "auth_on_upload_host": 0, "refreshes": 0}
        self.root = self.new_item(None, "root", folder=True)
        self.quota_total = 5 * 1024**3
        self.lose_answers = 0

    def new_item(self, parent, name, folder=False):
        item_id = secrets.token_hex(8).upper()
        self.items[item_id] = {
            "id": item_id,
            "name": name,
            "parent": parent,
            "folder": folder,
            "size": 0,
            "file": None,
            "mtime": time.time(),
        }
        return item_id

    def child(self, parent, name):
        for item in self.items.values():
            if item["parent"] == parent and item["name"].lower() == name.lower():
                return item
        return None

    def used(self):
        live = sum(i["size"] for i in self.items.values())
        deleted = sum(i["size"] for i in self.recycle.values())
        return live + deleted, deleted


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OneDriveStandIn/1"

    # --- plumbing --------------------------------------------------------------------------------
    def log_message(self, *args):
        pass

    @property
    def store(self):
        return self.server.store

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def graph_error(self, status, code, message, headers=None):
        self.send_json(status, {"error": {"code": code, "message": message}}, headers)

    def identity_error(self, status, error, aadsts, description):
        body = {
            "error": error,
            "error_description": f"{aadsts}: {description}",
            "error_codes": [int(aadsts[6:])],
        }
        self.send_json(status, body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, CHUNK)))

    def form(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body().decode()).items()}

    def on_upload_host(self):
        return self.headers.get("Host", "").split(":")[0] == self.server.upload_host

    # --- routing ---------------------------------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if self.on_upload_host():
            return self.upload_host(method, path)
        if path.startswith("/_control/"):
            return self.control(method, path[len("/_control/") :])
        m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/(authorize|token)", path)
        if m:
            return self.authorize(query) if m.group(2) == "authorize" else self.token()
        if path.startswith("/v1.0/"):
            if not self.authenticated():
                self.drain()
                return None
            return self.graph(method, path[len("/v1.0") :], query)
        self.drain()
        return self.graph_error(404, "itemNotFound", "No such resource.")

    # --- identity --------------------------------------------------------------------------------
    def authorize(self, q):
        client = self.store.clients.get(q.get("client_id", ""))
        redirect = q.get("redirect_uri", "")
        if client is None:
            return self.send_json(400, {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found."})
        if redirect not in client["redirect_uris"]:
            return self.send_json(400, {"error": "invalid_request", "error_description": "AADSTS50011: The redirect URI does not match."})

        def back(params):
            self.send_response(302)
            self.send_header("Location", redirect + "?" + urllib.parse.urlencode(params))
            self.send_header("Content-Length", "0")
            self.end_headers()

        state = q.get("state")
        if q.get("response_type") != "code":
            return back({"error": "unsupported_response_type", "error_description": "AADSTS70005", "state": state})
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return back({"error": "invalid_request", "error_description": "AADSTS9002325: PKCE (S256) is required.", "state": state})
        scopes = set(q.get("scope", "").split())
        code = secrets.token_urlsafe(24)
        with self.store.lock:
            self.store.codes[code] = {
                "client_id": q["client_id"],
                "redirect_uri": redirect,
                "challenge": q["code_challenge"],
                "scope": " ".join(sorted(scopes)),
                "used": False,
            }
        return back({"code": code, "state": state})

    def token(self):
        f = self.form()
        store = self.store
        client = store.clients.get(f.get("client_id", ""))
        if client is None:
            return self.identity_error(400, "unauthorized_client", "AADSTS700016", "Application not found in the directory.")
        if f.get("client_secret") != client["secret"]:
            return self.identity_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
        grant = f.get("grant_type")
        with store.lock:
            if grant == "authorization_code":
                code = store.codes.get(f.get("code", ""))
                if code is None or code["client_id"] != f["client_id"]:
                    return self.identity_error(400, "invalid_grant", "AADSTS70000", "The provided authorization code is not valid.")
                if code["used"]:
                    return self.identity_error(400, "invalid_grant", "AADSTS54005", "OAuth2 Authorization code was already redeemed.")
                code["used"] = True
                if f.get("redirect_uri") != code["redirect_uri"]:
                    return self.identity_error(400, "invalid_grant", "AADSTS50148", "The redirect_uri does not match the one of the authorization request.")
                verifier = f.get("code_verifier", "")
                if b64url(hashlib.sha256(verifier.encode()).digest()) != code["challenge"]:
                    return self.identity_error(400, "invalid_grant", "AADSTS501481", "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
                scope = code["scope"]
            elif grant == "refresh_token":
                old = store.refresh.get(f.get("refresh_token", ""))
                if old is None or old["client_id"] != f["client_id"]:
                    return self.identity_error(400, "invalid_grant", "AADSTS9002313", "Invalid request. The refresh token is malformed or not valid.")
                if old["state"] == "used":
                    return self.identity_error(400, "invalid_grant", "AADSTS70000", "The refresh token was already used: it has been replaced by a newer one.")
                if old["state"] == "revoked":
                    return self.identity_error(400, "invalid_grant", "AADSTS50173", "The provided grant has expired due to it being revoked.")
                old["state"] = "used"
                store.counts["refreshes"] += 1
                scope = old["scope"]
            else:
                return self.identity_error(400, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type.")
            return self.send_json(200, self.issue(f["client_id"], scope))

    def issue(self, client_id, scope):
        """Tokens for a grant (the store's lock held)."""
        access = "EwA" + secrets.token_urlsafe(32)
        self.store.access[access] = time.time() + self.store.token_lifetime
        answer = {"token_type": "Bearer", "scope": scope, "expires_in": self.store.token_lifetime, "access_token": access}
        scopes = set(scope.split())
        if "offline_access" in scopes and scopes & {"Files.ReadWrite", "Files.ReadWrite.All"}:
            refresh = "M.R3_" + secrets.token_urlsafe(32)
            self.store.refresh[refresh] = {"client_id": client_id, "scope": scope, "state": "live"}
            answer["refresh_token"] = refresh
        return answer

    def authenticated(self):
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.store.access.get(token)
        if expiry is None:
            self.graph_error(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.",
                             {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
            return False
        if time.time() >= expiry:
            self.graph_error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.",
                             {"WWW-Authenticate": 'Bearer realm="", error="invalid_token", error_description="expired_token"'})
            return False
        return True

    # --- Graph -----------------------------------------------------------------------------------
    def drive(self):
        used, deleted = self.store.used()
        total = self.store.quota_total
        return {
            "id": self.store.drive_id,
            "driveType": "personal",
            "name": "OneDrive",
            "quota": {"total": total, "used": used, "deleted": deleted, "remaining": total - used, "state": "normal"},
        }

    def item_json(self, item):
        body = {
            "id": item["id"],
            "name": item["name"],
            "size": item["size"],
            "lastModifiedDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item["mtime"])),
            "parentReference": {"driveId": self.store.drive_id, "id": item["parent"]},
        }
        if item["folder"]:
            children = sum(1 for i in self.store.items.values() if i["parent"] == item["id"])
            body["folder"] = {"childCount": children}
        else:
            body["file"] = {"mimeType": "application/octet-stream"}
            body["@microsoft.graph.downloadUrl"] = f"{self.store.upload_base}/download/{item['id']}"
        return body

    def resolve(self, ref):
        """An item from `items/{id}`, `root`, `root:/a/b:` or `items/{id}:/a/b:` (lock held)."""
        m = re.fullmatch(r"(root|items/([^/:]+))(?::/(.*?):?)?", ref)
        if not m:
            return None, None
        item = self.store.items.get(self.store.root if m.group(1) == "root" else m.group(2))
        rest = m.group(3)
        if item is None or rest is None:
            return item, None
        parts = [p for p in rest.split("/") if p]
        for part in parts[:-1]:
            item = self.store.child(item["id"], part)
            if item is None or not item["folder"]:
                return None, None
        found = self.store.child(item["id"], parts[-1]) if parts else item
        return found, (item, parts[-1] if parts else None)

    def graph(self, method, path, q):
        m = re.fullmatch(r"/(?:me/drive|drives/([^/]+))(?:/(.*))?", path)
        if not m:
            self.drain()
            return self.graph_error(400, "invalidRequest", "Invalid request.")
        if m.group(1) and m.group(1) != self.store.drive_id:
            self.drain()
            return self.graph_error(404, "itemNotFound", "The drive does not exist.")
        rest = m.group(2) or ""
        if rest == "" and method == "GET":
            return self.send_json(200, self.drive())
        for suffix, handler in (
            ("/children", self.children),
            ("/content", self.content),
            ("/createUploadSession", self.create_session),
        ):
            if rest.endswith(suffix):
                return handler(method, rest[: -len(suffix)], q)
        if method == "GET":
            with self.store.lock:
                item, _ = self.resolve(rest)
                if item is None:
                    return self.graph_error(404, "itemNotFound", "The resource could not be found.")
                return self.send_json(200, self.item_json(item))
        if method == "DELETE":
            with self.store.lock:
                item, _ = self.resolve(rest)
                if item is None or item["id"] == self.store.root:
                    return self.graph_error(404, "itemNotFound", "The resource could not be found.")
                self.store.recycle[item["id"]] = self.store.items.pop(item["id"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.drain()
        return self.graph_error(405, "invalidRequest", "Method not allowed.")

    def children(self, method, ref, q):
        with self.store.lock:
            parent, _ = self.resolve(ref)
            if parent is None or not parent["folder"]:
                self.drain()
                return self.graph_error(404, "itemNotFound", "The resource could not be found.")
            if method == "POST":
                body = json.loads(self.body() or b"{}")
                name = body.get("name", "")
                if not name or "folder" not in body or re.search(r'[\\/:*?"<>|]', name):
                    return self.graph_error(400, "invalidRequest", "A folder needs a valid name and a folder facet.")
                existing = self.store.child(parent["id"], name)
                if existing is not None:
                    if body.get("@microsoft.graph.conflictBehavior") == "fail":
                        return self.graph_error(409, "nameAlreadyExists", "An item with the same name already exists.")
                    name = name + " 1"
                item = self.store.items[self.store.new_item(parent["id"], name, folder=True)]
                return self.send_json(201, self.item_json(item))
            kids = sorted((i for i in self.store.items.values() if i["parent"] == parent["id"]), key=lambda i: i["name"])
            skip = int(q.get("$skiptoken", "0") or 0)
            top = min(int(q.get("$top", PAGE)), PAGE)
            page = kids[skip : skip + top]
            body = {"value": [self.item_json(i) for i in page]}
            if skip + top < len(kids):
                host = self.headers.get("Host")
                ref_path = urllib.parse.quote(f"/v1.0/drives/{self.store.drive_id}/{ref}/children")
                body["@odata.nextLink"] = f"http://{host}{ref_path}?$top={top}&$skiptoken={skip + top}"
            return self.send_json(200, body)

    def content(self, method, ref, q):
        if method == "GET":
            with self.store.lock:
                item, _ = self.resolve(ref)
            if item is None or item["folder"]:
                return self.graph_error(404, "itemNotFound", "The resource could not be found.")
            self.send_response(302)
            self.send_header("Location", f"{self.store.upload_base}/download/{item['id']}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if method != "PUT":
            self.drain()
            return self.graph_error(405, "invalidRequest", "Method not allowed.")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SIMPLE:
            self.drain()
            return self.graph_error(413, "requestEntityTooLarge",
                                    "Simple upload is limited to 4 MB: use an upload session.")
        with self.store.lock:
            found, place = self.resolve(ref)
        if place is None or place[1] is None:
            self.drain()
            return self.graph_error(400, "invalidRequest", "Name the file: items/{parent-id}:/{filename}:/content.")
        path = os.path.join(self.store.folder, secrets.token_hex(12))
        with open(path, "wb") as f:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, CHUNK))
                if not chunk:
                    break
                f.write(chunk)
                remaining -= len(chunk)
        with self.store.lock:
            item = self.place(place, path, length)
        return self.send_json(201 if found is None else 200, self.item_json(item))

    def place(self, place, path, size):
        """Puts a finished file at (parent, name), replacing what was there (lock held)."""
        parent, name = place
        existing = self.store.child(parent["id"], name)
        if existing is not None and existing["folder"]:
            os.remove(path)
            return existing
        if existing is None:
            existing = self.store.items[self.store.new_item(parent["id"], name)]
        elif existing["file"]:
            os.remove(existing["file"])
        existing.update(file=path, size=size, mtime=time.time())
        return existing

    def create_session(self, method, ref, q):
        self.drain()
        if method != "POST":
            return self.graph_error(405, "invalidRequest", "Method not allowed.")
        with self.store.lock:
            _, place = self.resolve(ref)
            if place is None or place[1] is None:
                return self.graph_error(400, "invalidRequest", "Name the file: items/{parent-id}:/{filename}:/createUploadSession.")
            session = secrets.token_urlsafe(18)
            path = os.path.join(self.store.folder, "session-" + session)
            open(path, "wb").close()
            self.store.sessions[session] = {"place": place, "next": 0, "file": path, "throttled": False}
            self.store.counts["uploads"] += 1
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return self.send_json(200, {
            "uploadUrl": f"{self.store.upload_base}/upload/{session}",
            "expirationDateTime": expires,
            "nextExpectedRanges": ["0-"],
        })

    # --- the upload host ---------------------------------------------------------------------------
    def upload_host(self, method, path):
        if "Authorization" in self.headers:
            with self.store.lock:
                self.store.counts["auth_on_upload_host"] += 1
            self.drain()
            return self.graph_error(401, "unauthenticated",
                                    "This URL is pre-authenticated: do not send an Authorization header.")
        m = re.fullmatch(r"/download/([^/]+)", path)
        if m and method == "GET":
            return self.download(m.group(1))
        m = re.fullmatch(r"/upload/([^/]+)", path)
        session = self.store.sessions.get(m.group(1)) if m else None
        if session is None:
            self.drain()
            return self.graph_error(404, "itemNotFound", "The upload session does not exist or has expired.")
        if method == "GET":
            return self.send_json(200, {"nextExpectedRanges": [f"{session['next']}-"]})
        if method == "DELETE":
            with self.store.lock:
                self.store.sessions.pop(m.group(1), None)
                self.store.counts["cancelled"] += 1
            os.remove(session["file"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if method != "PUT":
            self.drain()
            return self.graph_error(405, "invalidRequest", "Method not allowed.")
        return self.fragment(m.group(1), session)

    def fragment(self, session_id, session):
        length = int(self.headers.get("Content-Length") or 0)
        r = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", self.headers.get("Content-Range", ""))
        if not r:
            self.drain()
            return self.graph_error(400, "invalidRequest", "Content-Range is required: bytes {start}-{end}/{total}.")
        start, end, total = (int(g) for g in r.groups())
        size = end - start + 1
        if size != length or end >= total:
            self.drain()
            return self.graph_error(400, "invalidRequest", "Content-Range does not match the body's length.")
        if size > MAX_FRAGMENT:
            self.drain()
            return self.graph_error(400, "invalidRequest", "A fragment is at most 60 MiB.")
        if end + 1 < total and size % FRAGMENT_UNIT != 0:
            self.drain()
            return self.graph_error(400, "invalidRequest", "Fragments must be multiples of 320 KiB (327,680 bytes), except the last.")
        if start != session["next"]:
            self.drain()
            return self.graph_error(416, "invalidRange",
                                    f"The fragment starts at {start}; the session expects {session['next']}.")
        if not session["throttled"]:
            session["throttled"] = True
            with self.store.lock:
                self.store.counts["throttled"] += 1
            self.drain()
            return self.graph_error(429, "activityLimitReached", "Too many requests: retry after the delay.",
                                    {"Retry-After": "1"})
        with self.store.lock:
            used, _ = self.store.used()
            partial = sum(s["next"] for s in self.store.sessions.values())
        if used + partial + size > self.store.quota_total:
            self.drain()
            return self.graph_error(507, "quotaLimitReached", "Insufficient Space Available")
        with open(session["file"], "ab") as f:
            remaining = size
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, CHUNK))
                if not chunk:
                    break
                f.write(chunk)
                remaining -= len(chunk)
        if remaining:
            return None
        session["next"] = end + 1
        with self.store.lock:
            lose = end + 1 < total and self.store.lose_answers > 0
            self.store.lose_answers -= 1 if lose else 0
        if lose:
            self.close_connection = True
            return None
        if end + 1 < total:
            return self.send_json(202, {"nextExpectedRanges": [f"{end + 1}-"]})
        with self.store.lock:
            self.store.sessions.pop(session_id, None)
            replaced = self.store.child(session["place"][0]["id"], session["place"][1]) is not None
            item = self.place(session["place"], session["file"], total)
        return self.send_json(200 if replaced else 201, self.item_json(item))

    def download(self, item_id):
        item = self.store.items.get(item_id)
        if item is None or item["folder"]:
            return self.graph_error(404, "itemNotFound", "The resource could not be found.")
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(item["size"]))
        self.end_headers()
        if item["file"]:
            with open(item["file"], "rb") as f:
                shutil.copyfileobj(f, self.wfile, CHUNK)
        return None

    # --- controls ----------------------------------------------------------------------------------
    def control(self, method, what):
        body = json.loads(self.body() or b"{}") if method == "POST" else {}
        store = self.store
        with store.lock:
            if what == "clients":
                client = store.clients.setdefault(body["client_id"], {"secret": body["client_secret"], "redirect_uris": set()})
                client["secret"] = body["client_secret"]
                if body.get("redirect_uri"):
                    client["redirect_uris"].add(body["redirect_uri"])
                return self.send_json(200, {"ok": True})
            if what == "grant":
                answer = self.issue(body["client_id"], body.get("scope", "offline_access Files.ReadWrite"))
                return self.send_json(200, answer)
            if what == "expire":
                for token in store.access:
                    store.access[token] = 0
                return self.send_json(200, {"ok": True})
            if what == "revoke":
                if body.get("refresh_token") in store.refresh:
                    store.refresh[body["refresh_token"]]["state"] = "revoked"
                return self.send_json(200, {"ok": True})
            if what == "quota":
                store.quota_total = int(body["total"])
                return self.send_json(200, {"ok": True})
            if what == "lose_answer":
                store.lose_answers = int(body.get("count", 1))
                return self.send_json(200, {"ok": True})
            if what == "state":
                used, deleted = store.used()
                return self.send_json(200, dict(store.counts, sessions=len(store.sessions),
                                                items=len(store.items), recycled=len(store.recycle),
                                                used=used, deleted=deleted, drive_id=store.drive_id,
                                                root_id=store.root))
        return self.send_json(404, {"error": "no such control"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--upload-host", default="onedrive-upload.localhost",
                        help="the host name upload and download URLs use (must resolve to 127.0.0.1)")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.upload_host = args.upload_host
    server.store = Store(args.folder, args.token_lifetime, f"http://{args.upload_host}:{args.port}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
