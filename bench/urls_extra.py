#!/usr/bin/env python3
"""URL lists for the measurements the shared kit has no class for (stdlib only).

  python3 bench/urls_extra.py --kit ../shared/bench --base http://127.0.0.1:18080 --class n1 -n 2000

Classes (deterministic per --seed, built on the kit's urls.py so boxes, windows and tiles
are drawn the same way as its classes):
  n1      type + bbox: one of gen.py's 14 types and q2's 1 x 1 degree box around a city,
          limit=100; the page carries numberMatched (issue 15: p99 <= 50 ms at 1M)
  n2      actor + datetime: one of gen.py's 50 most frequent actors (Zipf, so
          actor-001 holds about 15 % of all incidents) and q4's 365-day window, limit=100
  z0..z7  the tiles holding each of the 25 city centres at that zoom (jittered +-0.3
          degrees), without repeats; BASE/tiles/{z}/{x}/{y}.mvt
"""

import argparse
import os
import random
import sys

TYPES = ["protest", "indirect_fire", "direct_fire", "ied", "threat", "drone", "surveillance",
         "riot", "other", "missile", "breach", "arson", "kidnapping", "cyber"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", required=True, help="the shared bench directory (for urls.py)")
    ap.add_argument("--base", required=True, help="server origin, e.g. http://127.0.0.1:18080")
    ap.add_argument("--class", dest="cls", required=True)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.kit))
    import urls  # the kit's generator: same boxes, windows and tiles as its classes

    base = a.base.rstrip("/")
    items = base + "/collections/incidents/items"
    rng = random.Random("%s-%d" % (a.cls, a.seed))
    out = []
    if a.cls == "n1":
        for q in urls.queries("q2", a.n, a.seed):
            out.append(urls.render(items, q) + "&type=" + rng.choice(TYPES))
    elif a.cls == "n2":
        for q in urls.queries("q4", a.n, a.seed):
            out.append("%s?actor=actor-%03d&limit=100&datetime=%s/%s" % (
                items, rng.randint(1, 50), urls.rfc3339(q["start"]), urls.rfc3339(q["end"])))
    elif a.cls.startswith("z"):
        z = int(a.cls[1:])
        seen = set()
        for cx, cy in urls.CITY_CENTRES:
            t = urls.tile_of(cx + rng.uniform(-0.3, 0.3), cy + rng.uniform(-0.3, 0.3), z)
            if t not in seen:
                seen.add(t)
                out.append("%s/tiles/%d/%d/%d.mvt" % (base, *t))
    else:
        sys.exit("unknown class %r" % a.cls)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
