"""Drives a running Rolo with Microsoft's Graph SDK for Python (msgraph-sdk, built on kiota).

Started by crates/rolo/tests/e2e/python_client.rs, which serves Rolo over TLS, registers an app with
Contacts.ReadWrite and sets:

  ROLO_BASE_URL       the server root without the version, e.g. https://localhost:8443
  ROLO_TENANT_ID      Rolo's tenant id
  ROLO_CLIENT_ID      the app's client id
  ROLO_CLIENT_SECRET  its secret
  ROLO_USER_ID        the mailbox the app works in (app-only tokens have no /me)
  ROLO_PHOTO_FILE     a JPEG to upload as a contact photo
  SSL_CERT_FILE, REQUESTS_CA_BUNDLE  the CA that signed Rolo's certificate

The client is set up as Microsoft documents it, with two Rolo-specific values: the token
authority (azure-identity's `authority=`) and the request adapter's base URL. Everything else,
sign-in included, is the SDK's own code. Prints "N passed, N failed" and exits non-zero on a
failure.
"""

import asyncio
import json
import os
import sys
import traceback
import uuid
from urllib.parse import urlparse

from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.contact import Contact
from msgraph.generated.models.contact_folder import ContactFolder
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.open_type_extension import OpenTypeExtension
from msgraph.generated.users.item.contact_folders.item.contacts.contacts_request_builder import (
    ContactsRequestBuilder as FolderContactsRequestBuilder,
)
from msgraph.generated.users.item.contacts.contacts_request_builder import ContactsRequestBuilder
from msgraph.generated.users.item.contacts.item.contact_item_request_builder import (
    ContactItemRequestBuilder,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.tasks.page_iterator import PageIterator


def required(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set; run this through `cargo test -p rolo --test e2e python_client`")
    return value


BASE_URL = required("ROLO_BASE_URL").rstrip("/")
TENANT_ID = required("ROLO_TENANT_ID")
CLIENT_ID = required("ROLO_CLIENT_ID")
CLIENT_SECRET = required("ROLO_CLIENT_SECRET")
USER_ID = required("ROLO_USER_ID")
PHOTO_FILE = required("ROLO_PHOTO_FILE")

_counter = 0


def unique(prefix):
    """A name unique within this run, so scenarios sharing the mailbox do not see each other."""
    global _counter
    _counter += 1
    return f"{prefix}{os.getpid()}x{_counter}"


def graph_client():
    """The SDK's client with a real client-credentials sign-in at Rolo's token endpoint."""
    credential = ClientSecretCredential(
        TENANT_ID,
        CLIENT_ID,
        CLIENT_SECRET,
        authority=BASE_URL,
        # Rolo is not one of Microsoft's clouds: no instance discovery at login.microsoftonline.com.
        disable_instance_discovery=True,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential,
        scopes=["https://graph.microsoft.com/.default"],
        # The provider only sends tokens to hosts it knows (Microsoft's Graph hosts by default).
        allowed_hosts=[urlparse(BASE_URL).hostname],
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{BASE_URL}/v1.0"
    return GraphServiceClient(request_adapter=adapter), credential


async def expect_odata_error(awaitable, status, code):
    """Awaits `awaitable`, which must raise the SDK's ODataError with this status and code."""
    try:
        await awaitable
    except ODataError as e:
        assert e.response_status_code == status, (e.response_status_code, e.error and e.error.code)
        assert e.error is not None and e.error.code == code, e.error and e.error.code
        assert e.error.message, "empty error message"
        return e
    raise AssertionError(f"expected ODataError {status} {code}")


async def deleted_contact_id(me):
    """The id of a contact that existed: well-formed, but not there (a random GUID is malformed)."""
    contact = await me.contacts.post(Contact(given_name="Ephemeral"))
    await me.contacts.by_contact_id(contact.id).delete()
    return contact.id


async def create_folder(me, name):
    folder = await me.contact_folders.post(ContactFolder(display_name=name))
    assert folder.display_name == name
    return folder.id


async def test_crud(client, me):
    surname = unique("Bansky")
    created = await me.contacts.post(
        Contact(
            given_name="Pavel",
            surname=surname,
            email_addresses=[EmailAddress(address="pavelb@fabrikam.example", name="Pavel Bansky")],
            business_phones=["+1 732 555 0102"],
        )
    )
    assert created.id
    assert created.display_name == f"Pavel {surname}", created.display_name
    assert created.email_addresses[0].address == "pavelb@fabrikam.example"
    assert created.business_phones == ["+1 732 555 0102"]

    config = RequestConfiguration(
        query_parameters=ContactItemRequestBuilder.ContactItemRequestBuilderGetQueryParameters(
            select=["givenName", "surname"]
        )
    )
    got = await me.contacts.by_contact_id(created.id).get(request_configuration=config)
    assert (got.id, got.given_name, got.surname) == (created.id, "Pavel", surname)
    assert got.email_addresses is None, "$select leaves other properties out"

    patched = await me.contacts.by_contact_id(created.id).patch(Contact(job_title="Buyer"))
    assert patched.job_title == "Buyer"
    assert patched.given_name == "Pavel"
    again = await me.contacts.by_contact_id(created.id).get()
    assert again.job_title == "Buyer"

    await me.contacts.by_contact_id(created.id).delete()
    await expect_odata_error(me.contacts.by_contact_id(created.id).get(), 404, "ErrorItemNotFound")


async def test_filter_select_count(client, me):
    # The mailbox is shared with the other scenarios: the $count segment is checked against
    # the count before this scenario's four contacts.
    before = await me.contacts.count.get()
    surname = unique("Filter")
    for given in ["Cara", "Abel", "Bea"]:
        await me.contacts.post(Contact(given_name=given, surname=surname))
    await me.contacts.post(Contact(given_name="Other", surname=unique("Elsewhere")))

    config = RequestConfiguration(
        query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
            filter=f"surname eq '{surname}'",
            select=["givenName"],
            orderby=["givenName"],
            count=True,
        )
    )
    page = await me.contacts.get(request_configuration=config)
    assert [c.given_name for c in page.value] == ["Abel", "Bea", "Cara"]
    assert page.odata_count == 3, page.odata_count
    assert all(c.surname is None and c.id for c in page.value), "only id and the selected property"

    # The $count segment.
    counted = await me.contacts.count.get()
    assert isinstance(counted, int) and counted == before + 4, (before, counted)


async def test_paging(client, me):
    folder = await create_folder(me, unique("Paging"))
    contacts = me.contact_folders.by_contact_folder_id(folder).contacts
    names = [f"N{i:02d}" for i in range(7)]
    for name in names:
        await contacts.post(Contact(given_name=name))
    config = RequestConfiguration(
        query_parameters=FolderContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
            top=3, orderby=["givenName"], select=["givenName"]
        )
    )
    first = await contacts.get(request_configuration=config)
    assert len(first.value) == 3
    assert first.odata_next_link.startswith(f"{BASE_URL}/v1.0/"), first.odata_next_link

    seen = []

    def collect(contact):
        seen.append(contact.given_name)
        return True

    iterator = PageIterator(first, client.request_adapter)
    await iterator.iterate(collect)
    assert seen == names, seen


async def test_delta(client, me):
    folder = await create_folder(me, unique("Delta"))
    contacts = me.contact_folders.by_contact_folder_id(folder).contacts
    kept = await contacts.post(Contact(given_name="Kept"))
    gone = await contacts.post(Contact(given_name="Gone"))

    # The initial round: every page, then a delta link. The SDK asks for `.../contacts/delta()`.
    round_ids = []
    page = await contacts.delta.get()
    while True:
        round_ids += [c.id for c in page.value]
        if page.odata_next_link:
            page = await contacts.delta.with_url(page.odata_next_link).get()
        else:
            break
    assert sorted(round_ids) == sorted([kept.id, gone.id]), round_ids
    delta_link = page.odata_delta_link
    assert delta_link and delta_link.startswith(f"{BASE_URL}/v1.0/"), delta_link

    await contacts.by_contact_id(kept.id).patch(Contact(job_title="Changed"))
    await contacts.by_contact_id(gone.id).delete()
    added = await contacts.post(Contact(given_name="Added"))

    changes = await contacts.delta.with_url(delta_link).get()
    by_id = {c.id: c for c in changes.value}
    assert set(by_id) == {kept.id, gone.id, added.id}, list(by_id)
    assert by_id[kept.id].job_title == "Changed"
    assert by_id[added.id].given_name == "Added"
    assert (by_id[gone.id].additional_data or {}).get("@removed") == {"reason": "deleted"}, by_id[gone.id].additional_data
    assert changes.odata_delta_link

    # Nothing more since.
    quiet = await contacts.delta.with_url(changes.odata_delta_link).get()
    assert quiet.value == []


async def test_photos(client, me):
    contact = await me.contacts.post(Contact(given_name="Photogenic"))
    photo = me.contacts.by_contact_id(contact.id).photo
    with open(PHOTO_FILE, "rb") as f:
        jpeg = f.read()
    await photo.content.put(jpeg)
    meta = await photo.get()
    assert (meta.width, meta.height) == (64, 48), (meta.width, meta.height)
    content = await photo.content.get()
    assert content[:2] == b"\xff\xd8", "a JPEG comes back"
    missing = await deleted_contact_id(me)
    await expect_odata_error(me.contacts.by_contact_id(missing).photo.content.get(), 404, "ErrorItemNotFound")


async def test_extensions(client, me):
    contact = await me.contacts.post(Contact(given_name="Extended"))
    extensions = me.contacts.by_contact_id(contact.id).extensions
    created = await extensions.post(
        OpenTypeExtension(
            odata_type="#microsoft.graph.openTypeExtension",
            extension_name="Com.Contoso.Referral",
            additional_data={"companyName": "Wingtip Toys", "dealValue": 500050},
        )
    )
    assert created.additional_data.get("companyName") == "Wingtip Toys", created.additional_data
    got = await extensions.by_extension_id("Com.Contoso.Referral").get()
    assert isinstance(got, OpenTypeExtension), type(got)
    assert got.extension_name == "Com.Contoso.Referral"
    assert got.additional_data.get("dealValue") == 500050, got.additional_data
    listed = await extensions.get()
    # Graph names an open extension by its type and name.
    expected_id = "Microsoft.OutlookServices.OpenTypeExtension.Com.Contoso.Referral"
    assert [e.id for e in listed.value] == [expected_id], [e.id for e in listed.value]
    await extensions.by_extension_id("Com.Contoso.Referral").delete()
    await expect_odata_error(extensions.by_extension_id("Com.Contoso.Referral").get(), 404, "ErrorItemNotFound")


async def test_batching(client, me):
    surname = unique("Batch")
    create = BatchRequestItem(
        request_information=me.contacts.to_post_request_information(Contact(given_name="Batched", surname=surname)),
        id="create",
    )
    config = RequestConfiguration(
        query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
            filter=f"surname eq '{surname}'"
        )
    )
    listing = BatchRequestItem(
        request_information=me.contacts.to_get_request_information(request_configuration=config),
        id="list",
        depends_on=[create],
    )
    missing = BatchRequestItem(
        request_information=me.contacts.by_contact_id(await deleted_contact_id(me)).to_get_request_information(),
        id="missing",
    )
    content = BatchRequestContent({item.id: item for item in [create, listing, missing]})
    # The items carry absolute URLs (https://localhost:PORT/v1.0/users/...), as the SDK writes them.
    assert all(item.url.startswith(f"{BASE_URL}/v1.0/users/") for item in content.requests.values())
    response = await client.batch.post(batch_request_content=content)
    statuses = response.get_response_status_codes()
    assert statuses == {"create": 201, "list": 200, "missing": 404}, statuses
    stored = await me.contacts.get(request_configuration=config)
    assert [c.given_name for c in stored.value] == ["Batched"]

    # msgraph-core 1.5's BatchResponseContent drops JSON bodies (it only reads base64 ones), so
    # the bodies are read from the same kind of batch sent through the SDK's request adapter.
    again = BatchRequestContent(
        {
            "get": BatchRequestItem(
                request_information=me.contacts.by_contact_id(stored.value[0].id).to_get_request_information(),
                id="get",
            ),
            "gone": BatchRequestItem(
                request_information=me.contacts.by_contact_id(await deleted_contact_id(me)).to_get_request_information(),
                id="gone",
            ),
        }
    )
    info = await client.batch.to_post_request_information(again)
    raw = await client.request_adapter.send_primitive_async(info, "bytes", {})
    bodies = {r["id"]: r for r in json.loads(raw)["responses"]}
    assert {k: r["status"] for k, r in bodies.items()} == {"get": 200, "gone": 404}
    factory = JsonParseNodeFactory()
    got = factory.get_root_parse_node("application/json", json.dumps(bodies["get"]["body"]).encode()).get_object_value(Contact)
    assert (got.id, got.given_name, got.surname) == (stored.value[0].id, "Batched", surname)
    error = factory.get_root_parse_node("application/json", json.dumps(bodies["gone"]["body"]).encode()).get_object_value(ODataError)
    assert error.error.code == "ErrorItemNotFound", error.error.code


async def test_errors(client, me):
    await expect_odata_error(me.contacts.by_contact_id(await deleted_contact_id(me)).get(), 404, "ErrorItemNotFound")
    await expect_odata_error(me.contacts.by_contact_id(str(uuid.uuid4())).get(), 400, "ErrorInvalidIdMalformed")
    bad = RequestConfiguration(
        query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(filter="givenName eq")
    )
    e = await expect_odata_error(me.contacts.get(request_configuration=bad), 400, "BadRequest")
    assert e.error.inner_error is not None and e.error.inner_error.request_id, "innerError.request-id"
    # An app-only token has no signed-in user.
    await expect_odata_error(client.me.contacts.get(), 400, "BadRequest")


async def main():
    client, credential = graph_client()
    me = client.users.by_user_id(USER_ID)
    tests = [
        test_crud,
        test_filter_select_count,
        test_paging,
        test_delta,
        test_photos,
        test_extensions,
        test_batching,
        test_errors,
    ]
    passed = failed = 0
    try:
        for test in tests:
            try:
                await test(client, me)
            except Exception:
                failed += 1
                print(f"FAIL {test.__name__}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {test.__name__}")
    finally:
        await credential.close()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
