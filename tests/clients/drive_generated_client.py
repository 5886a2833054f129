"""Drives the host through a Python client generated from its own
/v1/openapi.json by openapi-python-client: submit, wait, read, audit, and an
upload. Prints what it saw as one JSON object; the Rust test
(tests/e2e/api.rs) asserts on it.

    python drive_generated_client.py CLIENT_DIR BASE_URL PROVISIONER OPERATOR WASM
"""

import json
import sys

client_dir, base, provisioner, operator, wasm = sys.argv[1:6]
sys.path.insert(0, client_dir)

from provisio_client import AuthenticatedClient  # noqa: E402
from provisio_client.api.audit import audit_list  # noqa: E402
from provisio_client.api.connectors import connectors_upload  # noqa: E402
from provisio_client.api.operations import operations_get, operations_list, operations_submit  # noqa: E402
from provisio_client.api.targets import targets_get_object, targets_search_objects  # noqa: E402
from provisio_client.models import OperationRequest  # noqa: E402
from provisio_client.types import File  # noqa: E402

feed = AuthenticatedClient(base_url=base, token=provisioner, raise_on_unexpected_status=True)
admin = AuthenticatedClient(base_url=base, token=operator, raise_on_unexpected_status=True)
seen = {}

request = OperationRequest.from_dict(
    {
        "kind": "create",
        "identity": "e42",
        "attributes": {"id": "42", "__name__": "grace", "department": "Research", "__enable__": True},
    }
)
submitted = operations_submit.sync_detailed("hr", client=feed, body=request, prefer="wait=30")
seen["submit_status"] = submitted.status_code
operation = submitted.parsed
seen["submitted"] = operation.to_dict()

read = operations_get.sync_detailed(operation.id, client=feed)
seen["get_status"] = read.status_code
seen["operation"] = read.parsed.to_dict()

listed = operations_list.sync_detailed(client=feed, target="hr")
seen["listed_ids"] = [o["id"] for o in listed.parsed.to_dict()["operations"]]

account = targets_get_object.sync_detailed("hr", "42", client=feed, class_="account")
seen["object_status"] = account.status_code
seen["object"] = account.parsed.to_dict()

found = targets_search_objects.sync_detailed(
    "hr", client=feed, class_="account", filter_='name eq "grace"'
)
seen["search"] = found.parsed.to_dict()

missing = targets_get_object.sync_detailed("hr", "nobody", client=feed, class_="account")
seen["missing_status"] = missing.status_code
seen["missing"] = missing.parsed.to_dict()

audit = audit_list.sync_detailed(client=feed, operation=operation.id)
seen["audit"] = audit.parsed.to_dict()

with open(wasm, "rb") as component:
    uploaded = connectors_upload.sync_detailed(
        client=admin,
        body=File(payload=component, file_name="connector.wasm", mime_type="application/octet-stream"),
    )
seen["upload_status"] = uploaded.status_code
seen["upload"] = uploaded.parsed.to_dict()

refused = connectors_upload.sync_detailed(
    client=feed, body=File(payload=b"\0asm", file_name="x.wasm", mime_type="application/octet-stream")
)
seen["upload_as_provisioner_status"] = refused.status_code

print(json.dumps(seen))
