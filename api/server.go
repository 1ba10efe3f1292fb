// Package api is postwatch's HTTP surface: OGC API – Features for incidents
// and facilities, the actor graph, tokens and health, as gin routes over the
// domain services, with one problem+json error writer.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzhttp"

	"github.com/postwatch/postwatch/docs"
	"github.com/postwatch/postwatch/domain"
)

// Services are the domain services the API calls.
type Services struct {
	Incidents  domain.IncidentService
	Facilities domain.FacilityService
	Actors     domain.ActorService
	Tokens     domain.TokenService
	Alerts     domain.AlertService
	Webhooks   domain.WebhookService
	DB         domain.Database
	// Versions, when set, tells the data version tiles are made at, which
	// lets the server cache them (Options.TileCacheBytes); nil: every tile
	// is made anew.
	Versions domain.DataVersioner
}

// Server holds the services and the gin engine serving them.
type Server struct {
	incidents  domain.IncidentService
	facilities domain.FacilityService
	actors     domain.ActorService
	tokens     domain.TokenService
	alerts     domain.AlertService
	webhooks   domain.WebhookService
	db         domain.Database
	log        *slog.Logger
	// hub reads new alerts once for all of this server's streams.
	hub *alertHub
	// webhookAllow, when not empty, holds the networks webhooks may target.
	webhookAllow []netip.Prefix
	openapi      *openAPI
	// incidentCol and facilityCol are the two OGC collections.
	incidentCol *collection
	facilityCol *collection
	// tiles caches encoded tiles; nil without Services.Versions or with
	// the cache turned off.
	tiles  *tileCache
	routes []route
	engine *gin.Engine
	// handler is the engine behind the compression middleware.
	handler http.Handler

	requestTimeout time.Duration
	// baseURL is Options.BaseURL checked; proxies are Options.TrustedProxies.
	baseURL string
	proxies proxySet
	// closing is closed by Close to end the alert streams.
	closing   chan struct{}
	closeOnce sync.Once
	// guessLimit holds requests not yet authenticated to the rate limit per
	// client address, tokenLimit authenticated ones per token; both are nil
	// when rate limiting is off.
	guessLimit, tokenLimit *limiter
}

// Options tune the server. The zero value is what New uses.
type Options struct {
	// RateLimit is how many requests a second each token may make, with
	// bursts of twice that; requests not yet authenticated are held to the
	// same rate per client address. 0 turns rate limiting off.
	RateLimit float64
	// RequestTimeout bounds each request: its context is cancelled then and
	// the client gets a 503. 0 means DefaultRequestTimeout; negative, none.
	RequestTimeout time.Duration
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For names the client for rate limiting, and whose
	// Forwarded and X-Forwarded-Proto/Host/Prefix give the links' base.
	// Empty: none is trusted, the client is the connection's peer.
	TrustedProxies []string
	// BaseURL is the service's public address, path prefix included
	// (https://ops.example.org/postwatch): every link is built on it
	// instead of the request's host. Empty: links follow the request.
	BaseURL string
	// AlertSignal is the store's commit signal, which wakes the alert
	// streams at once for this process's writes; nil: they poll only.
	AlertSignal *domain.Signal
	// MaxStreamsPerToken caps the alert streams one token holds open; 0
	// means DefaultMaxStreamsPerToken.
	MaxStreamsPerToken int
	// AlertStreamBuffer is how many events a stream may lag behind before
	// it catches up from the table; 0 means DefaultAlertStreamBuffer.
	AlertStreamBuffer int
	// WebhookAllow restricts webhook targets to these networks (serve
	// --webhook-allow); empty allows any http(s) URL.
	WebhookAllow []netip.Prefix
	// TileCacheBytes is the tile cache's budget in bytes (serve
	// --tile-cache): 0 means DefaultTileCacheBytes, negative turns the
	// cache off. It caches only when Services.Versions is set.
	TileCacheBytes int64
}

// route is one entry of the route table. Every route states the role it
// needs; public routes say so explicitly.
type route struct {
	method  string
	path    string // gin syntax: /collections/incidents/items/:featureId
	role    domain.Role
	public  bool
	handler gin.HandlerFunc
	// produces is the one media type a GET answers with, which an Accept
	// giving it q=0 refuses (406): application/json when empty; negotiated
	// when the handler picks among several itself.
	produces string
}

// negotiated marks a route whose handler negotiates its format.
const negotiated = "negotiated"

// producing answers 406 to a GET whose Accept gives mt q=0 (RFC 9110
// §12.5.1: "not acceptable"), before the handler does any work.
func (s *Server) producing(mt string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Writer.Header().Add("Vary", "Accept")
		h := c.GetHeader("Accept")
		if strings.TrimSpace(h) == "" || qualityOf(ParseAccept(h), mt) != 0 {
			return
		}
		s.writeError(c, &domain.Error{Code: domain.ENOTACCEPTABLE,
			Message: "Accept gives q=0 to " + mt + ", the only format this resource has",
			Fields:  []domain.FieldError{{Field: "Accept", Message: "refuses " + mt}}})
		c.Abort()
	}
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the server and its routes with the default Options. It fails
// if a route is missing from the OpenAPI document, which declares the
// route's query parameters.
func New(svc Services, log *slog.Logger) (*Server, error) {
	return NewWithOptions(svc, log, Options{})
}

// NewWithOptions is New with rate limiting, a request timeout and trusted
// proxies as opts say.
func NewWithOptions(svc Services, log *slog.Logger, opts Options) (*Server, error) {
	if math.IsNaN(opts.RateLimit) || math.IsInf(opts.RateLimit, 0) || opts.RateLimit < 0 {
		return nil, fmt.Errorf("rate limit %g is not a positive number of requests per second (or 0 for none)", opts.RateLimit)
	}
	doc, err := loadOpenAPI(docs.OpenAPI)
	if err != nil {
		return nil, err
	}
	s := &Server{
		incidents: svc.Incidents, facilities: svc.Facilities, actors: svc.Actors,
		tokens: svc.Tokens, alerts: svc.Alerts, webhooks: svc.Webhooks, db: svc.DB, log: log, openapi: doc,
		requestTimeout: opts.RequestTimeout, closing: make(chan struct{}), webhookAllow: opts.WebhookAllow,
	}
	if opts.MaxStreamsPerToken <= 0 {
		opts.MaxStreamsPerToken = DefaultMaxStreamsPerToken
	}
	if opts.AlertStreamBuffer <= 0 {
		opts.AlertStreamBuffer = DefaultAlertStreamBuffer
	}
	s.hub = &alertHub{svc: svc.Alerts, signal: opts.AlertSignal, closing: s.closing, limit: opts.MaxStreamsPerToken,
		buffer: opts.AlertStreamBuffer,
		subs:   map[*alertSub]struct{}{}, streams: map[int64]int{},
		onError: func(err error) { log.Error("alert hub", "err", err) }}
	if s.hub.signal == nil {
		s.hub.signal = domain.NewSignal() // never notified: the hub polls
	}
	if opts.BaseURL != "" {
		if s.baseURL, err = ParseBaseURL(opts.BaseURL); err != nil {
			return nil, fmt.Errorf("base URL: %w", err)
		}
	}
	if s.proxies, err = parseProxies(opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	if s.requestTimeout == 0 {
		s.requestTimeout = DefaultRequestTimeout
	}
	if svc.Versions != nil && opts.TileCacheBytes >= 0 {
		budget := opts.TileCacheBytes
		if budget == 0 {
			budget = DefaultTileCacheBytes
		}
		s.tiles = newTileCache(svc.Versions, budget)
	}
	if opts.RateLimit > 0 {
		s.guessLimit, s.tokenLimit = newLimiter(opts.RateLimit), newLimiter(opts.RateLimit)
	}
	s.incidentCol, s.facilityCol = incidentCollection(s), facilityCollection(s)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// A trailing slash gets a problem+json 404, not an HTML redirect.
	e.RedirectTrailingSlash = false
	e.ContextWithFallback = true
	// gin trusts X-Forwarded-For from anyone by default, which would let a
	// client pick its own rate-limit key.
	if err := e.SetTrustedProxies(opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	e.Use(withRequestID, s.logRequests, s.recoverPanics, securityHeaders, cors, s.limitHead, limitBody, s.withBaseURL)
	if s.requestTimeout > 0 {
		e.Use(withDeadline(s.requestTimeout))
	}
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no route %s", c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		// gin has set Allow to the methods the path does take.
		c.Header("Content-Type", problemContentType)
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, problem{
			Type: "https://postwatch.dev/problems/method_not_allowed", Title: "Method Not Allowed",
			Status: http.StatusMethodNotAllowed, Detail: "method " + c.Request.Method + " is not allowed here; see Allow",
			Instance: c.Request.URL.Path, RequestID: requestID(c),
		})
	})
	s.routes = s.routeTable()
	for _, r := range s.routes {
		declared, err := doc.queryParams(r.method, r.path)
		if err != nil {
			return nil, err
		}
		handlers := []gin.HandlerFunc{}
		if !r.public {
			handlers = append(handlers, s.authenticate(r.role))
		}
		handlers = append(handlers, s.onlyDeclaredParams(declared))
		if r.method == http.MethodGet && r.produces != negotiated {
			mt := r.produces
			if mt == "" {
				mt = "application/json"
			}
			handlers = append(handlers, s.producing(mt))
		}
		handlers = append(handlers, r.handler)
		e.Handle(r.method, r.path, handlers...)
		if r.method == http.MethodGet {
			// HEAD is GET without the body, which net/http drops.
			e.Handle(http.MethodHead, r.path, handlers...)
		}
	}
	s.engine = e
	compress, err := gzhttp.NewWrapper(gzhttp.ContentTypeFilter(compressible))
	if err != nil {
		return nil, err
	}
	s.handler = compress(e)
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routeTable lists every route, its role and handler: the routes are
// readable in one place, and tests derive role checks from it.
func (s *Server) routeTable() []route {
	const (
		analyst = domain.RoleAnalyst
		officer = domain.RoleOfficer
		admin   = domain.RoleAdmin
	)
	rs := []route{
		{method: "GET", path: "/healthz", public: true, handler: s.healthz},
		{method: "GET", path: "/readyz", public: true, handler: s.readyz},
		{method: "GET", path: "/", role: analyst, handler: s.landing, produces: negotiated},
		{method: "GET", path: "/conformance", role: analyst, handler: s.conformance, produces: negotiated},
		{method: "GET", path: "/openapi.json", role: analyst, handler: s.openapiDoc, produces: "application/vnd.oai.openapi+json"},
		{method: "GET", path: "/api.html", role: analyst, handler: s.apiDocsPage, produces: "text/html"},
		// The map and its assets are public: the page must load to show its
		// sign-in form; the data it then fetches needs a token like any client.
		{method: "GET", path: "/map", public: true, handler: s.mapPage, produces: "text/html"},
		{method: "GET", path: "/map/assets/:version/:file", public: true, handler: s.mapAsset, produces: negotiated},
		{method: "GET", path: "/collections", role: analyst, handler: s.collections, produces: negotiated},
	}
	rs = append(rs, s.collectionRoutes(s.incidentCol, officer)...)
	rs = append(rs, s.collectionRoutes(s.facilityCol, admin)...)
	rs = append(rs,
		route{method: "GET", path: "/collections/facilities/items/:featureId/postures", role: analyst, handler: s.listPostures},
		route{method: "GET", path: "/collections/facilities/items/:featureId/threat", role: analyst, handler: s.facilityThreat},
		route{method: "POST", path: "/collections/facilities/items/:featureId/postures", role: officer, handler: s.recordPosture},

		route{method: "GET", path: "/stats/incidents", role: analyst, handler: s.incidentStats},
		route{method: "GET", path: exportPath, role: analyst, handler: s.exportIncidents, produces: negotiated},
		route{method: "GET", path: tilePath, role: analyst, handler: s.tile, produces: mvtContentType},
		route{method: "GET", path: tileJSONPath, role: analyst, handler: s.tileJSON},
		route{method: "GET", path: "/alerts", role: analyst, handler: s.listAlerts},
		route{method: "GET", path: alertStreamPath, role: analyst, handler: s.alertStream, produces: "text/event-stream"},
		route{method: "GET", path: "/webhooks", role: admin, handler: s.listWebhooks},
		route{method: "POST", path: "/webhooks", role: admin, handler: s.createWebhook},
		route{method: "GET", path: "/webhooks/:webhookId", role: admin, handler: s.getWebhook},
		route{method: "DELETE", path: "/webhooks/:webhookId", role: admin, handler: s.deleteWebhook},
		route{method: "GET", path: "/webhooks/:webhookId/deliveries", role: admin, handler: s.listDeliveries},

		route{method: "GET", path: "/actors", role: analyst, handler: s.listActors},
		route{method: "POST", path: "/actors", role: officer, handler: s.createActor},
		route{method: "GET", path: "/actors/:actorId", role: analyst, handler: s.getActor},
		route{method: "PUT", path: "/actors/:actorId", role: officer, handler: s.replaceActor},
		route{method: "PATCH", path: "/actors/:actorId", role: officer, handler: s.patchActor},
		route{method: "DELETE", path: "/actors/:actorId", role: admin, handler: s.deleteActor},
		route{method: "GET", path: "/actors/:actorId/history", role: analyst, handler: s.actorHistory},
		route{method: "GET", path: "/actors/:actorId/relations", role: analyst, handler: s.listRelations},
		route{method: "GET", path: "/actors/:actorId/relations/history", role: analyst, handler: s.relationHistory},
		route{method: "POST", path: "/actors/:actorId/relations", role: officer, handler: s.createRelation},
		route{method: "DELETE", path: "/actors/:actorId/relations", role: admin, handler: s.deleteRelations},
		route{method: "DELETE", path: "/actors/:actorId/relations/:relationId", role: admin, handler: s.deleteRelation},

		route{method: "GET", path: "/tokens", role: admin, handler: s.listTokens},
		route{method: "POST", path: "/tokens", role: admin, handler: s.createToken},
		route{method: "GET", path: "/tokens/:tokenId/history", role: admin, handler: s.tokenHistory},
		route{method: "DELETE", path: "/tokens/:tokenId", role: admin, handler: s.revokeToken},
	)
	return rs
}

// collectionRoutes are the OGC items routes of one collection. writer is
// the role that may create and change its features; deleting needs admin.
func (s *Server) collectionRoutes(col *collection, writer domain.Role) []route {
	base := "/collections/" + col.id
	items := base + "/items"
	item := items + "/:featureId"
	return []route{
		{method: "GET", path: base, role: domain.RoleAnalyst, handler: col.describeCollection, produces: negotiated},
		{method: "GET", path: base + "/queryables", role: domain.RoleAnalyst, handler: col.queryablesDoc, produces: "application/schema+json"},
		{method: "GET", path: items, role: domain.RoleAnalyst, handler: col.listItems, produces: negotiated},
		{method: "POST", path: items, role: writer, handler: col.createItem},
		{method: "OPTIONS", path: items, role: domain.RoleAnalyst, handler: s.allow},
		{method: "GET", path: item, role: domain.RoleAnalyst, handler: col.getItem, produces: negotiated},
		{method: "PUT", path: item, role: writer, handler: col.replaceItem},
		{method: "PATCH", path: item, role: writer, handler: col.patchItem},
		{method: "DELETE", path: item, role: domain.RoleAdmin, handler: col.removeItem},
		{method: "OPTIONS", path: item, role: domain.RoleAnalyst, handler: col.allowItem},
		{method: "GET", path: item + "/history", role: domain.RoleAnalyst, handler: col.itemHistory},
	}
}

// allow answers OPTIONS with the methods the caller's role may use on the
// route's path, which is how QGIS learns whether a layer is editable.
func (s *Server) allow(c *gin.Context) {
	role := callerRole(c)
	var methods []string
	for _, r := range s.routes {
		if r.path == c.FullPath() && (r.public || role.Allows(r.role)) {
			methods = append(methods, r.method)
		}
	}
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead)
	}
	c.Header("Allow", strings.Join(methods, ", "))
	c.Status(http.StatusNoContent)
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Error("readiness check failed", "err", err)
		c.Header("Content-Type", problemContentType)
		c.JSON(http.StatusServiceUnavailable, problem{Type: "https://postwatch.dev/problems/unavailable",
			Title: "Service Unavailable", Status: http.StatusServiceUnavailable, Detail: "the database does not answer"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// securityHeaders hardens every response, HTML pages in particular.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// The HTML pages take their style sheet from the map's assets and run
	// no script; /map and the pages with a map (items, one item) set the
	// map's policy instead (mapCSP).
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; frame-ancestors 'none'")
	c.Next()
}

// RouteInfo describes a registered route, for tests and documentation.
type RouteInfo struct {
	Method      string
	Path        string // gin syntax
	OpenAPIPath string
	Role        domain.Role
	Public      bool
}

// Routes lists every registered route with the role it needs.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{Method: r.method, Path: r.path, OpenAPIPath: openAPIPath(r.path), Role: r.role, Public: r.public}
	}
	return out
}
