"""Shared by the crash and soak proofs (deploy/bench/crashloop.sh, deploy/bench/soak.sh): Standard Webhooks
signing and the synthetic core-banking events. Python 3 standard library only."""
import base64
import datetime
import hashlib
import hmac
import json
import time

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the demo source secret of deploy/insightd.yaml
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def key_bytes(secret):
    return base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


def sign(key, webhook_id, timestamp, body):
    """The `webhook-signature` value: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(key, webhook_id, body, content_type="application/json"):
    ts = str(int(time.time()))
    return {"Content-Type": content_type, "webhook-id": webhook_id, "webhook-timestamp": ts,
            "webhook-signature": sign(key, webhook_id, ts, body)}


def verify(key, webhook_id, timestamp, body, signature_header):
    expected = sign(key, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in (signature_header or "").split())


def now_iso():
    return datetime.datetime.now(SHANGHAI).isoformat(timespec="milliseconds")


def lead_event(event_id, n, clients, prefix="C"):
    """Event n of a stream in which most events make leads with the shipped plugins-config/:
    45% a CNY 60,000 cash withdrawal (risk-alerts large_transaction, an AML lead; rules large-cash-withdrawal once
        per client and day; enough of them in 24 h make a risk-alerts velocity lead),
    20% a CNY 800,000 transfer in (rules large-inflow; product-match large_credit, once per client in 14 days;
        debits after it can make a risk-alerts rapid_in_out lead),
    15% a CNY 300,000 transfer out (velocity, rapid_in_out),
    10% a lapsed insurance policy (an unknown type, rules policy-lapse),
    10% a CNY 1,200 credit (no lead).
    Clients repeat (n % clients), so the plugins' per-client state (cooldowns, windows, once-a-day) matters."""
    client = f"{prefix}{n % clients:06d}"
    account = f"6222{n % clients:012d}"
    shape = (n * 2654435761 >> 7) % 20  # a fixed shuffle of the shapes
    if shape < 9:
        data = {"accountId": account, "amount": "60000.00", "currency": "CNY", "direction": "debit", "channel": "cash"}
    elif shape < 13:
        data = {"accountId": account, "amount": "800000.00", "currency": "CNY", "direction": "credit",
                "channel": "transfer", "counterparty": "ACME Ltd"}
    elif shape < 16:
        data = {"accountId": account, "amount": "300000.00", "currency": "CNY", "direction": "debit",
                "channel": "transfer", "counterparty": "Globex Ltd"}
    elif shape < 18:
        return {"id": event_id, "type": "insurance.policy", "time": now_iso(), "clientId": client,
                "data": {"policyId": f"P-{n}", "status": "lapsed"}}
    else:
        data = {"accountId": account, "amount": "1200.00", "currency": "CNY", "direction": "credit", "channel": "card"}
    return {"id": event_id, "type": "account.transaction", "time": now_iso(), "clientId": client, "data": data}


def soak_event(event_id, n, clients, prefix="S"):
    """Event n of the soak: mostly small card credits (no lead), 4% a CNY 60,000 cash withdrawal (an AML lead and a
    rules lead), 2% a CNY 800,000 transfer in (rules and product-match). The small ones are credits because
    risk-alerts keeps every debit of the last 24 h of event time in the client's velocity window: debits at 500/s
    would make the state grow for a day, which is the workload's memory, not a leak."""
    client = f"{prefix}{n % clients:06d}"
    account = f"6228{n % clients:012d}"
    shape = (n * 2654435761 >> 7) % 50
    if shape < 2:
        data = {"accountId": account, "amount": "60000.00", "currency": "CNY", "direction": "debit", "channel": "cash"}
    elif shape < 3:
        data = {"accountId": account, "amount": "800000.00", "currency": "CNY", "direction": "credit",
                "channel": "transfer"}
    else:
        amount = 10 + (n * 7919) % 4990
        data = {"accountId": account, "amount": f"{amount}.00", "currency": "CNY",
                "direction": "credit", "channel": "card"}
    return {"id": event_id, "type": "account.transaction", "time": now_iso(), "clientId": client, "data": data}


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
