"""Cards of a realistic address book for `just bench` (standard library only).

Names, emails and birthdays are drawn from fixed lists with a seeded generator, so every run
imports the same book and a substring search matches the share of it a real one would: `card(i)`
is the same card in every run. Every card is vCard 3.0 with N, FN, an EMAIL, a TEL, ORG, ADR, a
BDAY (a full date, spread over the whole year) and an X- property, as a phone exports them.

`python3 bench/cards.py share NEEDLE [COUNT]` prints how many of the first COUNT cards (50,000)
a case-insensitive `q=NEEDLE` search (first name, last name or email) matches.
`python3 bench/cards.py names` prints the first and last names the people are drawn from,
comma-separated (the needles of the bench's new-search workload).
`python3 bench/cards.py rest COUNT` prints the first COUNT people as REST create bodies (JSON), one
a line: the small book, the same kind of people as the big one.
"""

import json

import random
import sys

FIRST = """
Aaliyah Adam Adrian Aisha Alejandro Alexander Alice Amelia Amir Ana Andrea Andrew Anna Anthony
Aria Arthur Ava Benjamin Camila Carlos Caroline Charlotte Chloe Christopher Clara Daniel David
Diego Dmitri Elena Elijah Elizabeth Ella Emily Emma Ethan Eva Fatima Felix Finn Gabriel Grace
Hana Hannah Harper Henry Hugo Isabella Isaac Ivan Jack Jacob James Jana Javier Jessica Joanna
John Jonas Jose Joseph Julia Kai Karin Kenji Laura Layla Leo Liam Lily Lucas Lucy Luis Maja
Marco Maria Marie Mark Mateo Matthew Maya Mei Mia Michael Mila Mohammed Nadia Noah Nora Olga
Oliver Olivia Omar Oscar Paul Pedro Priya Rafael Rosa Ruth Samuel Sara Sebastian Sofia Sophie
Stefan Susan Thomas Tomas Victoria William Yuki Zoe Zofia
""".split()

LAST = """
Abbott Adams Ahmed Alvarez Andersen Bailey Baker Becker Bennett Brooks Brown Campbell Carter
Castro Chen Clarke Collins Cooper Costa Cruz Davies Diaz Dubois Edwards Evans Fischer Fernandez
Fleming Flores Garcia Gomez Gonzalez Gray Green Gupta Hall Hansen Harris Hernandez Hill Hoffmann
Howard Hughes Ivanov Jackson Jansen Jensen Johnson Jones Kaur Keller Khan Kim Klein Kowalski
Kumar Larsen Lee Lewis Lopez Martin Martinez Meyer Miller Mitchell Moore Morales Morgan Muller
Murphy Nakamura Nguyen Nielsen Novak O'Brien Olsen Ortiz Park Patel Perez Peters Petrov Phillips
Ramirez Reed Reyes Richter Rivera Roberts Robinson Rodriguez Rossi Sanchez Santos Schmidt
Schneider Schulz Scott Silva Singh Smith Sousa Stewart Suzuki Tanaka Taylor Thompson Torres
Turner Walker Wang Watson Weber White Williams Wilson Wood Wright Yamamoto Young Zhang
""".split()

DOMAINS = ["example.org", "example.com", "example.net", "mail.example", "post.example"]
ORGS = ["Example Inc.;Sales", "Acme GmbH;Research", "Initech;Accounts", "Globex;Support", "Umbrella;Legal"]


def person(i):
    """`(first, last, email, phone, birthday)` of card `i`."""
    rng = random.Random(1_000_003 * i + 15)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{first}.{last}".lower().replace("'", "")
    email = f"{local}{rng.randrange(100) if rng.random() < 0.3 else ''}@{rng.choice(DOMAINS)}"
    phone = f"+1 555 {rng.randrange(1000):03d} {rng.randrange(10000):04d}"
    day = rng.randrange(365)  # day of a non-leap year, so every day of the year is as likely
    month = next(m for m, end in enumerate([31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365], 1) if day < end)
    starts = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
    birthday = f"{rng.randrange(1940, 2006)}-{month:02d}-{day - starts[month - 1] + 1:02d}"
    return first, last, email, phone, birthday


def card(i):
    """Card `i` as vCard 3.0 text (CRLF line ends)."""
    first, last, email, phone, birthday = person(i)
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:bench-{i}\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\n"
        f"EMAIL;TYPE=INTERNET,HOME:{email}\r\nTEL;TYPE=CELL:{phone}\r\n"
        f"ORG:{ORGS[i % len(ORGS)]}\r\nADR;TYPE=WORK:;;{i % 999 + 1} Main St;Springfield;;12345;USA\r\n"
        f"BDAY:{birthday}\r\nX-BENCH:{i}\r\nEND:VCARD\r\n"
    )


def cards(start, stop):
    """Cards `start` … `stop - 1` as one file."""
    return "".join(card(i) for i in range(start, stop))


def share(needle, count):
    """How many of the first `count` cards a `q=needle` search matches."""
    needle = needle.lower()
    return sum(any(needle in part.lower() for part in person(i)[:3]) for i in range(count))


def rest(count):
    """The first `count` people as `POST /api/contacts/` bodies."""
    for i in range(count):
        first, last, email, phone, birthday = person(i)
        body = {"first_name": first, "last_name": last, "email": email, "phone": phone, "birthday": birthday}
        print(json.dumps({**body, "additional_info": "seeded by bench/run.sh"}))


if __name__ == "__main__":
    if sys.argv[1] == "share":
        print(share(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 50_000))
    elif sys.argv[1] == "names":
        print(",".join(FIRST + LAST))
    elif sys.argv[1] == "rest":
        rest(int(sys.argv[2]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
