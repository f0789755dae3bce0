"""Fake-value makers for the PII evaluation set (test data only, standard library only).

Every value here is random and made up: checksummed numbers (Luhn card numbers, IBANs with
their mod-97 check digits, US SSNs in the issued ranges) and credentials shaped like the
vendors' formats (right prefix, length and alphabet) but never real. All functions take a
``random.Random`` so that the callers stay deterministic for a given seed.

This module knows nothing about the redactor under test: it is written from the label
semantics in README.md only.
"""

from __future__ import annotations

import base64
import json
import random
import string

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"
B32 = UPPER + "234567"
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def hexs(rng: random.Random, n: int) -> str:
    return pick(rng, HEX, n)


# --------------------------------------------------------------------------- checksums


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    for d in DIGITS:
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in rearranged)
    return int(num) % 97 == 1


def _iban_check(country: str, bban: str) -> str:
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(num) % 97:02d}"


def _fr_rib_key(bank: str, branch: str, account: str) -> str:
    # Letters in a French account number map to digits (A/J=1, B/K/S=2, ...).
    table = {c: str((i % 9) + 1) for i, c in enumerate("ABCDEFGHI")}
    table.update({c: str((i % 9) + 1) for i, c in enumerate("JKLMNOPQR")})
    table.update({c: str((i % 8) + 2) for i, c in enumerate("STUVWXYZ")})
    acc = "".join(table.get(c, c) for c in account)
    key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(acc)) % 97)
    return f"{key:02d}"


def _es_control(bank: str, branch: str, account: str) -> str:
    weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

    def one(digits: str) -> str:
        s = sum(int(d) * w for d, w in zip(digits, weights, strict=False))
        r = 11 - s % 11
        return "0" if r == 11 else "1" if r == 10 else str(r)

    return one("00" + bank + branch) + one(account)


def _it_cin(bban_rest: str) -> str:
    odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23]
    total = 0
    for i, c in enumerate(bban_rest):
        v = int(c) if c.isdigit() else ord(c) - 65
        total += odd[v] if i % 2 == 0 else v
    return UPPER[total % 26]


# Real-looking bank codes (BLZ, sort-code banks, ...) only as prefixes: accounts are random.
_DE_BLZ = ["10010010", "20050550", "37040044", "50010517", "60050101", "70150000", "76026000",
           "12030000", "43060967", "86055592"]
_GB_BANKS = [("NWBK", "60"), ("BARC", "20"), ("LOYD", "30"), ("MIDL", "40"), ("HBUK", "40"),
             ("MONZ", "04"), ("SRLG", "60")]
_NL_BANKS = ["ABNA", "INGB", "RABO", "TRIO", "SNSB", "BUNQ"]
_FR_BANKS = ["30003", "30004", "20041", "10278", "30066", "16606", "11315"]
_ES_BANKS = ["2100", "0049", "0182", "0081", "2038", "0128", "1465"]
_IT_ABI = ["03069", "02008", "05034", "03062", "01030", "05387"]


def iban(rng: random.Random, country: str, spaced: bool = False) -> str:
    country = country.upper()
    if country == "DE":
        bban = rng.choice(_DE_BLZ) + pick(rng, DIGITS, 10)
    elif country == "GB":
        bank, sort_prefix = rng.choice(_GB_BANKS)
        bban = bank + sort_prefix + pick(rng, DIGITS, 4) + pick(rng, DIGITS, 8)
    elif country == "NL":
        bban = rng.choice(_NL_BANKS) + pick(rng, DIGITS, 10)
    elif country == "FR":
        bank, branch = rng.choice(_FR_BANKS), pick(rng, DIGITS, 5)
        account = pick(rng, DIGITS, 11)
        bban = bank + branch + account + _fr_rib_key(bank, branch, account)
    elif country == "ES":
        bank, branch, account = rng.choice(_ES_BANKS), pick(rng, DIGITS, 4), pick(rng, DIGITS, 10)
        bban = bank + branch + _es_control(bank, branch, account) + account
    elif country == "IT":
        rest = rng.choice(_IT_ABI) + pick(rng, DIGITS, 5) + pick(rng, DIGITS, 12)
        bban = _it_cin(rest) + rest
    else:
        raise ValueError(country)
    value = country + _iban_check(country, bban) + bban
    assert iban_ok(value)
    if spaced:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


_CARD_PREFIXES = {
    "visa": (["4"], 16),
    "mc": (["51", "52", "53", "54", "55", "2221", "2367", "2720"], 16),
    "amex": (["34", "37"], 15),
    "discover": (["6011", "644", "65"], 16),
    "jcb": (["3528", "3566", "3589"], 16),
}


def card_digits(rng: random.Random, brand: str) -> str:
    prefixes, length = _CARD_PREFIXES[brand]
    p = rng.choice(prefixes)
    partial = p + pick(rng, DIGITS, length - len(p) - 1)
    return partial + luhn_check_digit(partial)


def group_card(digits: str, sep: str) -> str:
    if sep == "":
        return digits
    if len(digits) == 15:
        parts = [digits[:4], digits[4:10], digits[10:]]
    else:
        parts = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    return sep.join(parts)


def card(rng: random.Random, brand: str = "visa", sep: str = " ") -> str:
    return group_card(card_digits(rng, brand), sep)


def luhn_invalid(rng: random.Random, sep: str = "") -> str:
    while True:
        d = rng.choice("3456") + pick(rng, DIGITS, 15)
        if not luhn_ok(d):
            return group_card(d, sep)


def ssn(rng: random.Random, dashed: bool = True) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    group = rng.randint(1, 99)
    serial = rng.randint(1, 9999)
    s = f"{area:03d}-{group:02d}-{serial:04d}"
    return s if dashed else s.replace("-", "")


# --------------------------------------------------------------------------- identifiers


def uuid4(rng: random.Random) -> str:
    h = hexs(rng, 32)
    h = h[:12] + "4" + h[13:16] + rng.choice("89ab") + h[17:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ns_timestamp(rng: random.Random) -> str:
    # 2023-01-01 .. 2026-06-30 in nanoseconds: 19 digits.
    return str(rng.randint(1672531200, 1782777600) * 10**9 + rng.randint(0, 10**9 - 1))


def order_id(rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"ORD-{rng.randint(2022, 2026)}-{rng.randint(100000, 999999)}"
    if style == 1:
        return str(rng.randint(10**9, 10**12 - 1))
    if style == 2:
        return f"#{rng.randint(100000, 9999999)}"
    return f"SO-{rng.randint(10, 99)}{pick(rng, UPPER, 2)}-{rng.randint(10000, 99999)}"


def request_id(rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return "req_" + pick(rng, ALNUM, 24)
    if style == 1:
        return "req-" + hexs(rng, 16)
    return "msg_01" + pick(rng, ALNUM, 22)


def dotted_version(rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        a, b, c, d = rng.randint(1, 12), rng.randint(0, 20), rng.randint(0, 40), rng.randint(0, 999)
        return f"{a}.{b}.{c}.{d}"
    if style == 1:
        a, b, c, d = rng.randint(1, 9), rng.randint(0, 30), rng.randint(0, 15), rng.randint(1, 99)
        return f"v{a}.{b}.{c}.{d}"
    return f"10.0.{rng.choice([19041, 19045, 22621, 22631, 26100])}.{rng.randint(100, 5000)}"


# --------------------------------------------------------------------------- credentials


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    header = {"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}
    payload = {
        "sub": uuid4(rng),
        "iss": rng.choice(["https://auth.internal", "api", "https://login.example-idp.net/"]),
        "iat": rng.randint(1700000000, 1760000000),
        "scope": rng.choice(["read write", "admin", "openid profile"]),
    }
    payload["exp"] = payload["iat"] + 3600
    sig_len = 43 if header["alg"] == "HS256" else 342
    return ".".join([
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(payload, separators=(",", ":")).encode()),
        pick(rng, URLSAFE, sig_len),
    ])


def pem_private_key(rng: random.Random, escaped: bool = True, lines: int = 6) -> str:
    nl = "\\n" if escaped else "\n"
    body = [pick(rng, B64, 64) for _ in range(lines)]
    body[0] = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + body[0][32:]
    return ("-----BEGIN PRIVATE KEY-----" + nl + nl.join(body) + nl
            + pick(rng, B64, 28) + "=" + nl + "-----END PRIVATE KEY-----" + nl)


def secret(rng: random.Random, kind: str) -> str:  # one branch per vendor format
    if kind == "openai":
        return "sk-proj-" + pick(rng, URLSAFE, 74) + "T3BlbkFJ" + pick(rng, URLSAFE, 74)
    if kind == "openai_legacy":
        return "sk-" + pick(rng, ALNUM, 20) + "T3BlbkFJ" + pick(rng, ALNUM, 20)
    if kind == "anthropic":
        return "sk-ant-api03-" + pick(rng, URLSAFE, 93) + "AA"
    if kind == "aws_akid":
        return rng.choice(["AKIA", "AKIA", "ASIA"]) + pick(rng, B32, 16)
    if kind == "aws_secret":
        return pick(rng, ALNUM + "+/", 40)
    if kind == "stripe":
        return "sk_live_51" + pick(rng, ALNUM, 97)
    if kind == "stripe_short":
        return "sk_live_" + pick(rng, ALNUM, 24)
    if kind == "stripe_rk":
        return "rk_live_51" + pick(rng, ALNUM, 97)
    if kind == "slack_bot":
        return f"xoxb-{rng.randint(10**10, 10**13)}-{rng.randint(10**10, 10**13)}-" + pick(
            rng, ALNUM, 24)
    if kind == "slack_user":
        return (f"xoxp-{rng.randint(10**10, 10**13)}-{rng.randint(10**10, 10**13)}-"
                f"{rng.randint(10**10, 10**13)}-" + hexs(rng, 32))
    if kind == "slack_app":
        return f"xoxa-2-{rng.randint(10**10, 10**13)}-{rng.randint(10**10, 10**13)}-" + hexs(
            rng, 32)
    if kind == "google":
        return "AIza" + pick(rng, URLSAFE, 35)
    if kind == "github":
        return "ghp_" + pick(rng, ALNUM, 36)
    if kind == "github_pat":
        return "github_pat_11" + pick(rng, UPPER + DIGITS, 20) + "_" + pick(rng, ALNUM, 59)
    if kind == "gitlab":
        return "glpat-" + pick(rng, URLSAFE, 20)
    if kind == "npm":
        return "npm_" + pick(rng, ALNUM, 36)
    if kind == "pypi":
        return "pypi-AgEIcHlwaS5vcmc" + pick(rng, URLSAFE, 150)
    if kind == "twilio_sid":
        return "AC" + hexs(rng, 32)
    if kind == "twilio_token":
        return hexs(rng, 32)
    if kind == "sendgrid":
        return "SG." + pick(rng, URLSAFE, 22) + "." + pick(rng, URLSAFE, 43)
    if kind == "azure_key":  # 64 random bytes in base64: the last digit before "==" is A, Q, g or w
        return pick(rng, B64, 85) + rng.choice("AQgw") + "=="
    if kind == "azure_conn":
        account = rng.choice(["stprodeu", "stmlartifacts", "stbackupweu", "stlogsuk"]) + hexs(
            rng, 4)
        return ("DefaultEndpointsProtocol=https;AccountName=" + account + ";AccountKey="
                + pick(rng, B64, 85) + rng.choice("AQgw") + "==;EndpointSuffix=core.windows.net")
    if kind == "jwt":
        return jwt(rng)
    if kind == "bearer":
        return pick(rng, URLSAFE, rng.choice([32, 40, 48]))
    if kind == "hex32":
        return hexs(rng, 32)
    if kind == "hex40":
        return hexs(rng, 40)
    if kind == "token":
        return pick(rng, ALNUM, rng.choice([32, 40, 48]))
    if kind == "password":
        words = ["Tr0ub4dor", "Winter", "Falcon", "Copper", "Lantern", "Maple", "Orbit", "Quartz"]
        return (rng.choice(words) + rng.choice(["!", "#", "$", "%", "&", "*"])
                + str(rng.randint(10, 9999)) + pick(rng, ALNUM, rng.randint(2, 6)))
    if kind == "dsn_password":
        return pick(rng, ALNUM, rng.randint(14, 24))
    if kind == "pem":
        return pem_private_key(rng)
    if kind == "hf":
        return "hf_" + pick(rng, ALNUM, 34)
    raise ValueError(kind)


SECRET_KINDS = [
    "openai", "openai_legacy", "anthropic", "aws_akid", "aws_secret", "stripe", "stripe_short",
    "stripe_rk", "slack_bot", "slack_user", "slack_app", "google", "github", "github_pat",
    "gitlab", "npm", "pypi", "twilio_sid", "twilio_token", "sendgrid", "azure_key", "azure_conn",
    "jwt", "bearer", "hex32", "hex40", "token", "password", "dsn_password", "pem", "hf",
]
