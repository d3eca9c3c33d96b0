"""Sets up a fresh Devpilot server through its pages (first owner, workspace) and mints an admin API
token on the API page; prints the token. Standard library only."""

import html.parser
import http.cookiejar
import sys
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/")
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


class Inputs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") or attrs.get("id") == "minted-token":
            self.values[attrs.get("name") or attrs["id"]] = attrs.get("value", "")


def page(path, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with opener.open(BASE + path, data) as response:
        parser = Inputs()
        parser.feed(response.read().decode())
        return parser.values


csrf = page("/setup")["csrf_token"]
page("/setup", {"csrf_token": csrf, "workspace": "Fuzz", "name": "Fuzz Admin",
                "email": "fuzz@example.com", "password": "fuzzing password 1"})
page("/login", {"csrf_token": page("/login")["csrf_token"], "email": "fuzz@example.com",
                "password": "fuzzing password 1"})
csrf = page("/settings/api")["csrf_token"]
minted = page("/settings/api/tokens", {"csrf_token": csrf, "name": "schemathesis", "role": "owner", "lifetime": "30"})
print(minted["minted-token"])
