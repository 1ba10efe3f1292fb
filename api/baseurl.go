package api

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

const ctxBaseURL = "pw.base_url"

// ParseBaseURL checks serve --base-url: an absolute http or https URL,
// path prefix allowed, without query or fragment. It returns the URL
// without a trailing slash, ready to prefix a path.
func ParseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL without query or fragment, such as https://ops.example.org/postwatch", raw)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// proxySet is the set of peers whose forwarding headers are believed.
type proxySet []netip.Prefix

// parseProxies reads the addresses and CIDRs of Options.TrustedProxies,
// in the forms gin's SetTrustedProxies takes.
func parseProxies(list []string) (proxySet, error) {
	var out proxySet
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (ps proxySet) trusts(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// withBaseURL fixes, once per request, the base every link is built on
// (see baseURL): --base-url when set; else the request's own scheme and
// host, replaced by what a trusted proxy forwarded — Forwarded (RFC 7239)
// proto= and host=, or X-Forwarded-Proto, X-Forwarded-Host and
// X-Forwarded-Prefix. From any other peer those headers are ignored, so a
// client cannot make the server write links to a host of its choosing.
func (s *Server) withBaseURL(c *gin.Context) {
	if s.baseURL != "" {
		c.Set(ctxBaseURL, s.baseURL)
		c.Next()
		return
	}
	r := c.Request
	scheme, host, prefix := "http", r.Host, ""
	if r.TLS != nil {
		scheme = "https"
	}
	if s.proxies.trusts(r.RemoteAddr) {
		fp, fh := forwarded(r.Header.Get("Forwarded"))
		if fp == "" {
			fp = firstOf(r.Header.Get("X-Forwarded-Proto"))
		}
		if fh == "" {
			fh = firstOf(r.Header.Get("X-Forwarded-Host"))
		}
		if fp = strings.ToLower(fp); fp == "http" || fp == "https" {
			scheme = fp
		}
		if validHost(fh) {
			host = fh
		}
		prefix = cleanPrefix(firstOf(r.Header.Get("X-Forwarded-Prefix")))
	}
	c.Set(ctxBaseURL, scheme+"://"+host+prefix)
	c.Next()
}

// baseURL is the base of every link the server writes: scheme, host and
// path prefix, without a trailing slash.
func baseURL(c *gin.Context) string {
	if b := c.GetString(ctxBaseURL); b != "" {
		return b
	}
	return "http://" + c.Request.Host
}

// forwarded reads proto= and host= from the first element of a Forwarded
// header (RFC 7239 §4), the one the proxy nearest the client wrote.
func forwarded(h string) (proto, host string) {
	first, _, _ := strings.Cut(h, ",")
	for _, pair := range strings.Split(first, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch strings.ToLower(k) {
		case "proto":
			proto = v
		case "host":
			host = v
		}
	}
	return proto, host
}

func firstOf(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}

// validHost accepts host[:port] as a URL authority may hold it, nothing
// that could change the link's meaning (no "/", "@", "?", "#", spaces).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == ""
}

// cleanPrefix returns an X-Forwarded-Prefix as a path that starts with "/"
// and does not end with one ("" for none or for anything that is not a
// plain path).
func cleanPrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(p, "..") {
		return ""
	}
	return u.EscapedPath()
}
