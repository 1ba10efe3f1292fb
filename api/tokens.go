package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

type tokenIn struct {
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	ExpiresAt *string `json:"expires_at"`
}

func (s *Server) listTokens(c *gin.Context) {
	ts, err := s.tokens.FindTokens(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tokens": ts})
}

// createToken issues a token; its secret appears in this response only.
func (s *Server) createToken(c *gin.Context) {
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var in tokenIn
	if err := decodeStrict(body, &in, ""); err != nil {
		s.writeError(c, err)
		return
	}
	t := &domain.Token{Name: in.Name, Role: domain.Role(in.Role)}
	if in.ExpiresAt != nil {
		exp, err := parseTime("expires_at", *in.ExpiresAt)
		if err != nil {
			s.writeError(c, err)
			return
		}
		t.ExpiresAt = &exp
	}
	secret, err := s.tokens.CreateToken(c.Request.Context(), t)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", baseURL(c)+"/tokens/"+strconv.FormatInt(t.ID, 10))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"token": secret, "id": t.ID, "name": t.Name, "role": t.Role,
		"created_at": t.CreatedAt, "expires_at": t.ExpiresAt, "revoked_at": nil})
}

func (s *Server) revokeToken(c *gin.Context) {
	id, ok := parseID(c.Param("tokenId"))
	if !ok {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no token %q", c.Param("tokenId")))
		return
	}
	if err := s.tokens.RevokeToken(c.Request.Context(), id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// tokenHistory answers who created and who revoked a token, and when.
func (s *Server) tokenHistory(c *gin.Context) {
	id, ok := parseID(c.Param("tokenId"))
	if !ok {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no token %q", c.Param("tokenId")))
		return
	}
	vs, err := s.tokens.TokenHistory(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeVersions(c, "token", vs)
}
