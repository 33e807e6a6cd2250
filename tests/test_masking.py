"""PII masking keeps shape, hides the person, leaves ordinary numbers alone."""

from __future__ import annotations

from datetime import date

import pytest

from console.masking import mask_text, mask_value


@pytest.mark.parametrize("secret", [
    "jane.doe@example.com", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111",
    "+1-555-123-4567", "(555) 123-4567", "555-123-4567", "123-45-6789",
    "DE89 3704 0044 0532 0130 00", "+44 20 7946 0958",
    # found while masking processing logs
    "555.123.4567", "(555) 123 4567", "phone: 5551234567", "tel 030 1234 5678",
])
def test_pii_shapes_are_masked(secret: str) -> None:
    masked = mask_text(f"before {secret} after")
    assert secret not in masked
    assert masked.startswith("before ") and masked.endswith(" after")


@pytest.mark.parametrize("plain", [
    "GET /api/v1/orders/12345 200 in 35ms", "pid 4242 exited with 1",
    "2026-11-22 01:02:03 payroll run 2026-10 done", "port 8443", "v1.2.3",
    "connect to 10.1.24.248:5432 failed", "GET /api/v1/items?page=12 HTTP/1.1 200 5123",
])
def test_ordinary_text_is_untouched(plain: str) -> None:
    assert mask_text(plain) == plain


def test_mask_value_keeps_little() -> None:
    assert mask_value("Kemal") == "K••••"
    assert mask_value(date(1965, 7, 14)) == "1965-••-••"
    assert mask_value(None) is None
    assert "196" not in str(mask_value("+1-555-196-6991"))
