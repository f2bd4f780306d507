"""Signs in to a running Rolo with Microsoft's own libraries: MSAL for Python and azure-identity
handed to msgraph-sdk's GraphServiceClient.

Started by crates/rolo/tests/e2e/msal.rs, which serves Rolo over TLS, registers the apps and a
user with a password, and sets:

  ROLO_BASE_URL        the server root without the version, e.g. https://localhost:8443
  ROLO_TENANT_ID       Rolo's tenant id
  ROLO_SECRET_APP_ID, ROLO_SECRET_APP_SECRET   a confidential client with a secret
  ROLO_CERT_APP_ID     a confidential client with a certificate
  ROLO_CERT_FILE, ROLO_KEY_FILE                that certificate (PEM) and its private key
  ROLO_PUBLIC_APP_ID   a public client with the loopback redirect URI http://localhost/cb
  ROLO_USER_ID, ROLO_USER_UPN, ROLO_USER_PASSWORD  the user who signs in
  SSL_CERT_FILE, REQUESTS_CA_BUNDLE  the CA that signed Rolo's certificate

The test plays the user's browser with `requests`: it reads Rolo's sign-in, consent and
/devicelogin pages and posts their forms. Everything on the app's side is the libraries' own
code; the only Rolo-specific settings are the authority (and `instance_discovery=False`: MSAL
would otherwise ask login.microsoftonline.com whether Rolo's host is a Microsoft cloud) and
the Graph SDK's base URL. Prints "N passed, N failed" and exits non-zero on a failure.
"""

import asyncio
import html
import os
import re
import sys
import threading
import traceback
from urllib.parse import parse_qs, urljoin, urlparse

import msal
import requests
from azure.identity import DeviceCodeCredential
from azure.identity.aio import ClientSecretCredential
from msgraph import GraphServiceClient


def required(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set; run this through `cargo test -p rolo --test e2e msal`")
    return value


BASE_URL = required("ROLO_BASE_URL").rstrip("/")
TENANT_ID = required("ROLO_TENANT_ID")
AUTHORITY = f"{BASE_URL}/{TENANT_ID}"
SECRET_APP_ID = required("ROLO_SECRET_APP_ID")
SECRET_APP_SECRET = required("ROLO_SECRET_APP_SECRET")
CERT_APP_ID = required("ROLO_CERT_APP_ID")
CERT_FILE = required("ROLO_CERT_FILE")
KEY_FILE = required("ROLO_KEY_FILE")
PUBLIC_APP_ID = required("ROLO_PUBLIC_APP_ID")
USER_ID = required("ROLO_USER_ID")
USER_UPN = required("ROLO_USER_UPN")
USER_PASSWORD = required("ROLO_USER_PASSWORD")

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
DELEGATED = ["User.Read", "Contacts.ReadWrite"]
# Nothing listens here: the browser stops at the redirect and hands the code to the app.
REDIRECT_URI = "http://localhost:8400/cb"


# --- the browser -------------------------------------------------------------------------------


class Page:
    def __init__(self, response):
        self.status = response.status_code
        self.url = response.url
        self.text = response.text
        self.location = response.headers.get("Location", "")

    def form(self):
        """The first form's absolute action and its hidden fields."""
        m = re.search(r'<form method="post" action="([^"]*)"', self.text)
        assert m, f"no form on the page ({self.status}):\n{self.text}"
        action = urljoin(self.url, html.unescape(m.group(1)))
        fields = {
            html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', self.text)
        }
        return action, fields


class Browser:
    """A user's browser: one cookie jar, redirects not followed (the last one goes to the app)."""

    def __init__(self):
        self.session = requests.Session()

    def get(self, url):
        return Page(self.session.get(url, allow_redirects=False, timeout=30))

    def submit(self, page, **fields):
        action, hidden = page.form()
        return Page(self.session.post(action, data={**hidden, **fields}, allow_redirects=False, timeout=30))


def sign_in_and_consent(browser, page):
    """Fills in the sign-in form on `page`, then accepts the consent page if one comes."""
    assert page.status == 200 and 'name="passwd"' in page.text, (page.status, page.text)
    page = browser.submit(page, action="signin", login=USER_UPN, passwd=USER_PASSWORD)
    if page.status == 200 and 'value="consent"' in page.text:
        page = browser.submit(page, action="consent")
    return page


def complete_devicelogin(verification_uri, user_code):
    """The user, on another device: enters the code on /devicelogin, signs in and consents."""
    browser = Browser()
    page = browser.get(verification_uri)
    assert page.status == 200, (page.status, page.text)
    page = browser.submit(page, action="code", user_code=user_code)
    page = sign_in_and_consent(browser, page)
    assert "You have signed in" in page.text, page.text


# --- helpers -----------------------------------------------------------------------------------


def graph_get(token, path):
    r = requests.get(f"{BASE_URL}/v1.0{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def expect_token(result):
    assert "access_token" in result, result
    assert result["token_type"].lower() == "bearer", result
    return result["access_token"]


# --- MSAL Python -------------------------------------------------------------------------------


def test_client_credentials_with_secret():
    app = msal.ConfidentialClientApplication(
        SECRET_APP_ID, client_credential=SECRET_APP_SECRET, authority=AUTHORITY, instance_discovery=False
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    token = expect_token(result)
    assert result.get("token_source") == "identity_provider", result.get("token_source")
    graph_get(token, f"/users/{USER_ID}/contacts")
    # The second call is answered from MSAL's cache.
    again = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert again["access_token"] == token and again.get("token_source") == "cache", again.get("token_source")


def test_client_credentials_with_certificate():
    with open(KEY_FILE) as f:
        key = f.read()
    with open(CERT_FILE) as f:
        cert = f.read()
    # With the certificate given, MSAL signs its assertion naming the SHA-256 thumbprint.
    app = msal.ConfidentialClientApplication(
        CERT_APP_ID,
        client_credential={"private_key": key, "public_certificate": cert},
        authority=AUTHORITY,
        instance_discovery=False,
    )
    token = expect_token(app.acquire_token_for_client(scopes=GRAPH_DEFAULT))
    graph_get(token, f"/users/{USER_ID}/contacts")
    # The older form: the SHA-1 thumbprint given by hand.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    sha1 = x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA1()).hex()
    legacy = msal.ConfidentialClientApplication(
        CERT_APP_ID,
        client_credential={"private_key": key, "thumbprint": sha1},
        authority=AUTHORITY,
        instance_discovery=False,
    )
    graph_get(expect_token(legacy.acquire_token_for_client(scopes=GRAPH_DEFAULT)), f"/users/{USER_ID}/contacts")


def public_app():
    return msal.PublicClientApplication(PUBLIC_APP_ID, authority=AUTHORITY, instance_discovery=False)


def test_auth_code_with_pkce_and_silent_renewal():
    app = public_app()
    flow = app.initiate_auth_code_flow(DELEGATED, redirect_uri=REDIRECT_URI)
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow["auth_uri"], flow["auth_uri"]

    browser = Browser()
    done = sign_in_and_consent(browser, browser.get(flow["auth_uri"]))
    assert done.status == 302, (done.status, done.text)
    assert done.location.startswith(REDIRECT_URI + "?"), done.location
    params = {k: v[0] for k, v in parse_qs(urlparse(done.location).query).items()}
    assert set(params) >= {"code", "state"}, params

    result = app.acquire_token_by_auth_code_flow(flow, params)
    token = expect_token(result)
    assert "refresh_token" in result, sorted(result)
    claims = result["id_token_claims"]
    assert claims["oid"] == USER_ID and claims["preferred_username"] == USER_UPN, claims
    me = graph_get(token, "/me")
    assert me["id"] == USER_ID, me
    graph_get(token, "/me/contacts")

    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == [USER_UPN], accounts
    cached = app.acquire_token_silent(DELEGATED, account=accounts[0])
    assert cached["access_token"] == token and cached.get("token_source") == "cache", cached.get("token_source")

    # Renewal with the refresh token (as when the cached access token has expired).
    renewed = app.acquire_token_silent(DELEGATED, account=accounts[0], force_refresh=True)
    assert renewed and renewed.get("token_source") == "identity_provider", renewed
    new_token = expect_token(renewed)
    assert new_token != token
    graph_get(new_token, "/me/contacts")
    # Rolo rotates refresh tokens: MSAL keeps the new one, and it works again.
    again = app.acquire_token_silent(DELEGATED, account=accounts[0], force_refresh=True)
    assert expect_token(again) not in (token, new_token)


def test_device_code():
    app = public_app()
    flow = app.initiate_device_flow(scopes=DELEGATED)
    assert "user_code" in flow, flow
    assert flow["verification_uri"] == f"{BASE_URL}/devicelogin", flow

    errors = []

    def user():
        try:
            complete_devicelogin(flow["verification_uri"], flow["user_code"])
        except Exception:  # reported by the main thread
            errors.append(traceback.format_exc())

    thread = threading.Thread(target=user)
    thread.start()
    result = app.acquire_token_by_device_flow(flow)
    thread.join()
    assert not errors, errors[0]
    token = expect_token(result)
    assert result["id_token_claims"]["oid"] == USER_ID, result["id_token_claims"]
    assert graph_get(token, "/me")["id"] == USER_ID


# --- azure-identity + msgraph-sdk --------------------------------------------------------------


def graph_service_client(credential, scopes):
    """The client exactly as Microsoft's samples make it; only its base URL points at Rolo."""
    client = GraphServiceClient(credentials=credential, scopes=scopes)
    client.request_adapter.base_url = f"{BASE_URL}/v1.0"
    return client


async def test_azure_identity_client_secret():
    credential = ClientSecretCredential(
        TENANT_ID, SECRET_APP_ID, SECRET_APP_SECRET, authority=BASE_URL, disable_instance_discovery=True
    )
    async with credential:
        client = graph_service_client(credential, GRAPH_DEFAULT)
        contacts = await client.users.by_user_id(USER_ID).contacts.get()
        assert contacts is not None and contacts.value is not None


async def test_azure_identity_device_code():
    prompts = []

    def prompt_callback(verification_uri, user_code, expires_on):
        prompts.append(user_code)
        complete_devicelogin(verification_uri, user_code)

    credential = DeviceCodeCredential(
        client_id=PUBLIC_APP_ID,
        tenant_id=TENANT_ID,
        authority=BASE_URL,
        disable_instance_discovery=True,
        prompt_callback=prompt_callback,
    )
    client = graph_service_client(credential, DELEGATED)
    me = await client.me.get()
    assert me.id == USER_ID and me.user_principal_name == USER_UPN, (me.id, me.user_principal_name)
    contacts = await client.me.contacts.get()
    assert contacts is not None and contacts.value is not None
    assert len(prompts) == 1, prompts


TESTS = [
    test_client_credentials_with_secret,
    test_client_credentials_with_certificate,
    test_auth_code_with_pkce_and_silent_renewal,
    test_device_code,
    test_azure_identity_client_secret,
    test_azure_identity_device_code,
]


def main():
    only = sys.argv[1:]
    passed = failed = 0
    for test in TESTS:
        if only and test.__name__ not in only:
            continue
        try:
            if asyncio.iscoroutinefunction(test):
                asyncio.run(test())
            else:
                test()
            print(f"ok   {test.__name__}")
            passed += 1
        except Exception:
            print(f"FAIL {test.__name__}\n{traceback.format_exc()}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
