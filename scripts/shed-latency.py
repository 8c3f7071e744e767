#!/usr/bin/env python3
"""Measure place-order latency while payment is down and the api sheds at the door, against a
running `baedal dev` on the default ports (turns the payment fault switch on, then off)."""
import json, time, urllib.request, uuid, statistics
API="http://127.0.0.1:8080"; PAY="http://127.0.0.1:8081"; SVC="baedal-dev-service-token"
def req(method, url, body=None, headers={}):
    h={"content-type":"application/json", **headers}
    r=urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method, headers=h)
    t=time.perf_counter()
    try:
        with urllib.request.urlopen(r, timeout=30) as resp: code=resp.status; b=resp.read()
    except urllib.error.HTTPError as e: code=e.code; b=e.read(); resp=e
    return code, (time.perf_counter()-t)*1000, resp.headers.get("Retry-After")
tok=json.loads(urllib.request.urlopen(urllib.request.Request(API+"/v1/dev/tokens", data=json.dumps({"role":"customer","sub":"shed"}).encode(), headers={"content-type":"application/json"})).read())["token"]
order={"store_id":"st_1","items":[{"menu_item_id":"mi_1_1","quantity":1}],"delivery":{"address":"x","region":"gangnam","lat":37.5,"lon":127.03},"payment":{"card_token":"tok_ok"}}
auth={"authorization":"Bearer "+tok}
req("PUT", PAY+"/v1/admin/faults", {"unavailable":True}, {"authorization":"Bearer "+SVC})
first=[req("POST", API+"/v1/orders", order, {**auth, "Idempotency-Key": str(uuid.uuid4())}) for _ in range(3)]
print("first calls (code, ms, retry-after):", [(c, round(ms), ra) for c, ms, ra in first])
lat=[]
for _ in range(200):
    c, ms, ra = req("POST", API+"/v1/orders", order, {**auth, "Idempotency-Key": str(uuid.uuid4())})
    assert c == 503, c
    lat.append(ms)
lat.sort()
print(f"shed while open: n=200 p50={lat[100]:.1f}ms p99={lat[197]:.1f}ms max={lat[-1]:.1f}ms")
req("PUT", PAY+"/v1/admin/faults", {"unavailable":False}, {"authorization":"Bearer "+SVC})
t0=time.time()
while True:
    c, ms, ra = req("POST", API+"/v1/orders", order, {**auth, "Idempotency-Key": str(uuid.uuid4())})
    if c == 201: break
    time.sleep(float(ra or 1))
print(f"orders succeed again {time.time()-t0:.1f}s after payment came back")
