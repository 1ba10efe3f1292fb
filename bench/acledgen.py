#!/usr/bin/env python3
"""Generate a deterministic synthetic ACLED export for the ACLED import benchmark.

Python 3 standard library only; the same --rows and --seed always give the same bytes.

  python3 bench/acledgen.py --rows 1000000 --seed 42 -o acled-1m.csv

The file has the 31 columns of ACLED's current exports, in their order, with a header
row: dyadic rows (actor1 against actor2) and, for --monadic (default 5 %) of the events,
a monadic pair — the event written as two rows with one event_id_cnty, the initiator
first, each row naming one actor with actor2 empty, as ACLED's monadic exports do.
Events are spread over 14 countries of the Middle East and North Africa (numeric ISO
3166-1 code in `iso`), 2016-01-01..2025-12-31, with ACLED's event and sub-event types,
inter codes, a few hundred named actors per country and ~150-character notes, quoted
(they hold a comma, as most of ACLED's do).
The row count is exact (--rows, header not counted); the number of events is smaller
by the number of monadic pairs.
"""

import argparse
import random
import sys
import time

HEADER = ("event_id_cnty,event_date,year,time_precision,disorder_type,event_type,"
          "sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,"
          "interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,"
          "location,latitude,longitude,geo_precision,source,source_scale,notes,"
          "fatalities,tags,timestamp")

# country, ISO 3166-1 numeric, ISO alpha-3, ACLED region, (admin1, lon, lat) places
COUNTRIES = [
    ("Iraq", 368, "IRQ", "Middle East",
     [("Baghdad", 44.36, 33.31), ("Basra", 47.78, 30.51), ("Erbil", 44.01, 36.19),
      ("Ninewa", 43.13, 36.34), ("Kirkuk", 44.39, 35.47), ("Najaf", 44.34, 32.00)]),
    ("Syria", 760, "SYR", "Middle East",
     [("Damascus", 36.29, 33.51), ("Aleppo", 37.16, 36.20), ("Homs", 36.72, 34.73),
      ("Deir ez Zor", 40.14, 35.34), ("Idleb", 36.63, 35.93)]),
    ("Lebanon", 422, "LBN", "Middle East",
     [("Beirut", 35.50, 33.89), ("North", 35.84, 34.44), ("South", 35.37, 33.27)]),
    ("Yemen", 887, "YEM", "Middle East",
     [("Amanat al Asimah", 44.21, 15.35), ("Aden", 45.03, 12.79), ("Taizz", 44.02, 13.58),
      ("Al Hudaydah", 42.95, 14.80), ("Marib", 45.32, 15.46)]),
    ("Iran", 364, "IRN", "Middle East",
     [("Tehran", 51.39, 35.69), ("Khuzestan", 48.67, 31.32), ("Kurdistan", 46.99, 35.31)]),
    ("Jordan", 400, "JOR", "Middle East", [("Amman", 35.93, 31.95), ("Irbid", 35.85, 32.55)]),
    ("Saudi Arabia", 682, "SAU", "Middle East",
     [("Riyadh", 46.72, 24.71), ("Jizan", 42.55, 16.89), ("Eastern", 50.10, 26.43)]),
    ("Kuwait", 414, "KWT", "Middle East", [("Capital", 47.98, 29.38)]),
    ("Palestine", 275, "PSE", "Middle East",
     [("Gaza Strip", 34.47, 31.50), ("West Bank", 35.20, 31.90)]),
    ("Israel", 376, "ISR", "Middle East", [("Jerusalem", 35.22, 31.77), ("HaZafon", 35.30, 32.90)]),
    ("Bahrain", 48, "BHR", "Middle East", [("Capital", 50.59, 26.23)]),
    ("Egypt", 818, "EGY", "Northern Africa",
     [("Cairo", 31.24, 30.04), ("North Sinai", 33.80, 31.13), ("Alexandria", 29.92, 31.20)]),
    ("Libya", 434, "LBY", "Northern Africa",
     [("Tripoli", 13.19, 32.89), ("Benghazi", 20.07, 32.12), ("Misrata", 15.09, 32.38)]),
    ("Turkey", 792, "TUR", "Europe",
     [("Ankara", 32.85, 39.93), ("Diyarbakir", 40.23, 37.91), ("Sirnak", 42.46, 37.52)]),
]

# event type, sub-event type, disorder type, weight, whether a second side is usual
EVENTS = [
    ("Protests", "Peaceful protest", "Demonstrations", 26, False),
    ("Protests", "Protest with intervention", "Demonstrations", 4, True),
    ("Protests", "Excessive force against protesters", "Political violence; Demonstrations", 1, True),
    ("Riots", "Violent demonstration", "Demonstrations", 6, True),
    ("Riots", "Mob violence", "Political violence", 3, True),
    ("Battles", "Armed clash", "Political violence", 16, True),
    ("Battles", "Government regains territory", "Political violence", 1, True),
    ("Battles", "Non-state actor overtakes territory", "Political violence", 1, True),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack", "Political violence", 12, True),
    ("Explosions/Remote violence", "Air/drone strike", "Political violence", 10, True),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED", "Political violence", 5, True),
    ("Explosions/Remote violence", "Suicide bomb", "Political violence", 1, True),
    ("Explosions/Remote violence", "Grenade", "Political violence", 1, True),
    ("Violence against civilians", "Attack", "Political violence", 7, True),
    ("Violence against civilians", "Abduction/forced disappearance", "Political violence", 2, True),
    ("Violence against civilians", "Sexual violence", "Political violence", 1, True),
    ("Strategic developments", "Looting/property destruction", "Strategic developments", 1, False),
    ("Strategic developments", "Arrests", "Strategic developments", 1, False),
    ("Strategic developments", "Disrupted weapons use", "Strategic developments", 1, False),
]

SYLLABLES = ("ka ri to mas el an dor vi sul ne ra bat qu im zar ho fen li "
             "sha mir al ta den ur os pal gi ve no ku ba sir em ja tor").split()
SOURCES = ["Reuters", "AFP", "AP", "Shafaq News", "Rudaw", "Al Mayadeen", "SANA",
           "Syrian Observatory for Human Rights", "Saba News Agency", "Anadolu Agency",
           "Twitter", "Local Source", "Al Jazeera", "The National"]
SCALES = ["National", "International", "Local partner-Other", "Subnational", "Other",
          "New media", "National-International"]
D0 = 1451606400  # 2016-01-01T00:00:00Z
DAYS = 3653      # .. 2025-12-31


def name(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))).capitalize()


def actors_of(rng, country):
    """Named actors of one country by ACLED inter code (1 state .. 8 external)."""
    by = {
        1: ["Military Forces of %s (2016-)" % country, "Police Forces of %s (2016-)" % country],
        2: ["%s Liberation Front" % name(rng) for _ in range(25)],
        3: ["%s Militia (%s)" % (name(rng), country) for _ in range(120)],
        4: ["%s Tribal Militia (%s)" % (name(rng), country) for _ in range(120)],
        5: ["Rioters (%s)" % country],
        6: ["Protesters (%s)" % country],
        7: ["Civilians (%s)" % country],
        8: ["Military Forces of the United States (2021-)", "Military Forces of Russia (2000-)",
            "Unidentified Armed Group (%s)" % country],
    }
    assoc = ["%s Group (%s)" % (w, country) for w in
             ("Labor", "Students", "Teachers", "Journalists", "Women", "Health Workers", "Farmers")]
    assoc += ["%s Clan (%s)" % (name(rng), country) for _ in range(30)]
    return by, assoc


def csvcell(s):
    if any(c in s for c in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def generate(rows, seed, monadic, out):
    rng = random.Random(seed)
    rand, choice = rng.random, rng.choice
    words = [name(rng).lower() for _ in range(1500)]
    world = []
    for country, iso, iso3, region, places in COUNTRIES:
        by, assoc = actors_of(rng, country)
        world.append((country, iso, iso3, region, places, by, assoc))
    ev_cum, total = [], 0
    for e in EVENTS:
        total += e[3]
        ev_cum.append(total)
    seq = {c[2]: 0 for c in COUNTRIES}
    # --monadic is a share of all events; only events with two sides can be pairs
    monadic_given_two = min(1.0, monadic * total / sum(e[3] for e in EVENTS if e[4]))
    out.write(HEADER + "\n")
    buf, written = [], 0
    while written < rows:
        country, iso, iso3, region, places, by, assoc = world[int(rand() * len(world))]
        admin1, plon, plat = choice(places)
        r = rand() * total
        etype, sub, disorder, _, dyadic = EVENTS[next(i for i, c in enumerate(ev_cum) if r < c)]
        # sides by ACLED's codebook: who starts which kind of event
        if etype == "Protests":
            i1 = 6
            i2 = choice((1, 1, 3)) if dyadic else 0
        elif etype == "Riots":
            i1 = 5
            i2 = choice((1, 5, 7)) if dyadic else 0
        elif etype == "Violence against civilians":
            i1, i2 = choice((1, 2, 3, 4, 8)), 7
        elif etype == "Strategic developments":
            i1, i2 = choice((1, 3)), 0
        else:
            i1, i2 = choice((1, 1, 2, 3, 4, 8)), choice((1, 2, 3, 4, 7))
        a1 = choice(by[i1])
        a2 = choice(by[i2]) if i2 else ""
        as1 = choice(assoc) if i1 in (5, 6) and rand() < 0.3 else ""
        as2 = "; ".join(sorted({choice(assoc) for _ in range(2)})) if i2 == 7 and rand() < 0.2 else ""
        seq[iso3] += 1
        eid = "%s%d" % (iso3, seq[iso3])
        day = int(rand() * DAYS)
        ts = D0 + day * 86400
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        year = date[:4]
        prec = choice((1, 1, 1, 1, 2, 3))
        lon = plon + rng.gauss(0, 0.25)
        lat = plat + rng.gauss(0, 0.25)
        geo = choice((1, 1, 1, 2, 3))
        place = name(rng) if rand() < 0.5 else admin1
        srcs = "; ".join(sorted({choice(SOURCES) for _ in range(choice((1, 1, 2, 3)))}))
        fat = 0 if etype in ("Protests", "Strategic developments") else choice((0, 0, 0, 1, 1, 2, 3, 5, 12))
        note = "On %s, %s" % (date, " ".join(words[int(rand() * len(words))] for _ in range(18)))
        if rand() < 0.15:
            note += ", %s" % " ".join(words[int(rand() * len(words))] for _ in range(4))
        note += ". [size=no report]" if etype == "Protests" else "."
        tags = "crowd size=no report" if etype == "Protests" else ""
        civ = "Civilian targeting" if i2 == 7 else ""
        inter = "%d%d" % (min(i1, i2 or 9), max(i1, i2)) if i2 else "%d0" % i1
        stamp = str(1700000000 + int(rand() * 60000000))
        common_head = (eid, date, year, str(prec), disorder, etype, sub)
        common_tail = (inter, civ, str(iso), region, country, admin1, "", "", place,
                       "%.4f" % lat, "%.4f" % lon, str(geo), srcs, choice(SCALES), note,
                       str(fat), tags, stamp)
        if a2 and rand() < monadic_given_two and written + 2 <= rows:
            # monadic: the initiator's row, then the other side's, actor2 empty
            sides = ((a1, as1, str(i1)), (a2, as2, str(i2)))
            for actor, ass, it in sides:
                buf.append(",".join(csvcell(v) for v in
                                    common_head + (actor, ass, it, "", "", "") + common_tail) + "\n")
            written += 2
        else:
            buf.append(",".join(csvcell(v) for v in
                                common_head + (a1, as1, str(i1), a2, as2, str(i2) if i2 else "")
                                + common_tail) + "\n")
            written += 1
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    return sum(seq.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", "-n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--monadic", type=float, default=0.05,
                    help="share of two-sided events written as a monadic pair of rows")
    ap.add_argument("-o", "--output", default="-", help="file (default stdout)")
    a = ap.parse_args()
    t0 = time.monotonic()
    if a.output == "-":
        events = generate(a.rows, a.seed, a.monadic, sys.stdout)
    else:
        with open(a.output, "w", encoding="utf-8", newline="\n") as f:
            events = generate(a.rows, a.seed, a.monadic, f)
    print("acledgen.py: %d rows, %d events (seed %d) in %.1f s" % (
        a.rows, events, a.seed, time.monotonic() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
