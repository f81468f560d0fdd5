"""Benchmark support: moto server's closest EC2 cancel, ready for wrk.

moto has no CancelImportTask; its closest EC2 cancel is ``CancelSpotInstanceRequests``,
which removes a spot request created before (an unknown id is a 500). So
:func:`prepare` creates ``count`` spot requests through boto3 (``RequestSpotInstances``,
500 a call) and writes one cancel target per line (``/?Action=CancelSpotInstanceRequests
&Version=2016-11-15&SpotInstanceRequestId.1=sir-...``). :data:`HEADERS` is what wrk sends
with each: an ``Authorization`` in SigV4's shape naming the ``ec2`` service in
``us-east-1`` (moto server routes by it and checks no signature by default; the emulator
verifies every one), and the ``X-Amz-Date`` it names.
"""

from __future__ import annotations

import http.client

REGION = "us-east-1"
HEADERS = (
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/ec2/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0000",
    "X-Amz-Date",
    "20261129T120000Z",
)
_BATCH = 500


def prepare(endpoint: str, count: int, path: str) -> str:
    """Create ``count`` + 1 spot requests; write ``count`` cancel targets; the probe's id."""
    import boto3

    ec2 = boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ids: list[str] = []
    while len(ids) < count + 1:
        reply = ec2.request_spot_instances(
            SpotPrice="0.5",
            InstanceCount=min(_BATCH, count + 1 - len(ids)),
            LaunchSpecification={"ImageId": "ami-12c6146b", "InstanceType": "t2.micro"},
        )
        ids += [item["SpotInstanceRequestId"] for item in reply["SpotInstanceRequests"]]
    with open(path, "w") as out:
        out.writelines(f"{target(spot)}\n" for spot in ids[1:])
    return ids[0]


def target(spot_request_id: str) -> str:
    return (
        "/?Action=CancelSpotInstanceRequests&Version=2016-11-15"
        f"&SpotInstanceRequestId.1={spot_request_id}"
    )


def probe(port: int, spot_request_id: str) -> None:
    """One real cancel must succeed, or the run is meaningless."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = dict(zip(HEADERS[::2], HEADERS[1::2], strict=True))
    conn.request("POST", target(spot_request_id), body=b"", headers=headers)
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    if reply.status != 200 or b"<state>cancelled</state>" not in body:
        raise RuntimeError(f"moto probe cancel failed: HTTP {reply.status} {body[:300]!r}")
