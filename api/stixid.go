package api

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
)

// stixIDs mints STIX 2.1 identifiers as name-based UUIDs (RFC 9562 version
// 5) in the database's own namespace (domain.Database.InstanceID): one
// record keeps its id across requests, and two databases never mint one id
// for different records.
type stixIDs struct{ ns [16]byte }

// stixIDsOf reads the database's namespace.
func (s *Server) stixIDsOf(ctx context.Context) (stixIDs, error) {
	raw, err := s.db.InstanceID(ctx)
	if err != nil {
		return stixIDs{}, err
	}
	b, err := hex.DecodeString(strings.ReplaceAll(raw, "-", ""))
	if err != nil || len(b) != 16 {
		return stixIDs{}, fmt.Errorf("database instance id %q is not a UUID", raw)
	}
	var ids stixIDs
	copy(ids.ns[:], b)
	return ids, nil
}

// id is the STIX id of type typ for the record called name, such as
// id("incident", "incident:15").
func (ids stixIDs) id(typ, name string) string {
	h := sha1.New()
	h.Write(ids.ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return typ + "--" + formatUUID(u)
}

// randomBundleID is a bundle's id: a bundle is a message, not a record, so
// each gets a random UUID (version 4), as STIX 2.1 §8 suggests.
func randomBundleID() string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return "bundle--" + formatUUID(u)
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
