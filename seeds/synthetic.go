package seeds

import (
	"iter"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// The synthetic data set follows the shared load-test kit's gen.py in
// distribution (not in bytes: the random streams differ), so postwatch's own
// benchmarks ask the same kind of questions of the same kind of data.
var (
	// SyntheticRegion bounds every synthetic incident: the Middle East.
	SyntheticRegion = orb.Bound{Min: orb.Point{34, 12}, Max: orb.Point{61, 39}}
	// SyntheticFrom and SyntheticTo bound occurred_at (To excluded).
	SyntheticFrom = time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	SyntheticTo   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// SyntheticActors is how many distinct actors (actor-001 … actor-500) the
// synthetic incidents name; actor-001 is the most frequent.
const SyntheticActors = 500

const (
	clusterShare = 0.70 // share of points drawn around a city centre
	clusterSigma = 0.3  // degrees
	zipfS        = 1.1  // actor popularity: weight of the k-th actor is 1/k^s
	vocabulary   = 2000 // distinct words in titles and descriptions
	titleMin     = 36   // a title grows word by word to at least this length
	descMin      = 200  // and a description to this many characters (~30 words)
)

type city struct {
	name     string
	lon, lat float64
	country  string
}

var cities = []city{
	{"Baghdad", 44.36, 33.31, "IQ"}, {"Basra", 47.78, 30.51, "IQ"}, {"Erbil", 44.01, 36.19, "IQ"},
	{"Damascus", 36.29, 33.51, "SY"}, {"Beirut", 35.50, 33.89, "LB"}, {"Sanaa", 44.21, 15.35, "YE"},
	{"Aden", 45.03, 12.79, "YE"}, {"Tehran", 51.39, 35.69, "IR"}, {"Amman", 35.93, 31.95, "JO"},
	{"Riyadh", 46.72, 24.71, "SA"}, {"Kuwait City", 47.98, 29.38, "KW"}, {"Mosul", 43.13, 36.34, "IQ"},
	{"Kirkuk", 44.39, 35.47, "IQ"}, {"Najaf", 44.34, 32.00, "IQ"}, {"Karbala", 44.02, 32.62, "IQ"},
	{"Aleppo", 37.16, 36.20, "SY"}, {"Homs", 36.72, 34.73, "SY"}, {"Deir ez-Zor", 40.14, 35.34, "SY"},
	{"Tripoli", 35.84, 34.44, "LB"}, {"Gaza", 34.47, 31.50, "PS"}, {"Jerusalem", 35.22, 31.77, "IL"},
	{"Doha", 51.53, 25.29, "QA"}, {"Manama", 50.59, 26.23, "BH"}, {"Muscat", 58.41, 23.59, "OM"},
	{"Dubai", 55.27, 25.20, "AE"},
}

// typeWeights is skewed as reports are: protests and indirect fire dominate.
var typeWeights = []struct {
	t domain.IncidentType
	w float64
}{
	{"protest", 18}, {"indirect_fire", 14}, {"direct_fire", 12}, {"ied", 10}, {"threat", 9},
	{"drone", 8}, {"surveillance", 6}, {"riot", 5}, {"other", 4}, {"missile", 4}, {"breach", 3},
	{"arson", 3}, {"kidnapping", 2}, {"cyber", 2},
}

var severityWeights = []float64{30, 30, 20, 13, 7} // severity 1..5

var syllables = strings.Fields("ka ri to mas el an dor vi sul ne ra bat qu im zar ho fen li " +
	"sha mir al ta den ur os pal gi ve no ku ba sir em ja tor")

// SyntheticCentres returns the city centres the clustered incidents gather
// around, for benchmarks that query near them.
func SyntheticCentres() []orb.Point {
	out := make([]orb.Point, len(cities))
	for i, c := range cities {
		out[i] = orb.Point{c.lon, c.lat}
	}
	return out
}

// Synthetic yields n made-up incidents for load tests and benchmarks, with
// their 1-based index. The same n and seed always give the same incidents.
// 70% lie around 25 city centres (gaussian, sigma 0.3°), the rest uniformly
// over SyntheticRegion; coordinates have 6 decimals, so they survive a trip
// through text unchanged. Types, severities and actors follow skewed
// weights, occurred_at is uniform in [SyntheticFrom, SyntheticTo) to the
// second, titles read "Protest near Basra kavi", descriptions are ~30 words
// of syllable gibberish. Each incident is freshly allocated, with ID unset,
// ExternalID its index and one perpetrator; defaults are not applied.
func Synthetic(n int, seed uint64) iter.Seq2[int, *domain.Incident] {
	return func(yield func(int, *domain.Incident) bool) {
		g := newSynth(seed)
		for i := 1; i <= n; i++ {
			if !yield(i, g.next(i)) {
				return
			}
		}
	}
}

// synth is the state of one synthetic stream.
type synth struct {
	rng        *rand.Rand
	words      []string
	typeLabels []string
	typeCum    []float64
	sevCum     []float64
	actorCum   []float64
	actorIDs   []string
	span       int64 // seconds in [SyntheticFrom, SyntheticTo)
}

func newSynth(seed uint64) *synth {
	// The second PCG word is fixed: seed alone selects the stream.
	g := &synth{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	ks := []int{1, 2, 2, 3, 3, 4} // syllables per word
	g.words = make([]string, vocabulary)
	var sb strings.Builder
	for i := range g.words {
		sb.Reset()
		for range ks[g.rng.IntN(len(ks))] {
			sb.WriteString(syllables[g.rng.IntN(len(syllables))])
		}
		g.words[i] = sb.String()
	}
	for _, tw := range typeWeights {
		label := strings.ReplaceAll(string(tw.t), "_", " ")
		g.typeLabels = append(g.typeLabels, strings.ToUpper(label[:1])+label[1:])
	}
	g.typeCum = cumulative(len(typeWeights), func(i int) float64 { return typeWeights[i].w })
	g.sevCum = cumulative(len(severityWeights), func(i int) float64 { return severityWeights[i] })
	g.actorCum = cumulative(SyntheticActors, func(i int) float64 { return 1 / math.Pow(float64(i+1), zipfS) })
	g.actorIDs = make([]string, SyntheticActors)
	for i := range g.actorIDs {
		g.actorIDs[i] = "actor-" + pad3(i+1)
	}
	g.span = int64(SyntheticTo.Sub(SyntheticFrom) / time.Second)
	return g
}

func (g *synth) next(i int) *domain.Incident {
	r := g.rng
	var lon, lat float64
	if r.Float64() < clusterShare {
		c := cities[r.IntN(len(cities))]
		for {
			lon = round6(c.lon + r.NormFloat64()*clusterSigma)
			lat = round6(c.lat + r.NormFloat64()*clusterSigma)
			if SyntheticRegion.Contains(orb.Point{lon, lat}) {
				break
			}
		}
	} else {
		lo, hi := SyntheticRegion.Min, SyntheticRegion.Max
		lon = round6(lo[0] + r.Float64()*(hi[0]-lo[0]))
		lat = round6(lo[1] + r.Float64()*(hi[1]-lo[1]))
	}
	// The nearest centre, not the drawn one, names the place and country.
	near := cities[nearestCity(lon, lat)]
	ti := pick(r, g.typeCum)
	sev := pick(r, g.sevCum) + 1
	actor := g.actorIDs[pick(r, g.actorCum)]
	at := SyntheticFrom.Add(time.Duration(r.Int64N(g.span)) * time.Second)

	var sb strings.Builder
	sb.Grow(titleMin + 16)
	sb.WriteString(g.typeLabels[ti])
	sb.WriteString(" near ")
	sb.WriteString(near.name)
	for sb.Len() < titleMin {
		sb.WriteByte(' ')
		sb.WriteString(g.words[r.IntN(len(g.words))])
	}
	title := sb.String()
	sb = strings.Builder{}
	sb.Grow(descMin + 16)
	for sb.Len() < descMin {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(g.words[r.IntN(len(g.words))])
	}
	ext := strconv.Itoa(i)
	return &domain.Incident{
		Location: orb.Point{lon, lat}, Type: typeWeights[ti].t, Title: title, Description: sb.String(),
		OccurredAt: at, Severity: sev, Country: near.country, ExternalID: &ext,
		Actors: []domain.IncidentActor{{ActorID: actor, Role: "perpetrator"}},
	}
}

// nearestCity is the index of the centre closest to (lon, lat), with
// longitude differences shrunk by cos(lat) as on the ground.
func nearestCity(lon, lat float64) int {
	coslat := math.Cos(lat * math.Pi / 180)
	best, bestD := 0, math.Inf(1)
	for i, c := range cities {
		dx, dy := (lon-c.lon)*coslat, lat-c.lat
		if d := dx*dx + dy*dy; d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

func cumulative(n int, weight func(int) float64) []float64 {
	out := make([]float64, n)
	total := 0.0
	for i := range out {
		total += weight(i)
		out[i] = total
	}
	return out
}

// pick draws an index with probability proportional to its weight.
func pick(r *rand.Rand, cum []float64) int {
	return min(sort.SearchFloat64s(cum, r.Float64()*cum[len(cum)-1]), len(cum)-1)
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func pad3(k int) string {
	s := strconv.Itoa(k)
	return strings.Repeat("0", max(0, 3-len(s))) + s
}
