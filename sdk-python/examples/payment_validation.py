"""Payment-message validation and enrichment.

The payment platform publishes notifications for payment speakers on ``pay/<device>/notify``,
e.g. ``{"merchant_id": "M001", "amount": "12.5", "currency": "cny", "order": "A1B2"}``. Before
the broker routes one, this hook server:

- drops messages that are not valid payment notifications (not JSON, missing fields, amount not
  a positive decimal with at most 2 places, unknown currency or merchant), answering the
  publisher with reason code 0x99 (payload format invalid) so the platform sees the rejection;
- enriches good ones: the amount is normalized to two decimals (``"12.50"``), the currency
  upper-cased, the merchant's display name added as the MQTT 5 user property ``merchant`` (the
  speaker says "Acme Coffee 到账 12.50 元"), and content type / payload format are set.

Run::

    python examples/payment_validation.py         # serves on 127.0.0.1:50052
"""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal, InvalidOperation

from hookmq import Hooks, Message, PublishRequest, ReasonCode, Result, drop

MERCHANTS = {"M001": "Acme Coffee", "M002": "Lucky Noodles"}
CURRENCIES = {"CNY", "HKD"}
MAX_AMOUNT = Decimal("50000.00")

hooks = Hooks("payment-validation", version="1.0")


def _invalid(why: str) -> Result:
    return drop(why, code=ReasonCode.PAYLOAD_FORMAT_INVALID)


@hooks.on_publish("pay/+/notify")
def validate_and_enrich(req: PublishRequest) -> Message | Result:
    """Drop malformed notifications; normalize and enrich the others."""
    try:
        body = req.message.json()
    except ValueError:
        return _invalid("payload is not JSON")
    if not isinstance(body, dict):
        return _invalid("payload must be a JSON object")
    try:
        amount = Decimal(str(body["amount"]))
    except (KeyError, InvalidOperation):
        return _invalid("amount missing or not a number")
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        return _invalid("amount out of range")
    if amount != amount.quantize(Decimal("0.01")):
        return _invalid("amount has more than 2 decimal places")
    currency = str(body.get("currency", "")).upper()
    if currency not in CURRENCIES:
        return _invalid("unknown currency")
    merchant = MERCHANTS.get(str(body.get("merchant_id", "")))
    if merchant is None:
        return _invalid("unknown merchant")

    body["amount"] = f"{amount.quantize(Decimal('0.01'))}"
    body["currency"] = currency
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return req.message.replace(
        payload=payload,
        content_type="application/json",
        payload_format_indicator=1,
    ).with_user_property("merchant", merchant)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    hooks.serve(os.environ.get("HOOKMQ_HOOK_ADDRESS", "127.0.0.1:50052"))
