"""Seeds a fresh server for the fuzzer and prints schemathesis' `[parameters]` for it.

A KIM with an officer, a media channel and an e-business: their ids stand in for `{id}`,
`{person_id}`, `{cid}` and `{eid}`, so that the operations on them reach real state.

    python seed.py http://127.0.0.1:8080/api/v1 <admin token> > fuzz.toml
"""

import json
import sys
import urllib.request

API, TOKEN = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    request = urllib.request.Request(
        API + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


kim = call("POST", "/communities", {
    "name": "KIM Karang Taruna Pemping", "village": "21.71.01.1002", "formed_on": "2025-08-01",
    "origin_group": "Karang Taruna", "member_count": 25,
    "initiated_by": "Karang Taruna Kelurahan Pemping",
})["id"]
call("POST", f"/communities/{kim}/officers", {
    "role": "ketua", "name": "Siti Aminah", "appointed_on": "2025-08-02",
    "eligibility": {"not_asn": True, "no_criminal_record": True,
                    "no_party_affiliation": True, "no_ngo_affiliation": True},
})
call("POST", f"/communities/{kim}/media-channels", {
    "kind": "social_media", "name": "@kimpemping", "registered_on": "2025-08-03",
})
call("POST", f"/communities/{kim}/enterprises", {
    "name": "Kerupuk Pemping", "platform": "Shopee", "registered_on": "2025-08-04",
})
person = call("GET", f"/communities/{kim}")["officers"][0]["person_id"]
payloads = {event["type"]: event["payload"] for event in call("GET", f"/communities/{kim}/events")}
print("[parameters]")
print(f'"path.id" = "{kim}"')
print(f'"path.person_id" = "{person}"')
print(f'"path.cid" = "{payloads["MediaChannelRegistered"]["channel_id"]}"')
print(f'"path.eid" = "{payloads["EBusinessRegistered"]["enterprise_id"]}"')
