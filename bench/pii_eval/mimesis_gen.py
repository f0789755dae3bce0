"""Test-data generation only: a seeded generator of labelled PII evaluation cases.

This script writes synthetic, made-up records for the PII evaluation set (data/mimesis.jsonl).
Nothing in its output is real: names, streets, towns and companies come from the `mimesis`
package's locale data (en, en-gb, de, fr, es); check-digit numbers (IBANs, card numbers, SSNs)
and vendor-shaped credentials come from synth.py and are random. The templates below were
written for this evaluation from the label semantics in README.md, without looking at the
redactor under test; every record is checked with validate.py's rules as it is generated
(exact offsets, no overlaps, no unlabelled data), and a record that fails is drawn again.

Deterministic for a given seed: every random choice flows from --seed (one random.Random and
mimesis providers seeded from it), never from global state.

    python -m venv /tmp/evalgen-venv && /tmp/evalgen-venv/bin/pip install mimesis==22.2.0
    /tmp/evalgen-venv/bin/python bench/pii_eval/mimesis_gen.py --seed 20261207 --n 1500 \
        --out bench/pii_eval/data/mimesis.jsonl
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import sys
import unicodedata
from dataclasses import dataclass

from mimesis import Address, Datetime, Finance, Internet, Payment, Person
from mimesis.enums import CardType, Gender
from mimesis.locales import Locale

try:
    from . import synth
    from .markup import LOOKALIKE_ALIASES, PII_ALIASES
    from .validate import check_record
except ImportError:  # run as a script from this folder or the repo root
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import synth  # type: ignore[no-redef]
    from markup import LOOKALIKE_ALIASES, PII_ALIASES  # type: ignore[no-redef]
    from validate import check_record  # type: ignore[no-redef]

LOCALES = {
    "en_US": Locale.EN,
    "en_GB": Locale.EN_GB,
    "de_DE": Locale.DE,
    "fr_FR": Locale.FR,
    "es_ES": Locale.ES,
}
LOCALE_WEIGHTS = [("en_US", 27), ("en_GB", 15), ("de_DE", 20), ("fr_FR", 18), ("es_ES", 14),
                  ("mixed", 6)]

TECH_WORDS = [
    "Jenkins", "Julia", "Ruby", "Envoy", "Kafka", "Terraform", "Ansible", "Django", "Rails",
    "Jasmine", "Apollo", "Hermes", "Elastic", "Mercurial", "Cassandra", "Celery", "Flask",
    "Grafana", "Prometheus", "Redis", "Kubernetes", "Helm", "Airflow", "Spark", "Sentry",
    "Tempo", "Loki", "Jaeger", "Nginx", "Pulumi", "Vault", "Consul", "Nomad", "Keycloak",
    "Phoenix", "Elixir", "Crystal", "Pandas", "Jupyter", "Hadoop", "Zookeeper", "Tomcat",
    "Jetty", "Ember", "Svelte", "Astro", "Gatsby", "Hugo", "Jekyll", "Sphinx", "Pyramid",
]
COMPANIES = [
    "Acme Corp", "Stripe", "Datadog", "Siemens", "Carrefour", "Bosch", "Michelin", "Telefónica",
    "Inditex", "Zalando", "Adyen", "Shopify", "Atlassian", "Cloudflare", "Deutsche Bahn",
    "Orange", "Iberdrola", "Tesco", "Sainsbury's", "Barclays", "Globex", "Initech", "Umbrella",
]
MODEL_IDS = [
    "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "o3-mini-2025-01-31",
    "claude-sonnet-4-5", "claude-3-5-haiku-20241022", "claude-3-7-sonnet-20250219",
    "anthropic.claude-3-haiku-20240307-v1:0", "us.meta.llama3-1-70b-instruct-v1:0",
    "mistral-large-2411", "gemini-2.0-flash-001", "amazon.nova-pro-v1:0",
]

EMAIL_DOMAINS = {
    "en_US": ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com",
              "protonmail.com", "comcast.net"],
    "en_GB": ["gmail.com", "btinternet.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com",
              "sky.com"],
    "de_DE": ["web.de", "gmx.de", "t-online.de", "posteo.de", "gmail.com", "mailbox.org"],
    "fr_FR": ["orange.fr", "free.fr", "laposte.net", "gmail.com", "sfr.fr", "wanadoo.fr"],
    "es_ES": ["gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"],
}
PHONE_MASKS = {
    "en_US": ["({a}) ###-####", "{a}-###-####", "+1 {a} ### ####", "{a}.###.####",
              "+1 ({a}) ###-####"],
    "en_GB": ["077## ######", "078## ######", "+44 79## ######", "020 7### ####",
              "0113 ### ####", "0161 ### ####", "+44 (0)117 ### ####"],
    "de_DE": ["+49 30 ########", "030 #######", "0151 ########", "0171 #######",
              "+49 171 #######", "089 #######", "+49 (0)221 #######", "040 ########"],
    "fr_FR": ["06 ## ## ## ##", "07 ## ## ## ##", "+33 6 ## ## ## ##", "01 ## ## ## ##",
              "04 ## ## ## ##", "+33 1 ## ## ## ##"],
    "es_ES": ["6## ### ###", "+34 6## ## ## ##", "91# ### ###", "+34 93# ## ## ##",
              "7## ## ## ##", "6########"],
}
US_AREA = ["201", "212", "213", "305", "312", "404", "415", "503", "512", "617", "646", "702",
           "713", "720", "773", "808", "917", "971", "414", "612"]
GB_AREAS = ["LS", "M", "B", "G", "EH", "CF", "BS", "NE", "SW", "N", "E", "OX", "CB", "YO", "HG",
            "BA", "EX", "PL", "L", "S", "NW", "SE", "BT"]

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"],
}

# Per-locale words for the forms and conversations below.
L = {
    "en_US": dict(
        name="Name", dob="Date of birth", address="Address", phone="Phone", email="Email",
        iban="IBAN", appt="Appointment", start="Start date", patient="Patient",
        emergency="Emergency contact", hr_title="EMPLOYEE INFORMATION FORM",
        med_title="NEW PATIENT INTAKE", hello="Hi", thanks="Thanks,", regards="Best regards,",
        agent="Agent", customer="Customer", born="born", ssn="SSN",
    ),
    "en_GB": dict(
        name="Full name", dob="Date of birth", address="Home address", phone="Mobile",
        email="Email", iban="IBAN", appt="Appointment", start="Start date", patient="Patient",
        emergency="Next of kin", hr_title="NEW STARTER FORM", med_title="PATIENT REGISTRATION",
        hello="Hi", thanks="Cheers,", regards="Kind regards,", agent="Adviser",
        customer="Caller", born="born", ssn="SSN",
    ),
    "de_DE": dict(
        name="Name", dob="Geburtsdatum", address="Anschrift", phone="Telefon", email="E-Mail",
        iban="IBAN", appt="Termin", start="Eintrittsdatum", patient="Patient/in",
        emergency="Notfallkontakt", hr_title="PERSONALBOGEN", med_title="ANAMNESEBOGEN",
        hello="Hallo", thanks="Danke,", regards="Viele Grüße", agent="Mitarbeiter",
        customer="Kunde", born="geboren am", ssn="SSN",
    ),
    "fr_FR": dict(
        name="Nom", dob="Date de naissance", address="Adresse", phone="Téléphone",
        email="Courriel", iban="IBAN", appt="Rendez-vous", start="Date d'embauche",
        patient="Patient", emergency="Personne à prévenir", hr_title="FICHE SALARIÉ",
        med_title="DOSSIER D'ADMISSION", hello="Bonjour", thanks="Merci,",
        regards="Cordialement,", agent="Conseiller", customer="Client", born="né le",
        ssn="SSN",
    ),
    "es_ES": dict(
        name="Nombre", dob="Fecha de nacimiento", address="Domicilio", phone="Teléfono",
        email="Correo", iban="IBAN", appt="Cita", start="Fecha de alta", patient="Paciente",
        emergency="Contacto de emergencia", hr_title="FICHA DE EMPLEADO",
        med_title="HOJA DE INGRESO", hello="Hola", thanks="Gracias,", regards="Un saludo,",
        agent="Agente", customer="Cliente", born="nacido el", ssn="SSN",
    ),
}
IBAN_COUNTRY = {"en_US": ["GB", "NL", "DE"], "en_GB": ["GB"], "de_DE": ["DE"], "fr_FR": ["FR"],
                "es_ES": ["ES"]}


def ascii_fold(s: str) -> str:
    s = s.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("œ", "oe")
    s = s.replace("ł", "l").replace("\u0131", "i").replace("Ø", "O")
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9]+", "", s)


@dataclass
class Someone:
    first: str
    last: str
    female: bool
    locale: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


class Doc:
    """Text assembled from plain parts and labelled parts; {{ALIAS:key}} in fmt()."""

    _PH = re.compile(r"\{\{(\w*):(\w+)\}\}")

    def __init__(self) -> None:
        self.parts: list[tuple[str, str | None, str | None]] = []

    def t(self, s: str) -> Doc:
        self.parts.append((s, None, None))
        return self

    def fmt(self, template: str, **values: str) -> Doc:
        pos = 0
        for m in self._PH.finditer(template):
            if m.start() > pos:
                self.t(template[pos:m.start()])
            alias, key = m.groups()
            value = values[key]
            if alias == "":
                self.t(value)
            elif alias in PII_ALIASES:
                self.parts.append((value, "pii", PII_ALIASES[alias]))
            elif alias in LOOKALIKE_ALIASES:
                self.parts.append((value, "look", LOOKALIKE_ALIASES[alias]))
            else:
                raise ValueError(alias)
            pos = m.end()
        self.t(template[pos:])
        return self

    def render(self) -> tuple[str, list[dict], list[dict]]:
        text, pii, look = [], [], []
        n = 0
        for value, kind, name in self.parts:
            if kind == "pii":
                pii.append({"type": name, "value": value, "start": n, "end": n + len(value)})
            elif kind == "look":
                look.append({"class": name, "value": value, "start": n, "end": n + len(value)})
            text.append(value)
            n += len(value)
        return "".join(text), pii, look


class World:
    """All random sources for one run, seeded from --seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.person = {k: Person(v, seed=seed + i) for i, (k, v) in enumerate(LOCALES.items())}
        self.addr = {k: Address(v, seed=seed + 10 + i) for i, (k, v) in enumerate(LOCALES.items())}
        self.fin = {k: Finance(v, seed=seed + 20 + i) for i, (k, v) in enumerate(LOCALES.items())}
        self.dt = Datetime(seed=seed + 30)
        self.net = Internet(seed=seed + 31)
        self.pay = Payment(seed=seed + 32)

    # ---- people and contact data
    def someone(self, loc: str) -> Someone:
        female = self.rng.random() < 0.5
        g = Gender.FEMALE if female else Gender.MALE
        p = self.person[loc]
        first = p.first_name(g)
        last = p.last_name(g)
        if loc == "es_ES" and self.rng.random() < 0.6:
            last = f"{last} {p.last_name(g)}"
        if loc in ("de_DE", "fr_FR") and self.rng.random() < 0.08:
            last = f"{last}-{p.last_name(g)}"
        return Someone(first, last, female, loc)

    def email(self, who: Someone) -> str:
        f, l_ = ascii_fold(who.first).lower(), ascii_fold(who.last).lower()
        style = self.rng.randrange(5)
        local = [f"{f}.{l_}", f"{f[0]}{l_}", f"{f}{l_}{self.rng.randint(1, 99)}", f"{l_}.{f}",
                 f"{f}_{l_}"][style]
        return f"{local}@{self.rng.choice(EMAIL_DOMAINS[who.locale])}"

    def phone(self, loc: str) -> str:
        mask = self.rng.choice(PHONE_MASKS[loc]).replace("{a}", self.rng.choice(US_AREA))
        return self.person[loc].telephone(mask=mask)

    def gb_postcode(self) -> str:
        units = "ABDEFGHJLNPQRSTUWXYZ"
        return (f"{self.rng.choice(GB_AREAS)}{self.rng.randint(1, 20)} {self.rng.randint(1, 9)}"
                f"{self.rng.choice(units)}{self.rng.choice(units)}")

    def street(self, loc: str) -> str:
        a, r = self.addr[loc], self.rng
        if loc == "de_DE":
            num = f"{r.randint(1, 140)}{r.choice(['', '', '', 'a', 'b'])}"
            name = a.street_name()
            while len(name) > 28 or re.search(r"[\d(/]| - ", name):
                name = a.street_name()
            return f"{name} {num}"
        if loc == "fr_FR":
            name = " ".join(w.lower() if w in {"De", "Du", "Des", "La", "Le", "Les"} else w
                            for w in a.street_name().split())
            kind = r.choice(["rue", "rue", "avenue", "boulevard", "allée", "impasse", "chemin",
                             "place", "quai"])
            num = f"{r.randint(1, 120)}{r.choice(['', '', '', ' bis', ' ter'])}"
            sep = r.choice([", ", " "])
            return f"{num}{sep}{kind} {name}"
        if loc == "es_ES":
            name = a.street_name()
            if not re.match(r"(Calle|Rúa|Rua|Avenida|Paseo|Plaza|Camino|Carrer)\b", name):
                name = f"{r.choice(['Calle', 'Avenida', 'Paseo de'])} {name}"
            floor = r.choice(["", "", f", {r.randint(1, 8)}.º {r.choice(['A', 'B', 'C', 'izq.'])}"])
            return f"{name}{r.choice([' ', ', '])}{r.randint(1, 180)}{floor}"
        num = str(r.randint(1, 9800) if loc == "en_US" else r.randint(1, 240))
        line = f"{num} {a.street_name()} {a.street_suffix()}"
        if loc == "en_US" and r.random() < 0.25:
            line += f", {r.choice(['Apt', 'Unit', 'Suite'])} {r.randint(1, 40)}{r.choice('ABC ')}"
            line = line.rstrip()
        if loc == "en_GB" and r.random() < 0.2:
            line = f"Flat {r.randint(1, 12)}, {line}"
        return line

    def town_line(self, loc: str) -> str:
        a = self.addr[loc]
        if loc == "en_US":
            return f"{a.city()}, {a.state(abbr=True)} {a.postal_code()}"
        if loc == "en_GB":
            return f"{a.city()} {self.gb_postcode()}"
        return f"{a.postal_code()} {a.city()}"

    def full_address(self, loc: str) -> str:
        sep = "\n" if self.rng.random() < 0.25 else ", "
        return self.street(loc) + sep + self.town_line(loc)

    def birth_date(self):
        return self.dt.date(start=1938, end=2006)

    def fmt_date(self, d, loc: str, style: int | None = None) -> str:
        r = self.rng
        lang = loc[:2]
        style = r.randrange(4) if style is None else style
        if style == 0:
            return d.isoformat()
        if lang == "en":
            if style == 1:
                return d.strftime("%m/%d/%Y") if loc == "en_US" else d.strftime("%d/%m/%Y")
            if style == 2:
                m = MONTHS["en"][d.month - 1]
                return f"{m} {d.day}, {d.year}" if loc == "en_US" else f"{d.day} {m} {d.year}"
            if loc == "en_US":
                return f"{d.month}/{d.day}/{d.year}"
            return f"{d.day:02d}.{d.month:02d}.{d.year}"
        if lang == "de":
            if style == 1:
                return d.strftime("%d.%m.%Y")
            if style == 2:
                return f"{d.day}. {MONTHS['de'][d.month - 1]} {d.year}"
            return f"{d.day}.{d.month}.{d.year}"
        if lang == "fr":
            if style == 1:
                return d.strftime("%d/%m/%Y")
            day = "1er" if d.day == 1 else str(d.day)
            if style == 2:
                return f"{day} {MONTHS['fr'][d.month - 1]} {d.year}"
            return d.strftime("%d.%m.%Y")
        if style == 1:
            return d.strftime("%d/%m/%Y")
        if style == 2:
            return f"{d.day} de {MONTHS['es'][d.month - 1]} de {d.year}"
        return d.strftime("%d-%m-%Y")

    def event_date(self, loc: str, iso: bool = False) -> str:
        """A date that is not anybody's birth date: appointment, timestamp, deadline."""
        d = self.dt.date(start=2023, end=2026)
        if iso or self.rng.random() < 0.3:
            t = self.dt.datetime(start=2023, end=2026)
            millis = f".{self.rng.randint(0, 999):03d}Z"
            return t.strftime("%Y-%m-%dT%H:%M:%S") + self.rng.choice(["Z", "+01:00", millis])
        return self.fmt_date(d, loc)

    def iban(self, loc: str, spaced: bool | None = None) -> str:
        country = self.rng.choice(IBAN_COUNTRY.get(loc, ["DE", "FR", "ES", "NL", "IT", "GB"]))
        return synth.iban(self.rng, country, self.rng.random() < 0.5 if spaced is None else spaced)

    def card(self) -> str:
        kind = self.rng.choice([CardType.VISA, CardType.MASTER_CARD, CardType.AMERICAN_EXPRESS])
        number = self.pay.credit_card_number(kind)
        digits = number.replace(" ", "")
        if not synth.luhn_ok(digits):
            digits = synth.card_digits(self.rng, "visa")
        return synth.group_card(digits, self.rng.choice([" ", " ", "-", ""]))

    def ip(self) -> str:
        for _ in range(100):
            if self.rng.random() < 0.7:
                v = self.net.ip_v4()
            else:
                # a global-unicast prefix of the kind ISPs hand to homes, random below it
                head = self.rng.choice(["2a02", "2a01", "2600", "2601", "2003", "2a00", "2605",
                                        "2804", "2406", "2001"])
                v = head + ":" + self.net.ip_v6().split(":", 1)[1]
                if v.startswith("2001:db8") or v.startswith("2001:0db8"):
                    continue
            a = ipaddress.ip_address(v)
            if a.is_global and not a.is_multicast:
                return a.compressed if a.version == 6 and self.rng.random() < 0.5 else v
        raise AssertionError("no public address drawn")

    def company(self, loc: str) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(COMPANIES)
        return self.fin[loc].company()

    def tech(self, k: int = 1) -> list[str]:
        return self.rng.sample(TECH_WORDS, k)


# --------------------------------------------------------------------------- templates
# Each template takes (world, locale) and returns (kind, Doc). "mixed" cases pick people from
# several locales inside one text.


def t_hr_form(w: World, loc: str):
    p, lb = w.someone(loc), L[loc]
    d = Doc().t(lb["hr_title"] + "\n")
    order = w.rng.random() < 0.5
    if order:
        d.fmt(f"{lb['name']}: {{{{P:n}}}}\n", n=p.full)
    else:
        d.fmt("{{P:last}}, {{P:first}}\n", last=p.last, first=p.first)
    d.fmt(f"{lb['dob']}: {{{{DOB:dob}}}}\n", dob=w.fmt_date(w.birth_date(), loc))
    d.fmt(f"{lb['address']}: {{{{ADDR:a}}}}\n", a=w.full_address(loc))
    d.fmt(f"{lb['phone']}: {{{{PH:ph}}}}\n", ph=w.phone(loc))
    d.fmt(f"{lb['email']}: {{{{E:e}}}}\n", e=w.email(p))
    if loc == "en_US":
        d.fmt(f"{lb['ssn']}: {{{{SSN:s}}}}\n", s=synth.ssn(w.rng, w.rng.random() < 0.6))
    else:
        d.fmt(f"{lb['iban']}: {{{{IBAN:i}}}}\n", i=w.iban(loc))
    d.fmt(f"{lb['start']}: {{{{date:s}}}}", s=w.fmt_date(w.dt.date(start=2024, end=2026), loc))
    return "hr_form", d


def t_medical(w: World, loc: str):
    p, kin, lb = w.someone(loc), w.someone(loc), L[loc]
    kin.last = p.last if w.rng.random() < 0.6 else kin.last
    d = Doc().t(lb["med_title"] + "\n")
    d.fmt(f"{lb['patient']}: {{{{P:n}}}}\n", n=p.full)
    d.fmt(f"{lb['dob']}: {{{{DOB:dob}}}}\n", dob=w.fmt_date(w.birth_date(), loc))
    d.fmt(f"{lb['phone']}: {{{{PH:ph}}}}\n", ph=w.phone(loc))
    if w.rng.random() < 0.6:
        d.fmt(f"{lb['address']}: {{{{ADDR:a}}}}\n", a=w.full_address(loc))
    d.fmt(f"{lb['emergency']}: {{{{P:k}}}}, {{{{PH:kp}}}}\n", k=kin.full, kp=w.phone(loc))
    d.fmt(f"{lb['appt']}: {{{{date:a}}}}", a=w.event_date(loc))
    return "medical_intake", d


SUPPORT = {
    "en_US": ("Thanks for calling, this is {agent}. Who am I speaking with?",
              "Hi, it's {full}. My package never showed up.",
              "Sorry about that, {first}. Can you confirm the delivery address?",
              "Thanks. Order {order} was scanned on {date}. I'll reship it today, {first}."),
    "en_GB": ("Good morning, you're through to {agent}. Can I take your name?",
              "Morning, it's {full}, I'm ringing about a missing parcel.",
              "Thanks {first}, and the first line of the address?",
              "Lovely. Order {order} left the depot on {date}, I'll chase it for you."),
    "de_DE": ("Guten Tag, Sie sprechen mit {agent}. Mit wem spreche ich?",
              "Hallo, hier ist {full}. Mein Paket ist nicht angekommen.",
              "Das tut mir leid. Wie lautet die Lieferadresse?",
              "Danke. Bestellung {order} wurde am {date} verschickt, ich kümmere mich darum."),
    "fr_FR": ("Bonjour, {agent} à votre écoute. À qui ai-je l'honneur ?",
              "Bonjour, {full}. Mon colis n'est jamais arrivé.",
              "Je suis désolé. Pouvez-vous me confirmer l'adresse de livraison ?",
              "Merci. La commande {order} est partie le {date}, je relance le transporteur."),
    "es_ES": ("Buenos días, le atiende {agent}. ¿Con quién hablo?",
              "Hola, soy {full}. Mi pedido no ha llegado.",
              "Lo siento mucho, {first}. ¿Me confirma la dirección de entrega?",
              "Gracias. El pedido {order} salió el {date}; lo reclamo ahora mismo."),
}


def _fill(d: Doc, sentence: str, values: dict[str, tuple[str, str]]) -> None:
    """Writes a sentence with {slots}; values maps slot -> (alias, value)."""
    pos = 0
    for m in re.finditer(r"\{(\w+)\}", sentence):
        d.t(sentence[pos:m.start()])
        alias, value = values[m.group(1)]
        d.fmt("{{" + alias + ":v}}", v=value)
        pos = m.end()
    d.t(sentence[pos:])


def t_support(w: World, loc: str):
    agent, cust, lb = w.someone(loc), w.someone(loc), L[loc]
    s = SUPPORT[loc]
    vals = {"agent": ("P", agent.first), "full": ("P", cust.full), "first": ("P", cust.first),
            "order": ("ord", synth.order_id(w.rng)), "date": ("date", w.event_date(loc))}
    d = Doc()
    for who, sent in zip([lb["agent"], lb["customer"], lb["agent"]], s[:3], strict=True):
        d.t(f"{who}: ")
        _fill(d, sent, vals)
        d.t("\n")
    d.fmt(f"{lb['customer']}: {{{{ADDR:a}}}}\n", a=w.full_address(loc).replace("\n", ", "))
    d.t(f"{lb['agent']}: ")
    _fill(d, s[3], vals)
    return "support_transcript", d


EMAIL_BODY = {
    "en_US": "thanks for your message. I've updated your mailing address to {addr}. If anything "
             "else changes you can reach me at {phone}.",
    "en_GB": "thanks for getting in touch. Your new address, {addr}, is now on file. Give me a "
             "ring on {phone} if anything looks wrong.",
    "de_DE": "vielen Dank für Ihre Nachricht. Ihre neue Anschrift {addr} ist hinterlegt. Bei "
             "Fragen erreichen Sie mich unter {phone}.",
    "fr_FR": "merci pour votre message. Votre nouvelle adresse, {addr}, a bien été enregistrée. "
             "Vous pouvez me joindre au {phone}.",
    "es_ES": "gracias por tu mensaje. Ya he actualizado tu dirección a {addr}. Si necesitas algo "
             "más, llámame al {phone}.",
}


def t_email(w: World, loc: str):
    to, frm, lb = w.someone(loc), w.someone(loc), L[loc]
    d = Doc().fmt(f"{lb['hello']} {{{{P:f}}}},\n\n", f=to.first)
    _fill(d, EMAIL_BODY[loc], {"addr": ("ADDR", w.full_address(loc).replace("\n", ", ")),
                               "phone": ("PH", w.phone(loc))})
    d.fmt(f"\n\n{lb['regards']}\n{{{{P:n}}}}\n{{{{E:e}}}}", n=frm.full, e=w.email(frm))
    return "email", d


def t_commit(w: World, loc: str):
    a, b = w.someone(loc), w.someone(loc)
    t1, t2 = w.tech(2)
    when = w.dt.datetime(start=2023, end=2026)
    d = Doc().fmt("commit {{sha:s}}\n", s=synth.hexs(w.rng, 40))
    d.fmt("Author: {{P:n}} <{{E:e}}>\n", n=a.full, e=w.email(a))
    d.fmt("Date:   {{date:d}}\n\n", d=when.strftime("%a %b %d %H:%M:%S %Y +0100"))
    d.fmt("    Migrate {{tw:t1}} jobs to {{tw:t2}}\n\n", t1=t1, t2=t2)
    d.fmt("    Co-authored-by: {{P:n}} <{{E:e}}>", n=b.full, e=w.email(b))
    return "commit_log", d


def t_py_fixture(w: World, loc: str):
    people = [w.someone(loc) for _ in range(w.rng.randint(2, 3))]
    d = Doc().t("@pytest.fixture\ndef users():\n    return [\n")
    for p in people:
        d.fmt("        User(name='{{P:n}}', email='{{E:e}}', phone='{{PH:ph}}'),\n",
              n=p.full, e=w.email(p), ph=w.phone(loc))
    d.t("    ]")
    return "code", d


def t_js_test(w: World, loc: str):
    p, lb = w.someone(loc), L[loc]
    dob = w.birth_date()
    d = Doc().t("it('greets the member by first name', () => {\n")
    d.fmt("  const m = { first: \"{{P:f}}\", last: \"{{P:l}}\", birthDate: \"{{DOB:b}}\" };\n",
          f=p.first, l=p.last, b=dob.isoformat())
    d.fmt(f"  expect(greet(m)).toBe(\"{lb['hello']} {{{{P:f}}}}\");\n}});", f=p.first)
    return "code", d


JSON_KEYS = [("full_name", "email", "phone", "address", "dob"),
             ("customer", "email", "phone", "street", "birth_date"),
             ("holder", "email", "mobile", "address", "date_of_birth"),
             ("patient", "contact_email", "phone", "home_address", "dob")]


def t_tool_json(w: World, loc: str):
    p = w.someone(loc)
    k = w.rng.choice(JSON_KEYS)
    d = Doc().fmt('{"tool": "{{:tool}}", "result": {', tool=w.rng.choice(
        ["crm.get_contact", "lookup_customer", "patients.find", "accounts.read"]))
    d.fmt(f'"{k[0]}": "{{{{P:n}}}}", "{k[1]}": "{{{{E:e}}}}", "{k[2]}": "{{{{PH:ph}}}}", ',
          n=p.full, e=w.email(p), ph=w.phone(loc))
    addr = w.street(loc) if k[3] == "street" else w.full_address(loc).replace("\n", ", ")
    d.fmt(f'"{k[3]}": "{{{{ADDR:a}}}}", "{k[4]}": "{{{{DOB:b}}}}", ', a=addr,
          b=w.birth_date().isoformat())
    extra = w.rng.randrange(3)
    if extra == 0:
        d.fmt('"iban": "{{IBAN:i}}", ', i=w.iban(loc, spaced=False))
    elif extra == 1 and loc == "en_US":
        d.fmt('"ssn": "{{SSN:s}}", ', s=synth.ssn(w.rng))
    d.fmt('"updated_at": "{{date:u}}"}, "request_id": "{{req:r}}"}',
          u=w.event_date(loc), r=synth.request_id(w.rng))
    return "tool_json", d


def t_email_keys(w: World, loc: str):
    people = [w.someone(w.rng.choice(list(LOCALES))) for _ in range(w.rng.randint(2, 4))]
    d = Doc().t('{"balances": {')
    for i, p in enumerate(people):
        d.fmt('"{{E:e}}": {{:v}}', e=w.email(p), v=f"{w.rng.uniform(-200, 900):.2f}")
        if i < len(people) - 1:
            d.t(", ")
    d.fmt('}, "as_of": "{{date:a}}"}', a=w.event_date(loc))
    return "tool_json", d


def t_py_stack(w: World, loc: str):
    p = w.someone(loc)
    d = Doc().t("Traceback (most recent call last):\n"
                '  File "/srv/app/accounts/service.py", line 211, in update_profile\n'
                "    validate(profile)\n"
                '  File "/srv/app/accounts/validation.py", line 58, in validate\n'
                '    raise ValidationError(f"bad phone for {profile.name}: {profile.phone}")\n')
    d.fmt("accounts.validation.ValidationError: bad phone for {{P:n}}: {{PH:ph}}\n",
          n=p.full, ph=w.phone(loc))
    d.fmt("trace_id={{trace:t}} span_id={{span:s}}", t=synth.hexs(w.rng, 32),
          s=synth.hexs(w.rng, 16))
    return "stack_trace", d


def t_java_stack(w: World, loc: str):
    p = w.someone(loc)
    d = Doc().fmt('java.lang.IllegalStateException: duplicate account for "{{E:e}}" '
                  "(owner {{P:n}}, card {{CC:c}})\n", e=w.email(p), n=p.full, c=w.card())
    d.t("\tat com.example.billing.AccountService.create(AccountService.java:118)\n"
        "\tat com.example.billing.api.AccountController.post(AccountController.java:64)\n")
    d.fmt("\t... 42 more (service {{ver:v}}, request {{req:r}})", v=synth.dotted_version(w.rng),
          r=synth.request_id(w.rng))
    return "stack_trace", d


def t_json_log(w: World, loc: str):
    p = w.someone(loc)
    lines = Doc()
    t = synth.hexs(w.rng, 32)
    e, ip = w.email(p), w.ip()
    for msg, status in (("login attempt", "401"), ("login ok", "200")):
        lines.fmt('{"ts": "{{date:d}}", "msg": "{{:m}}", "user": "{{E:e}}", '
                  '"client_ip": "{{IP:ip}}", "status": {{port:s}}, "trace_id": "{{trace:t}}", '
                  '"time_unix_nano": {{ns:n}}}\n', d=w.event_date("en_US", iso=True), m=msg,
                  e=e, ip=ip, s=status, t=t,
                  n=synth.ns_timestamp(w.rng))
    lines.parts[-1] = (lines.parts[-1][0].rstrip("\n"), None, None)
    return "log", lines


def t_access_log(w: World, loc: str):
    ip = w.ip()
    p = w.someone(loc)
    when = w.dt.datetime(start=2024, end=2026).strftime("%d/%b/%Y:%H:%M:%S +0000")
    d = Doc().fmt('{{lb:lo}} - - [{{date:w}}] "GET /healthz HTTP/1.1" {{port:s}} 2\n',
                  lo="127.0.0.1", w=when, s="200")
    d.fmt('{{IP:ip}} - - [{{date:w}}] "GET /api/account?email={{E:e}} HTTP/1.1" {{port:s}} 734',
          ip=ip, w=when, e=w.email(p), s=w.rng.choice(["200", "304", "404"]))
    return "log", d


def t_env_file(w: World, loc: str):
    r = w.rng
    d = Doc().t("# .env — local overrides, not for git\n")
    choices = [("OPENAI_API_KEY", "openai"), ("ANTHROPIC_API_KEY", "anthropic"),
               ("STRIPE_SECRET_KEY", "stripe"), ("STRIPE_RESTRICTED_KEY", "stripe_rk"),
               ("SLACK_BOT_TOKEN", "slack_bot"), ("GOOGLE_API_KEY", "google"),
               ("GITHUB_TOKEN", "github"), ("GITLAB_TOKEN", "gitlab"), ("NPM_TOKEN", "npm"),
               ("SENDGRID_API_KEY", "sendgrid"), ("TWILIO_AUTH_TOKEN", "twilio_token"),
               ("AZURE_STORAGE_KEY", "azure_key"), ("SESSION_SECRET", "token"),
               ("PYPI_TOKEN", "pypi"), ("GH_PAT", "github_pat"), ("SLACK_USER_TOKEN", "slack_user")]
    for name, kind in r.sample(choices, r.randint(2, 4)):
        d.fmt(f"{name}={{{{S:s}}}}\n", s=synth.secret(r, kind))
    d.fmt("DATABASE_URL=postgres://app:{{S:pw}}@{{lb:h}}:{{port:p}}/app\n",
          pw=synth.secret(r, "dsn_password"), h="localhost", p="5432")
    d.fmt("SENTRY_DSN={{env:e}}\nOTEL_EXPORTER_OTLP_ENDPOINT=http://{{lb:h}}:{{port:p}}",
          e="${SENTRY_DSN}", h=r.choice(["127.0.0.1", "localhost", "0.0.0.0"]), p="4318")
    return "config", d


def t_aws_code(w: World, loc: str):
    p = w.someone(loc)
    d = Doc().fmt("# uploader.py — temporary, ask {{P:f}} before changing\n", f=p.first)
    d.fmt('aws_config = {"key": "{{S:k}}", "sec": "{{S:s}}", "region": "eu-west-1"}\n',
          k=synth.secret(w.rng, "aws_akid"), s=synth.secret(w.rng, "aws_secret"))
    d.t('s3 = boto3.client("s3", aws_access_key_id=aws_config["key"], '
        'aws_secret_access_key=aws_config["sec"])')
    return "code", d


def t_curl(w: World, loc: str):
    p = w.someone(loc)
    kind = w.rng.choice(["openai", "anthropic", "jwt", "bearer"])
    model = w.rng.choice(MODEL_IDS)
    d = Doc().t("curl -s https://llm-gateway.example.net/v1/chat/completions \\\n")
    d.fmt('  -H "Authorization: Bearer {{S:k}}" \\\n', k=synth.secret(w.rng, kind))
    d.fmt('  -d \'{"model": "{{model:m}}", "messages": [{"role": "user", "content": '
          '"Write a thank-you note to {{P:n}} at {{E:e}}"}]}\'', m=model, n=p.full, e=w.email(p))
    return "curl", d


def t_url(w: World, loc: str):
    p = w.someone(loc)
    r = w.rng
    f, l_ = ascii_fold(p.first), ascii_fold(p.last)
    style = r.randrange(4)
    if style == 0:
        url = (f"https://forms.{r.choice(['clinicaltrials', 'signup', 'events'])}-portal.com/"
               f"register?first_name={f}&last_name={l_}&dob={w.birth_date().isoformat()}")
    elif style == 1:
        url = (f"https://mail.newsletter-hub.net/unsubscribe?email="
               f"{w.email(p).replace('@', '%40')}&list={r.randint(10, 99)}")
    elif style == 2:
        url = (f"https://www.linkedin.com/in/{f.lower()}-{l_.lower()}-"
               f"{synth.hexs(r, r.choice([6, 8]))}")
    else:
        url = (f"https://crm.example-shop.com/customers/search?name={f}+{l_}"
               f"&phone=%2B{r.randint(10**10, 10**11)}")
    lead = {"en_US": "Is this link safe to share?", "en_GB": "The link in the email was",
            "de_DE": "Der Link lautet", "fr_FR": "Voici le lien :", "es_ES": "El enlace es"}[loc]
    d = Doc().fmt(f"{lead} {{{{URL:u}}}}", u=url)
    if r.random() < 0.5:
        d.fmt(" (opened from {{tw:t}} on build {{ver:v}})", t=w.tech()[0],
              v=synth.dotted_version(r))
    return "url", d


CHAT_REQ = {
    "en_US": ("Can you write a short letter to my landlord? I'm {full}, my apartment is {addr}. "
              "The heating has been broken since {date}.",
              "Of course, {first}. Here's a draft:"),
    "en_GB": ("Could you draft a complaint to the council? I'm {full} and I live at {addr}. "
              "The bins haven't been collected since {date}.",
              "Certainly, {first}. Here's a draft:"),
    "de_DE": ("Kannst du mir einen Brief an meine Hausverwaltung schreiben? Ich bin {full}, "
              "Wohnung {addr}. Die Heizung ist seit {date} kaputt.",
              "Gern, {first}. Hier ein Entwurf:"),
    "fr_FR": ("Peux-tu écrire une lettre à mon propriétaire ? Je m'appelle {full}, j'habite "
              "{addr}. Le chauffage est en panne depuis le {date}.",
              "Bien sûr, {first}. Voici une proposition :"),
    "es_ES": ("¿Me ayudas a escribir una carta a mi casero? Soy {full} y vivo en {addr}. La "
              "calefacción no funciona desde el {date}.",
              "Claro, {first}. Aquí tienes un borrador:"),
}


def t_chat_letter(w: World, loc: str):
    p = w.someone(loc)
    vals = {"full": ("P", p.full), "first": ("P", p.first),
            "addr": ("ADDR", w.full_address(loc).replace("\n", ", ")),
            "date": ("date", w.fmt_date(w.dt.date(start=2024, end=2026), loc))}
    q, a = CHAT_REQ[loc]
    d = Doc().t("user: ")
    _fill(d, q, vals)
    d.t("\nassistant: ")
    _fill(d, a, vals)
    d.fmt(f"\n\n...\n{L[loc]['regards']}\n{{{{P:n}}}}", n=p.full)
    return "multi_turn", d


def t_card_chat(w: World, loc: str):
    p = w.someone(loc)
    d = Doc().fmt("user: my card {{CC:c}} was declined but {{luhn:b}} (the old one) also fails. "
                  "Name on the card is {{P:n}}.\n", c=w.card(), b=synth.luhn_invalid(
                      w.rng, w.rng.choice(["", " ", "-"])), n=p.full)
    d.fmt("assistant: The second number fails the checksum, so it was probably mistyped. For the "
          "first one, {{P:f}}, call your bank: the decline comes from the issuer.", f=p.first)
    return "chat", d


def t_ssn_chat(w: World, loc: str):
    p = w.someone("en_US")
    dob = w.fmt_date(w.birth_date(), "en_US")
    s = synth.ssn(w.rng, dashed=w.rng.random() < 0.4)
    d = Doc().fmt("user: Please double-check this before I submit: name {{P:n}}, SSN {{SSN:s}}, "
                  "born {{DOB:b}}.", n=p.full, s=s, b=dob)
    d.fmt("\nassistant: The SSN has nine digits and the date is valid, {{P:f}}. I'd avoid "
          "pasting the full SSN into chats in future.", f=p.first)
    return "chat", d


def t_code_review(w: World, loc: str):
    p, rev = w.someone(loc), w.someone(loc)
    d = Doc().t("diff --git a/app/settings.py b/app/settings.py\n@@ -8,3 +8,3 @@\n")
    d.fmt('-SUPPORT_CONTACT = "{{P:n}} <{{E:e}}>"\n', n=p.full, e=w.email(p))
    d.t('+SUPPORT_CONTACT = os.environ["SUPPORT_CONTACT"]\n\n')
    d.fmt("{{P:r}}: good catch, that was {{P:f}}'s personal address. Also bump {{tw:t}} to "
          "{{ver:v}} while you're here.", r=rev.full, f=p.first, t=w.tech()[0],
          v=synth.dotted_version(w.rng))
    return "code_review", d


def t_csv(w: World, loc: str):
    d = Doc().t("name,email,phone,city\n")
    n = w.rng.randint(2, 4)
    for i in range(n):
        p = w.someone(loc)
        d.fmt("{{P:n}},{{E:e}},{{PH:ph}},{{:c}}", n=p.full, e=w.email(p), ph=w.phone(loc),
              c=w.addr[loc].city())
        if i < n - 1:
            d.t("\n")
    return "csv", d


def t_vendor_code(w: World, loc: str):
    p = w.someone(loc)
    r = w.rng
    style = r.randrange(6)
    d = Doc()
    if style == 0:
        d.fmt('client = WebClient(token="{{S:t}}")\nclient.chat_postMessage(channel="#ops", '
              'text="{{tw:tw}} deploy failed, paging {{P:n}}")', t=synth.secret(r, "slack_bot"),
              tw=w.tech()[0], n=p.full)
    elif style == 1:
        d.fmt('const twilio = require("twilio")("{{S:sid}}", "{{S:tok}}");\n'
              'await twilio.messages.create({ to: "{{PH:ph}}", from: {{env:frm}}, body: '
              '"Hi {{P:f}}, your order has shipped" });', sid=synth.secret(r, "twilio_sid"),
              tok=synth.secret(r, "twilio_token"), ph=w.phone(loc),
              frm="process.env.TWILIO_FROM", f=p.first)
    elif style == 2:
        d.fmt('sg = SendGridAPIClient("{{S:k}}")\nsg.send(Mail(to_emails="{{E:e}}", '
              'subject="Welcome, {{P:f}}!"))', k=synth.secret(r, "sendgrid"), e=w.email(p),
              f=p.first)
    elif style == 3:
        d.fmt('{"type": "service_account", "project_id": "data-{{:pid}}", "private_key": '
              '"{{S:k}}", "token_uri": "https://oauth2.googleapis.com/token"}\n'
              "# owner: {{P:n}}", pid=str(r.randint(1000, 9999)), k=synth.pem_private_key(r),
              n=p.full)
    elif style == 4:
        d.fmt('BLOB_CONN = "{{S:c}}"\n# rotated by {{P:n}} on {{date:d}}',
              c=synth.secret(r, "azure_conn"), n=p.full, d=w.event_date(loc))
    else:
        d.fmt('stripe.api_key = "{{S:k}}"\nstripe.Customer.create(name="{{P:n}}", '
              'email="{{E:e}}")', k=synth.secret(r, r.choice(["stripe", "stripe_short"])),
              n=p.full, e=w.email(p))
    return "code", d


def t_mixed_guests(w: World, loc: str):
    d = Doc().t('{"guests": [')
    locs = w.rng.sample(list(LOCALES), 3)
    for i, lc in enumerate(locs):
        p = w.someone(lc)
        d.fmt('{"name": "{{P:n}}", "email": "{{E:e}}", "dob": "{{DOB:b}}", "phone": "{{PH:ph}}"}',
              n=p.full, e=w.email(p), b=w.birth_date().isoformat(), ph=w.phone(lc))
        if i < 2:
            d.t(", ")
    d.fmt('], "check_in": "{{date:c}}", "booking": "{{ord:o}}"}', c=w.event_date("en_US"),
          o=synth.order_id(w.rng))
    return "tool_json", d


def t_mixed_email(w: World, loc: str):
    lc = w.rng.choice(["de_DE", "fr_FR", "es_ES"])
    to, frm, other = w.someone(lc), w.someone("en_GB"), w.someone(lc)
    d = Doc().fmt("Hi {{P:f}},\n\nplease send the contract to {{P:o}} at {{ADDR:a}}. "
                  "The deposit goes to {{IBAN:i}}.\n\n", f=to.first, o=other.full,
                  a=w.full_address(lc).replace("\n", ", "), i=w.iban(lc))
    d.fmt("{{:r}}\n{{P:n}}", r=L[lc]["regards"], n=frm.full)
    return "email", d


# ---- lookalike-only templates


def t_neg_log(w: World, loc: str):
    r = w.rng
    d = Doc()
    count = r.randint(2, 3)
    for i in range(count):
        d.fmt('{{date:d}} INFO  {{:svc}} call model={{model:m}} status={{port:s}} '
              "trace_id={{trace:t}} span_id={{span:sp}} start={{ns:n}}",
              d=w.event_date("en_US", iso=True), svc=r.choice(["gateway", "worker", "api"]),
              m=r.choice(MODEL_IDS), s=r.choice(["200", "429", "500", "503"]),
              t=synth.hexs(r, 32), sp=synth.hexs(r, 16), n=synth.ns_timestamp(r))
        if i < count - 1:
            d.t("\n")
    return "log", d


def t_neg_config(w: World, loc: str):
    r = w.rng
    d = Doc().fmt("server:\n  listen: {{lb:h}}:{{port:p}}\n  metrics: {{lb:h2}}:{{port:p2}}\n",
                  h=r.choice(["0.0.0.0", "127.0.0.1", "localhost"]), p=str(r.choice(
                      [8080, 8000, 3000, 4317])), h2="127.0.0.1", p2=str(r.choice([9090, 9464])))
    d.fmt("llm:\n  api_key: {{env:k}}\n  model: {{model:m}}\nimage: app:{{ver:v}}",
          k=r.choice(['${OPENAI_API_KEY}', '<YOUR_API_KEY>', '$ANTHROPIC_API_KEY',
                      'os.environ["OPENAI_API_KEY"]', "sk-..."]), m=r.choice(MODEL_IDS),
          v=synth.dotted_version(r))
    return "config", d


def t_neg_release(w: World, loc: str):
    r = w.rng
    t1, t2, t3 = w.tech(3)
    d = Doc().fmt("## {{ver:v}} ({{date:d}})\n- {{tw:a}} upgraded, {{tw:b}} removed\n"
                  "- Integration with {{co:c}} fixed (HTTP {{port:s}})\n- Built from {{sha:g}}, "
                  "artefact sha256 {{hex:h}}", v=synth.dotted_version(r),
                  d=w.fmt_date(w.dt.date(start=2023, end=2026), loc), a=t1, b=t2,
                  c=w.company(loc), s=r.choice(["404", "500", "502"]), g=synth.hexs(r, 7),
                  h=synth.hexs(r, 64))
    d.fmt("\n- Docs mention {{tw:c}}", c=t3)
    return "release_notes", d


def t_neg_orders(w: World, loc: str):
    r = w.rng
    d = Doc().fmt("{{date:d}} order {{ord:o}} paid via {{co:c}}, idempotency {{uuid:u}}, "
                  "request {{req:q}}; test pan {{luhn:l}} rejected", d=w.event_date(loc),
                  o=synth.order_id(r), c=w.company(loc), u=synth.uuid4(r),
                  q=synth.request_id(r), l=synth.luhn_invalid(r, r.choice(["", " "])))
    return "log", d


def t_neg_chat(w: World, loc: str):
    a, b = w.tech(2)
    c = w.company(loc)
    q = {"en_US": "should we use {a} or {b} at {c}?", "en_GB": "is {a} better than {b} for {c}?",
         "de_DE": "Sollen wir bei {c} {a} oder {b} einsetzen?",
         "fr_FR": "chez {c}, {a} ou {b} ?", "es_ES": "¿en {c} usamos {a} o {b}?"}[loc]
    d = Doc().t("user: ")
    _fill(d, q, {"a": ("tw", a), "b": ("tw", b), "c": ("co", c)})
    reply = {
        "en_US": "It depends on the workload: {a} and {b} overlap; run both on a small slice of "
                 "traffic and compare before {date}.",
        "en_GB": "It depends on the workload: {a} and {b} overlap; trial both on a small slice "
                 "of traffic and decide before {date}.",
        "de_DE": "Das hängt von der Last ab: {a} und {b} überschneiden sich. Testet beide mit "
                 "einem kleinen Teil des Traffics und entscheidet bis {date}.",
        "fr_FR": "Tout dépend de la charge : {a} et {b} se recoupent. Testez les deux sur une "
                 "petite part du trafic et décidez avant le {date}.",
        "es_ES": "Depende de la carga: {a} y {b} se solapan. Probad ambos con una parte pequeña "
                 "del tráfico y decidid antes del {date}.",
    }[loc]
    d.t("\nassistant: ")
    _fill(d, reply, {"a": ("tw", a), "b": ("tw", b), "date": ("date", w.event_date(loc))})
    return "chat", d


TEMPLATES = [
    (t_hr_form, 8), (t_medical, 7), (t_support, 8), (t_email, 7), (t_commit, 5),
    (t_py_fixture, 5), (t_js_test, 4), (t_tool_json, 9), (t_email_keys, 3), (t_py_stack, 4),
    (t_java_stack, 3), (t_json_log, 5), (t_access_log, 4), (t_env_file, 5), (t_aws_code, 3),
    (t_curl, 3), (t_url, 5), (t_chat_letter, 6), (t_card_chat, 3), (t_code_review, 3),
    (t_csv, 3), (t_vendor_code, 6),
    (t_neg_log, 4), (t_neg_config, 3), (t_neg_release, 3), (t_neg_orders, 3), (t_neg_chat, 3),
]
US_ONLY = [(t_ssn_chat, 6)]
MIXED = [(t_mixed_guests, 1), (t_mixed_email, 1), (t_email_keys, 1)]


def generate(seed: int, n: int) -> list[dict]:
    w = World(seed)
    rows = []
    for i in range(n):
        loc = w.rng.choices([x for x, _ in LOCALE_WEIGHTS], [y for _, y in LOCALE_WEIGHTS])[0]
        pool = MIXED if loc == "mixed" else TEMPLATES + (US_ONLY if loc == "en_US" else [])
        for _attempt in range(50):
            fn = w.rng.choices([f for f, _ in pool], [k for _, k in pool])[0]
            kind, doc = fn(w, "en_US" if loc == "mixed" else loc)
            text, pii, look = doc.render()
            rec = {"id": f"mimesis-{i + 1:05d}", "source": "mimesis", "kind": kind, "locale": loc,
                   "text": text, "pii": pii, "lookalikes": look}
            errors: list[str] = []
            check_record(rec, "gen", errors)
            if not errors:
                rows.append(rec)
                break
        else:
            raise RuntimeError(f"record {i}: no valid draw after 50 attempts: {errors[:3]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--out", default="bench/pii_eval/data/mimesis.jsonl")
    args = ap.parse_args(argv)
    rows = generate(args.seed, args.n)
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
