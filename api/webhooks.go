package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// webhookOut is a subscription as the API shows it; the secret appears
// only in the answer to its creation.
type webhookOut struct {
	ID          int64      `json:"id"`
	URL         string     `json:"url"`
	Facility    []int64    `json:"facility"`
	SeverityMin *int       `json:"severity_min"`
	Active      bool       `json:"active"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	DisabledAt  *time.Time `json:"disabled_at"`
	Secret      string     `json:"secret,omitempty"`
}

// newWebhookOut shows w; secret is set only in the answer to its creation,
// the one place that also shows a password in the URL (receivers behind
// basic authentication take one). Everywhere else the password reads
// "xxxxx", as url.URL.Redacted writes it: it is as secret as the secret.
func newWebhookOut(w *domain.Webhook, secret string) webhookOut {
	shown := w.URL
	if u, err := url.Parse(w.URL); secret == "" && err == nil {
		shown = u.Redacted()
	}
	out := webhookOut{ID: w.ID, URL: shown, Facility: w.Facilities, Active: w.Active, CreatedAt: w.CreatedAt,
		CreatedBy: w.CreatedBy, DisabledAt: w.DisabledAt, Secret: secret}
	if w.SeverityMin > 0 {
		out.SeverityMin = &w.SeverityMin
	}
	return out
}

type webhookIn struct {
	URL         string  `json:"url"`
	Facility    []int64 `json:"facility"`
	SeverityMin *int    `json:"severity_min"`
}

// createWebhook answers POST /webhooks: 201 with the subscription and its
// secret, shown only here.
func (s *Server) createWebhook(c *gin.Context) {
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var in webhookIn
	if err := decodeStrict(body, &in, ""); err != nil {
		s.writeError(c, err)
		return
	}
	w := &domain.Webhook{URL: in.URL, Facilities: in.Facility}
	if in.SeverityMin != nil {
		if *in.SeverityMin < 1 {
			s.writeError(c, domain.InvalidField("severity_min", "%d is outside 1..%d", *in.SeverityMin, domain.MaxSeverity))
			return
		}
		w.SeverityMin = *in.SeverityMin
	}
	if err := w.Validate(); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.checkWebhookTarget(c.Request.Context(), w.URL); err != nil {
		s.writeError(c, err)
		return
	}
	secret, err := s.webhooks.CreateWebhook(c.Request.Context(), w)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", linkTo(c, "/webhooks/"+strconv.FormatInt(w.ID, 10)))
	c.Header("Cache-Control", "no-store") // the secret must not linger in a cache
	c.JSON(http.StatusCreated, newWebhookOut(w, secret))
}

// checkWebhookTarget enforces serve --webhook-allow at creation: every
// address the URL's host stands for must lie in an allowed network. The
// delivery workers check the address they actually dial again, so a name
// that later resolves elsewhere (DNS rebinding) gains nothing.
func (s *Server) checkWebhookTarget(ctx context.Context, raw string) error {
	if len(s.webhookAllow) == 0 {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return domain.InvalidField("url", "is not a URL")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return domain.InvalidField("url", "host %q does not resolve, so it cannot be checked against --webhook-allow", host)
		}
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !slices.ContainsFunc(s.webhookAllow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return domain.InvalidField("url", "address %s of %q is outside the networks --webhook-allow permits", a, host)
		}
	}
	return nil
}

func (s *Server) listWebhooks(c *gin.Context) {
	ws, err := s.webhooks.FindWebhooks(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]webhookOut, len(ws))
	for i := range ws {
		out[i] = newWebhookOut(&ws[i], "")
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": out})
}

// webhookID reads the :webhookId path parameter; a malformed one is a 404,
// as no such subscription exists.
func (s *Server) webhookID(c *gin.Context) (int64, bool) {
	id, ok := parseID(c.Param("webhookId"))
	if !ok {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no webhook %q", c.Param("webhookId")))
		return 0, false
	}
	return id, true
}

func (s *Server) getWebhook(c *gin.Context) {
	id, ok := s.webhookID(c)
	if !ok {
		return
	}
	w, err := s.webhooks.FindWebhookByID(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newWebhookOut(w, ""))
}

func (s *Server) deleteWebhook(c *gin.Context) {
	id, ok := s.webhookID(c)
	if !ok {
		return
	}
	if err := s.webhooks.DeleteWebhook(c.Request.Context(), id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listDeliveries answers GET /webhooks/{id}/deliveries: the latest
// attempts, newest first (limit=, default 100, at most 1000).
func (s *Server) listDeliveries(c *gin.Context) {
	id, ok := s.webhookID(c)
	if !ok {
		return
	}
	limit, err := alertLimit(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ds, err := s.webhooks.FindDeliveries(c.Request.Context(), id, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": ds})
}
